"""Image work in bounded memory: the decode budget, memory given back, same derivatives."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile

from monitor_api.photos import memory, processing
from monitor_api.photos.memory import DecodeBudget
from monitor_api.photos.processing import inspect

MiB = 1024 * 1024


def _png(path: Path, size: tuple[int, int], mode: str = "RGB") -> Path:
    """A photo-like PNG (gradients, so it compresses and decodes fast)."""
    grad = Image.linear_gradient("L").resize(size)
    bands = {"RGB": (grad, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grad),
             "RGBA": (grad, grad, grad.transpose(Image.Transpose.FLIP_TOP_BOTTOM), grad)}
    img = Image.merge(mode, bands[mode]) if mode in bands else grad.convert(mode)
    img.save(path, "PNG", compress_level=1)
    return path


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> DecodeBudget:
    """A fresh budget that fits one 12 MP image at a time."""
    fresh = DecodeBudget(100 * MiB)
    monkeypatch.setattr(processing, "BUDGET", fresh)
    return fresh


def test_concurrent_big_decodes_take_turns_within_the_budget(
        tmp_path: Path, budget: DecodeBudget, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _png(tmp_path / "p.png", (4000, 3000))  # 12 MP: 48 MiB decoded + working set
    used_while_decoding: list[int] = []
    real_load = ImageFile.ImageFile.load

    def load(self: Any) -> Any:
        if self.tile:  # pixels are about to be decoded
            used_while_decoding.append(budget.used)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(inspect(str(path))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.ok for r in results] == [True, True, True]
    cost = 4000 * 3000 * 4 + processing.RENDER_WORK
    assert budget.peak == cost  # never two of them at once
    assert used_while_decoding and all(used == cost for used in used_while_decoding)
    assert budget.used == 0


def test_budget_serves_in_arrival_order() -> None:
    budget = DecodeBudget(10)
    order: list[str] = []
    first = budget.hold(6)
    first.__enter__()

    def take(name: str, nbytes: int) -> None:
        with budget.hold(nbytes):
            order.append(name)

    big = threading.Thread(target=take, args=("big", 8))
    big.start()
    time.sleep(0.2)  # "big" waits for the 6 to be returned
    small = threading.Thread(target=take, args=("small", 1))  # fits, but came later
    small.start()
    time.sleep(0.2)
    assert order == []
    first.__exit__(None, None, None)
    big.join(5)
    small.join(5)
    assert order == ["big", "small"]
    with budget.hold(50):  # more than the whole budget: runs alone
        assert budget.used == 10


def test_big_decode_gives_memory_back(tmp_path: Path, budget: DecodeBudget,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "release_memory", lambda: trims.append(1))
    assert inspect(str(_png(tmp_path / "small.png", (400, 300)))).ok
    assert trims == []
    assert inspect(str(_png(tmp_path / "big.png", (4000, 3000)))).ok
    assert trims == [1]
    assert memory.tune_allocator()  # glibc: mmap threshold, arena count and trimming set


@pytest.mark.parametrize(("size", "mode"), [
    ((6200, 4100), "RGBA"),  # shrunk by 2 in bands, alpha flattened on white first
    ((6200, 4100), "RGB"),
    ((3500, 2400), "P"),  # palette: flattened in bands, no shrink
    ((3500, 2400), "LA"),
    ((6200, 4100), "I;16"),  # 16-bit grey
])
def test_derivatives_of_big_images_match_a_full_size_resize(tmp_path: Path, size: Any,
                                                            mode: str) -> None:
    path = _png(tmp_path / "p.png", size, mode)
    result = inspect(str(path))
    assert result.ok and (result.width, result.height) == size
    with Image.open(path) as im:
        im.load()
        expected = processing.make_renditions(processing._flatten(im))
    for kind in ("display", "thumbnail"):
        got = Image.open(io.BytesIO(result.renditions[kind].data))
        want = Image.open(io.BytesIO(expected[kind].data))
        assert got.size == want.size and got.mode == want.mode == "RGB"
        assert not got.info.get("exif") and not got.getexif()
        diff = sum(abs(a - b) for a, b in zip(got.tobytes(), want.tobytes(), strict=True))
        assert diff / len(want.tobytes()) < 2.0  # the same picture, give or take rounding

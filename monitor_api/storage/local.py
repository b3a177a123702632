"""Blob store in a local directory (the embedded default when no bucket is configured)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from monitor_api.storage.base import (
    READ_CHUNK,
    BodyEnded,
    StagedItem,
    StagingInterrupted,
    StagingState,
    TrackMultipart,
)


class LocalBlobStore:
    """Objects as files under `root`; staging files are appended to and truncated on retry."""

    kind = "local"

    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"key escapes the blob directory: {key!r}")
        return path

    def check(self) -> None:
        probe = self.root / ".probe"
        probe.write_bytes(b"ok")
        probe.unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with open(self._path(key), "rb") as fh:
            fh.seek(start)
            return fh.read(length)

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        with open(self._path(key), "rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                yield chunk

    def download_to(self, key: str, fileobj: BinaryIO) -> None:
        with open(self._path(key), "rb") as fh:
            shutil.copyfileobj(fh, fileobj, READ_CHUNK)

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None,
                  sha256: str | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def promote(self, src: str, dst: str, *, lock_until: datetime | None = None) -> bool:
        target = self._path(dst)
        if target.exists():
            self.delete(src)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(src), target)
        if lock_until is not None:
            target.chmod(0o444)  # the local store's modest version of write-once
        return True

    def copy_once(self, src: str, dst: str, *, lock_until: datetime | None = None) -> bool:
        target = self._path(dst)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        try:  # a second name for the staged file (same volume), else a copy of its bytes
            os.link(self._path(src), tmp)
        except OSError:
            shutil.copyfile(self._path(src), tmp)
        os.replace(tmp, target)
        if lock_until is not None:
            target.chmod(0o444)
        return True

    def write_once(self, key: str, data: bytes, *, lock_until: datetime | None = None) -> bool:
        if self.exists(key):
            return False
        self.put_bytes(key, data)
        if lock_until is not None:
            self._path(key).chmod(0o444)
        return True

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file():
            path.unlink(missing_ok=True)

    def presigned_get(self, key: str, *, seconds: int, filename: str,
                      content_type: str) -> str | None:
        return None

    def _staging(self, upload_id: str) -> Path:
        return self._path(f"staging/{upload_id}/data")

    def stage_append(self, upload_id: str, state: StagingState,
                     chunks: Iterable[bytes], *, final_size: int,
                     track: TrackMultipart | None = None) -> StagingState:
        path = self._staging(upload_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with open(path, "ab") as fh:
            fh.truncate(state.size)  # drop bytes of an attempt that was never acknowledged
            fh.seek(state.size)
            try:
                for chunk in chunks:
                    fh.write(chunk)
                    written += len(chunk)
            except BodyEnded:
                fh.flush()
                os.fsync(fh.fileno())
                raise StagingInterrupted(StagingState(size=state.size + written)) from None
            fh.flush()
            os.fsync(fh.fileno())
        return StagingState(size=state.size + written)

    def stage_rollback(self, upload_id: str, kept: StagingState,
                       attempt: StagingState) -> None:
        path = self._staging(upload_id)
        if path.is_file() and path.stat().st_size > kept.size:
            with open(path, "r+b") as fh:
                fh.truncate(kept.size)

    def stage_whole(self, upload_id: str, data: bytes, *, sha256: str) -> str:
        path = self._staging(upload_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # durable before the row that points at it commits
        return f"staging/{upload_id}/data"

    def stage_finish(self, upload_id: str, state: StagingState) -> str:
        path = self._staging(upload_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        with open(path, "ab") as fh:
            fh.truncate(state.size)
        return f"staging/{upload_id}/data"

    def stage_abort(self, upload_id: str, state: StagingState) -> None:
        self.delete_prefix(f"staging/{upload_id}")

    def list_staged(self, older_than: datetime) -> Iterator[StagedItem]:
        staging = self.root / "staging"
        if not staging.is_dir():
            return
        for entry in staging.iterdir():
            try:
                paths = [entry, *entry.rglob("*")] if entry.is_dir() else [entry]
                newest = max(p.stat().st_mtime for p in paths)
            except OSError:  # removed meanwhile
                continue
            modified = datetime.fromtimestamp(newest, UTC)
            if modified < older_than:
                yield StagedItem(entry.name, f"staging/{entry.name}", modified)

    def list_keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                yield path.relative_to(self.root).as_posix(), path.stat().st_size

    def discard_staged(self, item: StagedItem) -> None:
        self.delete_prefix(item.key)

"""A gunicorn worker freezes the loaded app's objects out of the garbage collector's scans."""

from __future__ import annotations

import gc
import importlib


def test_post_worker_init_freezes_the_loaded_objects() -> None:
    conf = importlib.import_module("monitor_api.gunicorn_conf")
    try:
        conf.post_worker_init(object())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

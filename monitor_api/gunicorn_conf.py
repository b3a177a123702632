"""gunicorn settings, from the environment, for one of the two pools behind nginx.

MONITOR_POOL=api (default) serves everything but uploads; MONITOR_POOL=uploads serves the tus
endpoints, whose bodies stream in as slowly as a phone sends them (README "Serving").
"""

import os

POOL = os.environ.get("MONITOR_POOL", "api")
if POOL not in ("api", "uploads"):
    raise SystemExit(f"MONITOR_POOL must be api or uploads, got {POOL!r}")

# GUNICORN_BIND: where nginx reaches this pool (make run: a unix socket); HOST:PORT otherwise.
bind = os.environ.get("GUNICORN_BIND") or (
    f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
if POOL == "uploads":
    # An upload holds a thread and two database connections while its body streams: six
    # threads stay inside SQLAlchemy's default pool of 5 + 10 connections per process.
    workers = int(os.environ.get("UPLOAD_WORKERS", "1"))
    threads = int(os.environ.get("UPLOAD_THREADS", "6"))
else:
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    threads = int(os.environ.get("GUNICORN_THREADS", "4"))
if os.environ.get("GUNICORN_CONTROL_SOCKET"):  # make run: one per pool, beside its socket
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
worker_class = "gthread"
proc_name = f"monitor-api-{POOL}"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_field_size = 16384


def child_exit(server: object, worker: object) -> None:
    """A worker process ended: its live gauges leave the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def post_worker_init(worker: object) -> None:
    """The app is loaded: move its objects (modules, SQLAlchemy metadata, compiled caches) out
    of the garbage collector's reach. A full collection otherwise walks them all; while a sync
    page allocates its rows, that happened every few pages at ~100 ms each."""
    import gc

    from monitor_api import warmup
    from monitor_api.photos.memory import tune_for_request_bodies

    warmup.configure()  # the mappers' objects are frozen with the rest
    gc.freeze()
    # Buffers of a few MiB (an uploaded photo's body) reuse the allocator's memory instead of
    # fresh pages for every request (photos/memory.py).
    tune_for_request_bodies()
    # Connect, compile the token lookups and reach the blob store before the first request
    # needs them (warmup.py); in the background, so a slow database never delays serving.
    warmup.start(getattr(worker, "wsgi", None))

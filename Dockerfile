# The production image: the runtime lock only (hash-checked), the project as a wheel, a
# non-root user, a healthcheck. One image, four roles (deploy/docker-entrypoint.sh): `api`
# (migrate, seed demo data only with DEMO=1, serve), `uploads` (the tus pool), `worker` (the
# job queue) and any `monitor-api` command (backup, restore, create-user, …).

# --- build: a virtual environment with the locked runtime set and the project's wheel ---
FROM python:3.11.10-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements/runtime.lock requirements/runtime.lock
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY monitor_api monitor_api
COPY schemas schemas
COPY sync sync
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps /wheels/*.whl

# --- runtime: no compiler, no tests, no development packages ---
FROM python:3.11.10-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MALLOC_ARENA_MAX=2 \
    PATH=/opt/venv/bin:$PATH HOST=0.0.0.0 PORT=8000 MONITOR_STATE_DIR=/app/var \
    PROMETHEUS_MULTIPROC_DIR=/tmp/monitor-metrics
# pg_dump/pg_restore of the server's major version, for `monitor-api backup` and `restore`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin monitor \
    && mkdir -p /app/var && chown monitor /app/var
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Alembic's scripts and the vendored procrastinate schema (read by `monitor-api migrate`).
COPY alembic.ini ./
COPY migrations migrations
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER monitor
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import os,sys,urllib.request; sys.exit(os.environ.get('ROLE','api') != 'worker' and urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["api"]

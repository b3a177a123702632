# The API image: the pinned dependency set, the project, gunicorn.
FROM python:3.11.10-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MALLOC_ARENA_MAX=2
WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY . .
RUN pip install --no-deps -e . && useradd --system --uid 10001 monitor && mkdir -p /app/var \
    && chown monitor /app/var
USER monitor
ENV HOST=0.0.0.0 PORT=8000 MONITOR_STATE_DIR=/app/var
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["sh", "-c", "monitor-api migrate && monitor-api seed-demo --if-empty && exec gunicorn -c python:monitor_api.gunicorn_conf 'monitor_api.app:create_app()'"]

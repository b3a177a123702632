#!/usr/bin/env bash
# `make bench`: the sync and upload benchmarks, each against a fresh database of the
# project-local PostGIS, each printing its figure next to a baseline from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python bench/sync_bench.py
BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python bench/upload_bench.py
BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python bench/export_bench.py

#!/usr/bin/env bash
# `make bench`: the sync, push, facilities-near, upload, condition-history and web-page
# benchmarks, each against a fresh database of the project-local PostGIS, each printing its
# figure next to a baseline measured in the same run. The last line is every figure as one
# JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python bench/sync_bench.py | tee "$out/sync"
DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_push) .venv/bin/python bench/push_bench.py | tee "$out/push"
BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_fac) .venv/bin/python bench/facilities_bench.py | tee "$out/facilities"
BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python bench/upload_bench.py | tee "$out/upload"
DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_hist) .venv/bin/python bench/history_bench.py | tee "$out/histories"
BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python bench/export_bench.py | tee "$out/exports"
BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_web) .venv/bin/python bench/web_bench.py | tee "$out/web"
# Each benchmark ends with its figures as JSON (sync_bench's is indented): gather them.
.venv/bin/python - "$out" <<'EOF'
import json
import pathlib
import sys


def figures(text: str) -> object:
    lines = text.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                return json.loads("\n".join(lines[start:]))
            except ValueError:
                continue
    raise SystemExit(f"no JSON figures at the end of:\n{text[-500:]}")


folder = pathlib.Path(sys.argv[1])
print(json.dumps({name: figures((folder / name).read_text())
                  for name in ("sync", "push", "facilities", "upload", "histories", "exports",
                               "web")}))
EOF

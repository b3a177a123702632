# The README's two commands: `make run` and `make test`.
.PHONY: run test lint bench lock clean-db

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

lint:
	@bash scripts/bootstrap.sh && .venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	@bash scripts/bench.sh

lock:
	@bash scripts/lock.sh

clean-db:
	@bash scripts/pg.sh stop

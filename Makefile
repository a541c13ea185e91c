# Conveniences; the scripts are the source of truth (they work where make is absent).
.PHONY: run test lint bench
run:
	scripts/run
test:
	scripts/test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:
	.venv/bin/python bench/start_session.py

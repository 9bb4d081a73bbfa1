# The two commands of the README: `make demo` (the main job end to end) and `make test`.
.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/remotefix demo

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test: setup lint
	.venv/bin/pytest

# The two commands of the README: `make demo` (the main job end to end) and `make test`.
.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/remotefix demo

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# Two workers, a test file per worker at a time (module fixtures stay whole); every container a
# worker makes carries its own run label, the controller checks for leaks once at the end.
test: setup lint
	.venv/bin/pytest -n 2 --dist loadfile --durations=25

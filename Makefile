# Every target installs what it needs first, from the committed lock (constraints.txt), so the
# README's two commands work on a fresh machine with nothing but Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint typecheck docs e2e reliability bench lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The main job: simulator (demo profile) -> sync -> warehouse -> review, then print where it all is.
demo: install
	$(BIN)/python scripts/first_run.py

## The whole test suite: lint, types, docs (warnings are errors), unit, integration and e2e.
test: install lint typecheck docs
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

docs: install
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

## End-to-end only: a real scheduler, DAG processor and API server run the asset flow.
e2e: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e

## The fault matrix; rewrites docs/reliability.md and fails if any row fails.
reliability: install
	$(BIN)/python scripts/fault_matrix.py

## Quick benchmarks (scaled setting); see benchmarks/*.py for the realistic setting and --results.
bench: install
	$(BIN)/python benchmarks/sync_benchmark.py --setting scaled --half-rate
	$(BIN)/python benchmarks/provisioning_benchmark.py --setting scaled

## Rebuild the lock from the current venv (after changing dependencies on purpose).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^airflow-provider-boomi' > constraints.txt

clean:
	rm -rf $(VENV) docs/_build out .pytest_cache .mypy_cache .ruff_cache

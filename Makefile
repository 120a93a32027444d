# Every target installs what it needs first, from the committed lock (constraints.txt), so the
# README's two commands work on a fresh machine with nothing but Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The other Pythons requires-python allows. `make test-versions` runs the unit tests on each, in a
# venv inside $(VENV), so that what skips the main venv (.gitignore, ruff, the wheel test's source
# copy, make clean) skips these too. The interpreter is pyenv's when pyenv has the version, else
# python3.X on PATH.
OTHER_PYTHONS ?= 3.12 3.13
# The lock (built on 3.11) installs on 3.12 and 3.13 as it is. Should a re-lock pick a pin with no
# wheel for one of them, constraints-3.X.txt (the lock with that pin moved) takes over for 3.X.
lock_for = $(firstword $(wildcard constraints-$(1).txt) constraints.txt)

.PHONY: install demo test test-fast test-versions lint typecheck docs e2e reliability bench lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The main job: simulator (demo profile) -> sync -> warehouse -> review, then print where it all is.
demo: install
	$(BIN)/python scripts/first_run.py

## The whole test suite: lint, types, docs (warnings are errors), unit tests on every other Python,
## then unit, integration and e2e on 3.11.
test: install lint typecheck docs test-versions
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

## The unit tests on each of OTHER_PYTHONS (3.11 runs them in `make test` and `make test-fast`).
test-versions: $(foreach version,$(OTHER_PYTHONS),$(VENV)/py$(version)/.installed)
	@status=0; for version in $(OTHER_PYTHONS); do \
		echo "unit tests on Python $$version"; \
		$(VENV)/py$$version/bin/python -m pytest -q -p no:cacheprovider tests/unit || status=1; \
	done; exit $$status

$(VENV)/py%/.installed: pyproject.toml constraints.txt $(wildcard constraints-3.*.txt)
	python="$$(pyenv prefix $* 2>/dev/null)/bin/python$*"; test -x "$$python" || python=python$*; \
		test -x $(VENV)/py$*/bin/python || "$$python" -m venv $(VENV)/py$*
	$(VENV)/py$*/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24,<27"
	$(VENV)/py$*/bin/python -m pip install -q --disable-pip-version-check -c $(call lock_for,$*) -e ".[dev]"
	touch $@

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

## The fault matrix (tests/integration/test_fault_matrix.py, also part of `make test`): runs every
## case and rewrites docs/reliability.md with what each saw; fails, writing nothing, if any row fails.
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

# Everything runs from a local virtualenv that `make` creates on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install test lint typecheck pytest chaos demo bench clean

help:
	@echo "make demo   run the whole story against the embedded emulator"
	@echo "make test   lint, type-check and run the test suite"
	@echo "make chaos  run the long fault, crash and concurrency campaigns"
	@echo "make bench  run the benchmarks in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# aepp (a third-party client the emulator is tested with) declares heavy plotting and
	# data-frame dependencies its API modules never import: install it alone.
	$(BIN)/python -m pip install --quiet --no-deps 'aepp>=0.6'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	# Fails on high-severity findings only; --strict-collection also fails on schema errors,
	# which checks the pre-commit hook definitions too.
	$(BIN)/zizmor -q --offline --min-severity high --strict-collection \
		.github/workflows .pre-commit-hooks.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	# One worker per core: the suite is mostly waiting on subprocesses, git and sockets.
	$(BIN)/pytest -n auto -m "not chaos" $(PYTEST_ARGS)

test: lint typecheck pytest

chaos: $(STAMP)
	$(BIN)/pytest -m chaos $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/reconciler demo

bench: $(STAMP)
	$(BIN)/python bench/validate_bench.py
	$(BIN)/python bench/apply_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist

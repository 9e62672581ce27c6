# Everything runs from a local virtualenv that `make` creates on first use, with exactly the
# versions in requirements.lock, each checked against its hash.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
RUNTIME_LOCK := requirements.runtime.lock
# One resolution, whoever runs it: every platform and Python the project supports, hashes for
# every file, and the header names `make lock`. The runtime lock (what the GitHub Action
# installs in a requests repository) is the runtime part of that same resolution: it is
# constrained to the versions of the full lock, never resolved on its own.
UV_PIP_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock"
define compile_locks
	$(UV_PIP_COMPILE) --extra dev -o $(LOCK) $(1)
	$(UV_PIP_COMPILE) --extra build --constraints $(LOCK) -o $(RUNTIME_LOCK)
endef

.PHONY: help install test lint typecheck pytest chaos demo bench lock lock-upgrade dist workflows schemas clean

help:
	@echo "make demo          run the whole story against the embedded emulator"
	@echo "make test          lint, type-check and run the test suite with coverage"
	@echo "make chaos         run the long fault, crash and concurrency campaigns"
	@echo "make bench         run the benchmarks in bench/"
	@echo "make lock          re-resolve $(LOCK) after a change to pyproject.toml's dependencies"
	@echo "make lock-upgrade  move every locked package to its newest allowed release"
	@echo "make dist          build the sdist and the wheel into dist/"

# --no-deps: the lock is the whole set, so pip resolves nothing and fetches nothing else.
# --no-build-isolation: the project is built with the locked hatchling, not a fresh download.
# A changed lock starts from an empty virtualenv, so nothing it no longer lists stays behind.
$(STAMP): $(LOCK) pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	# Fails on high-severity findings only; --strict-collection also fails on schema errors,
	# which checks the pre-commit hook definitions too.
	$(BIN)/zizmor -q --offline --min-severity high --strict-collection \
		.github/workflows action.yml .pre-commit-hooks.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	# One worker per core: the suite is mostly waiting on subprocesses, git and sockets.
	$(BIN)/pytest -n auto -m "not chaos" --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

test: lint typecheck pytest

chaos: $(STAMP)
	$(BIN)/pytest -m chaos $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/reconciler demo

bench: $(STAMP)
	$(BIN)/python bench/validate_bench.py
	$(BIN)/python bench/apply_bench.py
	$(BIN)/python bench/batch_bench.py

# Keeps every pin that still satisfies pyproject.toml; adds and removes what changed.
lock: $(STAMP)
	$(call compile_locks)

lock-upgrade: $(STAMP)
	$(call compile_locks,--upgrade)

# The sdist and the wheel of the version in reconciler/__init__.py, built by the locked
# hatchling itself: no build frontend, no isolated environment, nothing downloaded.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/hatchling build -t sdist -t wheel

# This repository's workflows are rendered from the templates `reconciler init` uses.
workflows: $(STAMP)
	$(BIN)/python -c 'from pathlib import Path; from reconciler.scaffold.workflows import own_workflows; \
		[Path(".github/workflows", n).write_text(t) for n, t in own_workflows().items()]'

# The regulation and product lists in schemas/privacy-job.schema.json, from reconciler/adobe/codes.py.
schemas: $(STAMP)
	$(BIN)/python -m reconciler.schema_enums

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage build dist

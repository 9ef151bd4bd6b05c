# newsdesk: `make run` ingests feeds.yaml into newsdesk.db; `make test` runs the suite.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint bench eval cog clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/newsdesk fetch --feeds feeds.yaml --db newsdesk.db; rc=$$?; \
	$(BIN)/newsdesk stats --db newsdesk.db --summary; exit $$rc

test: $(STAMP)
	$(BIN)/ruff check newsdesk tests benchmarks
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not corpus and not slow"

lint: $(STAMP)
	$(BIN)/ruff check newsdesk tests benchmarks

$(VENV)/.bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run_all.py

eval: $(STAMP)
	$(BIN)/python benchmarks/extraction_eval.py
	$(BIN)/python benchmarks/linking_eval.py

cog: $(STAMP)
	$(BIN)/cog -r README.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

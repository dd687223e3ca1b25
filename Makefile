# The two commands a user types: `make demo` and `make test`. Each sets up .venv as needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
DEMO_HOME ?= .wound-demo
DEMO_DATA ?= demo-data

.PHONY: venv test test-gpu lint demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: the CPU wheel on local disk (an unpinned torch pulls a CUDA build)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -q -m "not gpu"

test-gpu: venv
	$(VENV)/bin/pytest -q -m gpu

demo: venv
	rm -rf $(DEMO_HOME) $(DEMO_DATA)
	WOUND_HOME=$(DEMO_HOME) $(VENV)/bin/wound synth $(DEMO_DATA) --subjects 12 --captures 5 --seed 7
	WOUND_HOME=$(DEMO_HOME) $(VENV)/bin/wound store init
	WOUND_HOME=$(DEMO_HOME) $(VENV)/bin/wound ingest $(DEMO_DATA)
	WOUND_HOME=$(DEMO_HOME) $(VENV)/bin/wound list

bench: venv
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/time_to_result.py
	$(PY) benchmarks/batch_inference.py

clean:
	rm -rf $(DEMO_HOME) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache

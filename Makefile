# The two commands a user types: `make demo` and `make test`. Each sets up .venv as needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
DEMO_HOME ?= .wound-demo
DEMO_DATA ?= demo-data
# A fixed key for the synthetic demo only, so its subject pseudonyms and hence the subject split
# are the same on every run (real deployments keep WOUND_PSEUDONYM_KEY secret).
WOUND := WOUND_HOME=$(DEMO_HOME) WOUND_PSEUDONYM_KEY=demo-only-key $(VENV)/bin/wound

.PHONY: venv labelstudio browser test test-gpu lint demo demo-ulcer train-demo dashboard bench reliability clean

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

# Label Studio's own virtual environment (it pins Django and its own SDK; docs/labeling.md).
LS_VENV := .venv-ls
LS_STAMP := $(LS_VENV)/.installed-label-studio-1.23.2
$(LS_STAMP):
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q label-studio==1.23.2
	touch $@

labelstudio: $(LS_STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: lint browser labelstudio
	$(VENV)/bin/pytest -q -m "not gpu"

test-gpu: venv
	$(VENV)/bin/pytest -q -m gpu

# The main job on the embedded store: phantom cohort -> ingest -> train (from the store) ->
# evaluate against the spectral baseline -> predict and score every capture -> summary table.
demo: venv
	rm -rf $(DEMO_HOME) $(DEMO_DATA) runs/demo
	$(WOUND) synth $(DEMO_DATA) --subjects 48 --captures 2 --size 160 --seed 7
	$(WOUND) store init
	$(WOUND) ingest $(DEMO_DATA)
	$(WOUND) list --limit 10
	$(WOUND) train --config configs/burn-depth.yaml --source store --output-dir runs/demo
	$(WOUND) predict --all || [ $$? -eq 2 ]  # 2 = some captures refused by the quality gate (shown)
	$(WOUND) summary

# Ulcer healing from the first visit (docs/longitudinal.md), on its own embedded store: a diabetic
# foot ulcer series cohort (weekly visits, weeks 0-2) -> ingest -> train ulcer-healing (evaluated
# against the spectral oximetry index and the 2-week area trend: the three-way table) -> predict
# every capture -> the timeline of the first held-out subject.
DEMO_ULCER_HOME ?= .wound-demo-ulcer
DEMO_ULCER_RUN ?= runs/demo-ulcer
WOUND_ULCER := WOUND_HOME=$(DEMO_ULCER_HOME) WOUND_PSEUDONYM_KEY=demo-only-key $(VENV)/bin/wound
demo-ulcer: venv
	rm -rf $(DEMO_ULCER_HOME) $(DEMO_ULCER_RUN)
	$(WOUND_ULCER) synth $(DEMO_ULCER_RUN)/data --series dfu --subjects 200 --visits 3 \
		--interval-days 7 --size 96 --seed 11
	$(WOUND_ULCER) store init
	$(WOUND_ULCER) ingest $(DEMO_ULCER_RUN)/data > $(DEMO_ULCER_RUN)/ingest.log
	tail -n 1 $(DEMO_ULCER_RUN)/ingest.log
	set -o pipefail; $(WOUND_ULCER) train --config configs/ulcer-healing.yaml \
		--output-dir $(DEMO_ULCER_RUN)/model | tee $(DEMO_ULCER_RUN)/train.log
	# 2 = some captures refused by the quality gate (listed in predict.log)
	$(WOUND_ULCER) predict --all --task ulcer-healing > $(DEMO_ULCER_RUN)/predict.log \
		|| [ $$? -eq 2 ]
	tail -n 1 $(DEMO_ULCER_RUN)/predict.log
	@sed -n '/^Ulcer healing from the first visit/,/^An aid/p' $(DEMO_ULCER_RUN)/train.log
	$(WOUND_ULCER) timeline "$$($(PY) -c 'import json,sys; print(json.load(open(sys.argv[1]))["val_subjects"][0])' $(DEMO_ULCER_RUN)/model/split.json)"

# Train the default model only (the size of the demo's training step).
train-demo: venv
	$(WOUND) train --config configs/burn-depth.yaml --output-dir runs/train-demo

# The dashboard on the demo's embedded store (make demo first), http://127.0.0.1:8501 only.
dashboard: venv
	$(WOUND) dashboard

bench: venv
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/engines.py
	$(PY) benchmarks/time_to_result.py
	$(PY) benchmarks/batch_inference.py

# The reliability suite in full (docs/reliability.md; CI runs it bounded in tests/reliability):
# fuzzed input, SIGKILLed ingest/predict, 8 concurrent writers, 20% injected AWS faults, privacy,
# backup/restore drill, 10,000 records per backend. Prints the table; bench-out/reliability.json.
reliability: venv
	$(PY) -m reliability

clean:
	rm -rf $(DEMO_HOME) $(DEMO_DATA) runs .pytest_cache .mypy_cache .ruff_cache

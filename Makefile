# Two commands for a newcomer: `make demo` and `make test`. Each creates .venv when missing
# and installs exactly the pinned versions in constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test test-all bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.test: $(VENV)/.core
	$(PIP) -e '.[test]'
	@touch $@

demo: $(VENV)/.core  ## the main job on built-in data
	$(BIN)/initlab demo

test: $(VENV)/.test  ## the whole suite but the checks marked slow
	$(BIN)/python -m pytest -m "not slow" -q

test-all: $(VENV)/.test  ## every test, the slow ones too
	$(BIN)/python -m pytest -q

bench: $(VENV)/.test  ## speed, as ratios against the peers, measured in one run
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_scaling.py
	$(BIN)/python benchmarks/bench_sweep.py

lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks || true

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis

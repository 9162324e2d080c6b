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

# The dashboard's browser tests drive Debian's Chromium (never a downloaded one): installed here
# with apt-get when it is missing (as root, or through sudo).
/usr/bin/chromium:
	@echo "installing Debian's chromium for the dashboard's browser tests"
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	 else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi

# Tests run on 2 processes (pytest-xdist; CI has 2 cores): each test is independent of the order
# and of the other process (servers on free loopback ports, stores in tmp_path).
test: $(VENV)/.test /usr/bin/chromium  ## the whole suite but the checks marked slow
	$(BIN)/python -m pytest -m "not slow" -q -n 2

test-all: $(VENV)/.test /usr/bin/chromium  ## every test, the slow ones too
	$(BIN)/python -m pytest -q -n 2

bench: $(VENV)/.test  ## speed, as ratios against the peers, measured in one run
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_scaling.py
	$(BIN)/python benchmarks/bench_sweep.py

lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis

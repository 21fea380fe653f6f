# The two set-up commands: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the packaging changes.
$(VENV)/.installed: setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The tests need Ray too: the Ray executor is tested on a local 2-worker cluster.
$(VENV)/.installed-test: setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,ray]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

# Train (or reuse) the demo teacher, then compress it with the bundled demo config.
demo: $(VENV)/.installed
	@test -f runs/demo/teacher.keras || \
	  $(BIN)/n2n-tf train-teacher --config configs/demo.yaml --out runs/demo/teacher.keras
	rm -rf runs/demo/search
	$(BIN)/n2n-tf compress --teacher runs/demo/teacher.keras --config configs/demo.yaml \
	  --out runs/demo/search

lint: $(VENV)/.installed-test
	$(BIN)/ruff check n2n_tf cli tests benchmarks
	$(BIN)/ruff format --check n2n_tf cli tests benchmarks

# Two test processes: the suite is mostly single-threaded tracing, so two share two cores
# well (12 min -> 7 min on the 2-core CI machine); N2N_TEST_WORKERS=0 runs in one.
N2N_TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -q -n $(N2N_TEST_WORKERS)

clean:
	rm -rf $(VENV) runs .pytest_cache

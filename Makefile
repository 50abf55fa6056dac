# `make demo` and `make test` work on a machine that has nothing but Python:
# each creates .venv when missing and installs everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml plugins/automl-evolution/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: a range that admits a newer release pulls a CUDA build of several GB.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet -e plugins/automl-evolution
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/automl search search_spaces/mlp.py --data digits-flat --strategy random --trials 12 --epochs 15 --seed 0 --study runs/demo.db --fresh

test: $(STAMP)
	$(BIN)/ruff check automl tests benchmarks examples search_spaces plugins
	$(BIN)/python -m pytest -q -p no:cacheprovider tests plugins/automl-evolution/tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check automl tests benchmarks examples search_spaces plugins

clean:
	rm -rf $(VENV) runs .pytest_cache

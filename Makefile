# `make demo` and `make test` work on a machine that has nothing but Python:
# each creates .venv when missing and installs everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench bench-full clean
# Every benchmark, in one command; one that fails fails the command. Quick results go to
# benchmarks/results/quick (ignored by git), full ones replace benchmarks/results/*.json.
BENCHMARKS := cli_startup compile overhead strategies multi_fidelity darts_pt feature_ranking scaling

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

bench: $(STAMP)
	set -e; for benchmark in $(BENCHMARKS); do \
		AUTOML_BENCH_RESULTS=benchmarks/results/quick $(BIN)/python benchmarks/$$benchmark.py --quick; done

bench-full: $(STAMP)
	set -e; for benchmark in $(BENCHMARKS); do $(BIN)/python benchmarks/$$benchmark.py; done

clean:
	rm -rf $(VENV) runs .pytest_cache

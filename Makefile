# evallaunch — `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
SHARED    ?= $(abspath ../shared/datasets)
# Benchmark mirror used by `make evaluate`; filled from $(SHARED) when that exists.
DATA_DIR  ?= $(HOME)/.cache/evallaunch/datasets
# `make evaluate`: the experiment preset (empty: quickstart, or open_r1 when MODEL is set),
# open-r1's variables (scripts/open_r1_args.py maps them to overrides), then ARGS.
EXPERIMENT ?=
MODEL     ?=
TASK      ?=
PARALLEL  ?=
NUM_GPUS  ?=
ARGS      ?=
PYTEST_ARGS ?=
# pytest-xdist workers of `make test` and `make test-fast` (tests/conftest.py says which
# tests share one); 0 runs the suite in this process, one test after another.
TEST_WORKERS ?= 2
XDIST     := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)
# `make test` starts the local Slurm (root + apt-get) unless SLURM=0, and builds .venv-vllm
# (vLLM's CPU build here) for the vLLM tests unless VLLM=0.
SLURM     ?= auto
VLLM      ?= 1

.PHONY: help setup setup-vllm evaluate prepare test test-fast lint format bench gpu-check-wheels clean slurm-up slurm-down slurm-status

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $@

setup: $(VENV)/.installed ## create .venv with the pinned dependency set (idempotent)

setup-vllm: ## build vLLM in its own environment (.venv-vllm): CUDA build on GPUs, else the CPU build with the harnesses
	bash scripts/setup-vllm.sh

prepare: setup ## copy benchmark data into the local mirror (from ../shared/datasets when present)
	@if [ -d "$(SHARED)" ]; then $(VENV)/bin/evallaunch prepare --source "$(SHARED)" --data-dir "$(DATA_DIR)"; \
	else $(VENV)/bin/evallaunch prepare --data-dir "$(DATA_DIR)"; fi

evaluate: prepare ## run an evaluation; ARGS="model=... benchmark=..." and/or open-r1's MODEL=<hub id|path> TASK=aime24|aime25|math_500|gpqa:diamond|lcb PARALLEL=data|tensor NUM_GPUS=N (scripts/open_r1_args.py)
	EVALLAUNCH_DATA_DIR="$(DATA_DIR)" $(PY) scripts/open_r1_args.py --experiment "$(EXPERIMENT)" \
	  --model "$(MODEL)" --task "$(TASK)" --parallel "$(PARALLEL)" --num-gpus "$(NUM_GPUS)" \
	  --run $(VENV)/bin/evallaunch-evaluate -- $(ARGS)

test: setup ## run the whole test suite; starts the local Slurm (root + apt; SLURM=0: don't) and builds .venv-vllm (VLLM=0: don't)
	@SLURM="$(SLURM)" bash scripts/slurm/up-for-tests.sh
	@if [ "$(VLLM)" != 0 ]; then bash scripts/setup-vllm.sh || echo "make test: vLLM could not be set up; the vLLM tests will skip"; fi
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: setup ## run the tests that need no model, no vLLM and no Slurm (about 2 minutes)
	$(PY) -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

LINT_DIRS := evallaunch tests bench
# mypy runs three times: tests/ imports itself as the package `tests` (tests.conftest), bench/
# is the package `bench` (bench.common, bench.gpu.sim, ...; its scripts also run as files);
# tests/data holds benchmark reference solutions, not project code.

lint: setup ## ruff (check + format --check) and mypy over evallaunch/, tests/ and bench/
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)
	$(VENV)/bin/mypy evallaunch
	$(VENV)/bin/mypy --explicit-package-bases --exclude '^tests/data/' tests
	$(VENV)/bin/mypy bench

format: setup ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format $(LINT_DIRS)
	$(VENV)/bin/ruff check --fix $(LINT_DIRS)

bench: setup ## run bench/ (ratios against the raw tools; QUICK=1 for a smoke run)
	$(PY) bench/run_all.py $(if $(QUICK),--quick,)

gpu-check-wheels: setup ## stage wheels + data for bench/gpu/check.py on a GPU machine (.whl, .gpu-check)
	PY=$(PY) bash bench/gpu/check_wheels.sh

slurm-up: ## install and start a real single-node Slurm on this machine
	bash scripts/slurm/up.sh

slurm-down: ## stop the local Slurm
	bash scripts/slurm/down.sh

slurm-status: ## show whether the local Slurm daemons are up
	bash scripts/slurm/status.sh

clean: ## remove caches and outputs (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache multirun
	find outputs -mindepth 1 ! -name README.md -exec rm -rf {} +
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +

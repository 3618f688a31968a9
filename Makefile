# Two commands on a fresh clone: `make demo` and `make test`. Both create .venv and install on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Torch must be pinned in the same pip command as open_clip, or pip picks another torch.
# These builds lie on this machine kind's local disk; a cluster uses environment.yml instead.
ifeq ($(shell uname -m),aarch64)
TORCH_PINS ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
endif

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true
export TOKENIZERS_PARALLELISM ?= false

PYTEST_MARKERS ?= not gpu and not slow

.PHONY: install demo test test-gpu lint format bench-quick clean slurm-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PINS) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m culturalpangea_demo out_dir=outputs/demo

# The SLURM tests start a real one-node cluster (Debian's munge, slurmctld, slurmd) on loopback.
SLURM_PACKAGES := munge slurmctld slurmd slurm-client
slurm-deps:
	@if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends $(SLURM_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(SLURM_PACKAGES) >/dev/null; }; \
	else echo "note: the SLURM tests need $(SLURM_PACKAGES), installed as root; without them they are skipped"; fi

test: $(STAMP) slurm-deps
	$(PY) -m pytest tests -m "$(PYTEST_MARKERS)" -q

test-gpu: $(STAMP)
	$(PY) -m pytest tests -m gpu -q

# Benchmarks are measurements, not tests: CI runs them small, with no thresholds.
bench-quick: $(STAMP)
	$(PY) benchmarks/loader.py --quick
	$(PY) benchmarks/loader.py --quick --anyres --width 2048 --height 1536
	$(PY) benchmarks/train_step.py --quick
	$(PY) benchmarks/data_gen.py --quick
	$(PY) benchmarks/data_gen.py --sparql --quick
	$(PY) benchmarks/data_gen.py --images --quick
	$(PY) benchmarks/data_gen.py --qa --quick
	$(PY) benchmarks/data_gen.py --near-duplicates --quick
	$(PY) benchmarks/grouping.py --quick
	$(PY) benchmarks/refine_client.py --quick

# ruff, then the architecture: import-linter contracts in pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf outputs/demo .pytest_cache .ruff_cache

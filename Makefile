# One entry point for users and CI. Every target sets up .venv first (scripts/setup_env.sh).
#   make book                      build the book on the synthetic data (quick scale)
#   make book SCALE=smoke          the CI-sized run
#   make book SEEDS=12             more training seeds of IDE, ARN and APR (default 8): narrower intervals, longer build
#   make book ABLATION_SEEDS=8     more training seeds of APR's ablations, the sweeps' seeded points, Fig. 8 (default 3)
#   make book GALLERY_MULTIPLE=26.34   Fig. 8 up to the paper's 500k scale (26.34 times the test gallery)
#   make book DATASET=market1501 DATA_ROOT=/data SCALE=paper DEVICE=cuda
#   make test                      the test suite (what CI runs)
SHELL    := /bin/bash
PY       := .venv/bin/python
DATASET  ?= synthetic
SCALE    ?= quick
DEVICE   ?= auto
SEED     ?= 0
SEEDS    ?= 8
ABLATION_SEEDS ?=
DATA_ROOT ?=
GALLERY_MULTIPLE ?=
# Small torch ops on 2 cores: one thread per process is faster and bit-stable.
export OMP_NUM_THREADS ?= 1

.PHONY: env book test figures clean

env:
	@bash scripts/setup_env.sh

book: env
	$(PY) -m apr book --dataset $(DATASET) --scale $(SCALE) --device $(DEVICE) --seed $(SEED) --seeds $(SEEDS) \
	  $(if $(ABLATION_SEEDS),--ablation-seeds $(ABLATION_SEEDS)) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)") $(if $(GALLERY_MULTIPLE),--gallery-multiple $(GALLERY_MULTIPLE))

test: env
	$(PY) -m pytest

clean:
	rm -rf _build book/_generated

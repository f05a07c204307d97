# One entry point for users and CI. Every target sets up .venv first (scripts/setup_env.sh).
#   make book                      build the book on the synthetic data (quick scale)
#   make book SCALE=smoke          the CI-sized run
#   make book SEEDS=12             more training seeds of IDE, ARN and APR: narrower intervals, longer build
#   make book ABLATION_SEEDS=8     more training seeds of APR's ablations, the sweeps' seeded points, Fig. 8
#   make book READING=mean         Eq. 6's attribute term as printed in the book's APR (both are shown)
#   make book LEAVE_ONE_OUT=1      also Fig. 6's models, one per attribute left out (the quick scale skips them)
#   make book EPOCHS=30            a longer schedule for every model (chapter 02 checks whether it converged)
#   make book GALLERY_MULTIPLE=26.34   Fig. 8 up to the paper's 500k scale (26.34 times the test gallery)
#   make book DATASET=market1501 DATA_ROOT=/data SCALE=paper DEVICE=cuda
#   make test                      the test suite (what CI runs)
#   make test-numerics             the numerics-sensitive tests under this CPU's, AVX2 and default kernels
# A parameter left unset takes its default from apr.experiments.BookParameters (python -m apr book --help).
SHELL    := /bin/bash
PY       := .venv/bin/python
BOOK_OPTIONS := $(if $(DATASET),--dataset $(DATASET)) $(if $(SCALE),--scale $(SCALE)) $(if $(DEVICE),--device $(DEVICE)) \
                $(if $(SEED),--seed $(SEED)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(ABLATION_SEEDS),--ablation-seeds $(ABLATION_SEEDS)) \
                $(if $(READING),--reading $(READING)) $(if $(LEAVE_ONE_OUT),--leave-one-out) $(if $(EPOCHS),--epochs $(EPOCHS)) \
                $(if $(GALLERY_MULTIPLE),--gallery-multiple $(GALLERY_MULTIPLE)) $(if $(DATASET_FILE),--dataset-file "$(DATASET_FILE)")
# Small torch ops on 2 cores: one thread per process is faster and bit-stable.
export OMP_NUM_THREADS ?= 1

.PHONY: env book test test-numerics figures clean

env:
	@bash scripts/setup_env.sh

book: env
	$(PY) -m apr book $(BOOK_OPTIONS) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)")

test: env
	@bash scripts/setup_browser.sh
	@bash scripts/setup_slurm.sh
	$(PY) -m pytest

test-numerics: env
	@bash scripts/test_numerics.sh

clean:
	rm -rf _build book/_generated

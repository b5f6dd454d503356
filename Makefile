# The commands a learner needs (each creates .venv and installs the project when missing):
#   make lab    open the course in JupyterLab
#   make grade  grade your saved notebooks (a copy of each is run; your files are never changed)
#   make test   run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Two workers: the machines this course targets (and CI) have 2 cores.
WORKERS ?= 2
# Extra arguments for `jupyter lab`, e.g. on a headless machine:
#   make lab LAB_ARGS="--no-browser --port 8899"
LAB_ARGS ?=
# What `make grade` grades and how, e.g.
#   make grade NOTEBOOKS=notebooks/01_scoring.ipynb
#   make grade GRADE_ARGS="--class submissions/ --csv gradebook.csv --jobs 2"   (an instructor's class)
NOTEBOOKS ?=
GRADE_ARGS ?=

.PHONY: lab grade test test-fast smoke bench notebooks check clean-venv

$(STAMP): pyproject.toml course/jupyterlab-overrides.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing minseg and its pinned dependencies into $(VENV) (the first time takes a few minutes)..."
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e .
	@# JupyterLab settings for the course: widgets keep their last state in a saved notebook,
	@# and no "Jupyter news?" pop-up.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	cp course/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

grade: $(STAMP)
	$(PY) -m course grade $(GRADE_ARGS) $(NOTEBOOKS)

# The full suite: library tests and notebook tests in parallel, then the same library tests with
# Numba's JIT switched off (pure-Python kernels, few hypothesis examples).
# One BLAS/OpenMP thread per worker: two workers with two threads each would fight over 2 cores.
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) --dist loadfile -q
	$(TEST_ENV) NUMBA_DISABLE_JIT=1 MINSEG_HYPOTHESIS_SCALE=0.02 $(PY) -m pytest -q -m "not slow and not notebooks" -p no:cacheprovider

test-fast: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) --dist loadfile -q -m "not notebooks"

bench: $(STAMP)
	$(PY) -m benchmarks

notebooks: $(STAMP)
	$(PY) -m course build

check: $(STAMP)
	$(PY) -m course check

clean-venv:
	rm -rf $(VENV)

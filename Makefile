# The commands a learner needs (each creates .venv and installs the project when missing):
#   make lab    open the course in JupyterLab
#   make grade  grade your saved notebooks (a copy of each is run; your files are never changed)
#   make test   run the whole test suite (what CI runs)
#   make browser-test  every lecture in headless Chromium (what CI runs next; report in build/browser/)
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

# Extra arguments for the browser test, e.g. BROWSER_ARGS="02_convolution --lenient-redraw";
# CHROMIUM=/path/to/chrome to use another Chromium than the system's.
BROWSER_ARGS ?=
CHROMIUM ?=
BROWSER_STAMP := $(VENV)/.browser-stamp

# Idle OpenBLAS and OpenMP worker threads sleep instead of spinning, in the kernels `make lab` and
# `make grade` start (minseg/threads.py: QUIET_WORKERS, which tests/test_environment.py keeps equal).
QUIET_ENV := OPENBLAS_THREAD_TIMEOUT=4 OMP_WAIT_POLICY=PASSIVE

.PHONY: lab grade test test-fast smoke bench notebooks check clean-venv browser-test chromium

$(STAMP): pyproject.toml course/jupyterlab-overrides.json course/jupyter_server_config.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing minseg and its pinned dependencies into $(VENV) (the first time takes a few minutes)..."
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e .
	@# JupyterLab settings for the course: widget state is NOT saved in the notebook (reopened on a new
	@# kernel, JupyterLab 4 shows "Error displaying widget: model not found" for saved widgets), and no
	@# "Jupyter news?" pop-up. On save the server replaces each widget by a one-line note to run its
	@# cell again (course/lab_hooks.py, a pre-save hook); the static figure beside it stays.
	@# (general server settings are read from jupyter_server_config.json; its .d folder only enables extensions)
	@mkdir -p $(VENV)/share/jupyter/lab/settings $(VENV)/etc/jupyter
	cp course/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	cp course/jupyter_server_config.json $(VENV)/etc/jupyter/jupyter_server_config.json
	@touch $(STAMP)

lab: $(STAMP)
	$(QUIET_ENV) $(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

grade: $(STAMP)
	$(QUIET_ENV) $(PY) -m course grade $(GRADE_ARGS) $(NOTEBOOKS)

# The full suite: library tests and notebook tests in parallel, then the same library tests with
# Numba's JIT switched off (pure-Python kernels, few hypothesis examples).
# One BLAS/OpenMP thread per worker: two workers with two threads each would fight over 2 cores.
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) --dist loadfile -q
	$(TEST_ENV) NUMBA_DISABLE_JIT=1 MINSEG_HYPOTHESIS_SCALE=0.02 $(PY) -m pytest -q -m "not slow and not notebooks" -p no:cacheprovider

test-fast: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(WORKERS) --dist loadfile -q -m "not notebooks"

# The course in a real browser: Playwright (the project's `browser` extra) drives the system Chromium
# through every lecture in course/syllabus.toml (see course/browser/). Under 10 minutes on 2 cores.
$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[browser]"
	@touch $(BROWSER_STAMP)

chromium:
	@if [ -n "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium (apt-get)..."; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
		echo "make browser-test needs Chromium: install it with 'sudo apt-get install chromium'" \
		     "(Debian/Ubuntu; the snap 'chromium-browser' also works), or pass CHROMIUM=/path/to/chrome"; \
		exit 2; \
	fi

browser-test: $(BROWSER_STAMP) chromium
	$(TEST_ENV) $(PY) -m course.browser $(if $(CHROMIUM),--chromium $(CHROMIUM)) $(BROWSER_ARGS)

bench: $(STAMP)
	$(QUIET_ENV) $(PY) -m benchmarks

notebooks: $(STAMP)
	$(PY) -m course build

check: $(STAMP)
	$(PY) -m course check

clean-venv:
	rm -rf $(VENV)

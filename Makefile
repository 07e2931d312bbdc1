# LLM foundations — every target installs what it needs into .venv/ first.
#   make lab       open the course in JupyterLab (prints the URL; no browser needed)
#   make test      ruff, then the whole test suite: package, exercises, and each notebook run once (tests/notebooks.py)
#   make test-browser  the learner's path in headless Chromium: make lab, chapter 1, a typed answer, its ✅
#   make execute   re-run every chapter headlessly and save its outputs (teachers preparing a class)
#   make release   write the student edition to $(OUT)
#   make bench     time the mini GPT against the PyTorch reference
#   make bench-fit time chapter 5's training run to its validation loss: its fast path vs Keras's defaults
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= build/student
# Quiet, reproducible TensorFlow for tests and headless runs (not forced on the learner's lab).
QUIET := TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 KERAS_BACKEND=tensorflow PYTHONHASHSEED=0
# Jupyter refuses to run as root (containers, CI) unless told.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Two workers; a test module stays on one, so each chapter notebook (its module's fixture) runs once;
# modules start in the order tests/conftest.py gives them (longest first).
PYTEST_ARGS ?= -n 2 --dist loadscope --no-loadscope-reorder

.PHONY: setup lab test test-fast test-browser execute release bench bench-fit clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

# course/lab_settings/overrides.json: JupyterLab's defaults for the course (no "Jupyter news?" pop-up,
# no news or update requests to the internet); a learner can still change them under Settings.
LAB_SETTINGS := --LabApp.app_settings_dir=course/lab_settings

lab: setup
	KERAS_BACKEND=tensorflow $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --ServerApp.root_dir=chapters \
		$(LAB_SETTINGS) $(ALLOW_ROOT) $(LAB_ARGS)

# ruff (settings in pyproject.toml) first: a lint error fails in seconds, before the notebooks run.
test: setup
	$(BIN)/ruff check .
	$(QUIET) $(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/ruff check .
	$(QUIET) $(BIN)/python -m pytest tests -m "not notebook and not slow" $(PYTEST_ARGS)

# tests/test_browser.py, on its own (about 1.5 min; `make test` skips it in one line): `make lab` and the
# student edition's lab driven in headless Chromium. Needs Debian's chromium, chromium-driver and
# fonts-noto-color-emoji; skips in one line without them, unless COURSE_REQUIRE_BROWSER=1 (.ci/run).
# Screenshots of each step: build/browser/.
test-browser: setup
	COURSE_BROWSER_TEST=1 $(BIN)/python -m pytest tests/test_browser.py -p no:xdist -s $(BROWSER_ARGS)

execute: setup
	$(QUIET) $(BIN)/python -m course.notebooks execute

release: setup
	$(BIN)/python -m course.release $(OUT)

# The benchmark runs TensorFlow as a learner does (oneDNN on: about 1.6x faster here than the
# tests' TF_ENABLE_ONEDNN_OPTS=0), side by side with the PyTorch reference (nanoGPT's architecture,
# kept in this repository) in its own venv.
TORCH_VENV := .venv-torch
TORCH_REFERENCE := bench/torch_gpt_reference.py
$(TORCH_VENV)/.installed:
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 numpy
	touch $@

bench: setup $(TORCH_VENV)/.installed $(TORCH_REFERENCE)
	TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=tensorflow $(BIN)/python -m course.bench compare \
		--torch-python $(TORCH_VENV)/bin/python --reference $(TORCH_REFERENCE) --rounds 3 $(BENCH_ARGS)

bench-fit: setup
	TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=tensorflow $(BIN)/python -m course.bench fit --rounds 3 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TORCH_VENV) build .pytest_cache

# ganctl: `make demo` trains and evaluates a GAN on the 8-Gaussian ring; `make test` runs the test suite.
# Both create .venv and install only what is missing. `make bench` prints training speed against a plain loop.
#
# On a GPU machine, install a CUDA build of torch instead of the CPU one, e.g.:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cu128
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ganctl-installed
TORCH_ARGS := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: setup demo test bench clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_ARGS) "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

setup: $(STAMP)

demo: setup
	$(VENV)/bin/ganctl train name=demo

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/train_speed.py

clean-venv:
	rm -rf $(VENV)

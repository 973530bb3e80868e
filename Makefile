# The two quick-start commands: `make demo` (the main job on the generated world) and `make test`.
# Both create or reuse a local venv in .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_FLAGS ?=

.PHONY: demo test lint install clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,webdataset,tensorboard]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cyclip-bench demo $(DEMO_FLAGS)

test: $(STAMP)
	$(PY) -m pytest -q -x --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check cyclip_bench tests bench
	$(VENV)/bin/ruff format --check cyclip_bench tests bench

clean-venv:
	rm -rf $(VENV)

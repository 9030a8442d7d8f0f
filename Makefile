# The README's two commands. Both create .venv with Python 3.11 if it is missing and install into it with pip
# (pip takes torch and torchvision from the machine's local wheels; uv/poetry would download gigabytes).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed  ## install, then run the default study on embedded data (scikit-learn digits)
	$(BIN)/trainlab run digits-demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: lint  ## install the test extras, lint, then run the whole test suite
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed  ## trainer vs plain PyTorch loop, training images/s (needs ../shared/data)
	$(BIN)/python bench/bench_train.py

clean:
	rm -rf runs .cache

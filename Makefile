# The README's two commands. Both create .venv with Python 3.11 if it is missing and install into it with pip
# (pip takes torch and torchvision from the machine's local wheels; uv/poetry would download gigabytes).
# PYTHON picks the interpreter: `make test PYTHON=/usr/bin/python3.11`. CI uses the oldest 3.11 the machine has.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
ACTIVATE_HINT := the trainlab command is in $(BIN)/: run '. $(BIN)/activate' to use it by name (or call $(BIN)/trainlab)

.PHONY: demo test lint bench clean python-check

python-check:
	@version=$$($(PYTHON) -c 'import platform; print("Python " + platform.python_version())' 2>/dev/null) \
		|| version="not a working Python"; \
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "trainlab needs Python 3.11 or newer; PYTHON=$(PYTHON) is $$version. Run: make $(or $(MAKECMDGOALS),test) PYTHON=/path/to/python3.11"; \
		exit 1; }

$(BIN)/python: | python-check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed  ## install, then run the default study on embedded data (scikit-learn digits)
	$(BIN)/trainlab run digits-demo
	@echo "$(ACTIVATE_HINT)"

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: lint  ## install the test extras, lint, then run the whole test suite
	$(BIN)/python -c 'import sys; print("testing on Python", sys.version.split()[0], "from", sys.executable)'
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed  ## trainer vs plain PyTorch loop: images, texts and forecasting windows per second (needs ../shared/data)
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_text.py
	$(BIN)/python bench/bench_forecast.py

clean:
	rm -rf runs .cache

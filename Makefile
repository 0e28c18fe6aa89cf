# The README's quick start: `make demo` (read the examples with the bundled model) and `make test`.
# Each target creates .venv itself; installs are pinned by constraints.txt (torch 2.13.0 CPU build).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint typecheck unit browser-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Core install: numpy, Pillow, ONNX Runtime, OpenCV — enough to read digits, no torch.
$(VENV)/.core: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[dev]"
	@touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/digits read examples/*.png examples/*.jpg

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# Debian's Chromium for the browser tests (the tests skip, saying why, where it is missing and not required).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.read_speed

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

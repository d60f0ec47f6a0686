# The two set-up commands of the README: `make demo` (the full pipeline on an example,
# on the virtual board when no board is attached) and `make test`.
VENV ?= .venv
EDGEKIT = $(VENV)/bin/edgekit
EXAMPLE ?= gesture
BOARD ?= qemu-netduinoplus2
OUT ?= out

.PHONY: setup demo lint test clean

setup:
	@VENV=$(VENV) scripts/setup.sh

# train -> quantize -> generate -> build -> flash -> hil; BOARD=nucleo-f446re for a real board.
demo: setup
	$(EDGEKIT) deploy $(EXAMPLE) --board $(BOARD) -o $(OUT)/$(EXAMPLE) --require-exact
	$(EDGEKIT) inspect $(OUT)/$(EXAMPLE)/model.tflite --board $(BOARD)

# Lint (ruff: pyflakes, pycodestyle, isort, bugbear, pyupgrade) and types (mypy over edgekit/),
# configured in pyproject.toml.
lint: setup
	$(VENV)/bin/ruff check edgekit tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/python -m pytest

clean:
	rm -rf $(OUT) .pytest_cache

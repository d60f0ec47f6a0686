# The two set-up commands of the README: `make demo` (the full pipeline on an example,
# on the virtual board when no board is attached) and `make test`.
VENV ?= .venv
EDGEKIT = $(VENV)/bin/edgekit
EXAMPLE ?= gesture
BOARD ?= qemu-netduinoplus2
OUT ?= out
# Test workers: one per core (pytest-xdist); JOBS=0 runs in this process.
JOBS ?= 2
PYTEST = $(VENV)/bin/python -m pytest -n $(JOBS)

.PHONY: setup demo lint test test-fast clean

setup:
	@VENV=$(VENV) scripts/setup.sh

# train -> quantize -> generate -> build -> flash -> hil; BOARD=nucleo-f446re for a real board.
# A text example (one with a vocabulary) then completes its prompt on the board.
demo: setup
	$(EDGEKIT) deploy $(EXAMPLE) --board $(BOARD) -o $(OUT)/$(EXAMPLE) --require-exact
	$(EDGEKIT) inspect $(OUT)/$(EXAMPLE)/model.tflite --board $(BOARD)
	@if [ -f $(OUT)/$(EXAMPLE)/vocab.json ]; then \
		echo "$(EDGEKIT) complete $(OUT)/$(EXAMPLE)/firmware-$(BOARD) --words 24"; \
		$(EDGEKIT) complete $(OUT)/$(EXAMPLE)/firmware-$(BOARD) --words 24; fi

# Lint (ruff: pyflakes, pycodestyle, isort, bugbear, pyupgrade) and types (mypy over edgekit/),
# configured in pyproject.toml.
lint: setup
	$(VENV)/bin/ruff check edgekit tests benchmarks
	$(VENV)/bin/mypy

# Everything; one test file per worker at a time (module fixtures are built once).
test: lint
	$(PYTEST) --dist loadfile --durations=25

# The unit tier (under two minutes): no TensorFlow, toolchain, QEMU or TFLM tree, and a test that
# reaches for one without its marker fails (tests/tier_guard).
test-fast: setup
	EDGEKIT_TEST_TIER=fast $(PYTEST) -q -m "not (tf or toolchain or qemu or tflm)"

clean:
	rm -rf $(OUT) .pytest_cache

# The two set-up commands of the README: `make demo` (the full pipeline on an example,
# on the virtual board when no board is attached) and `make test`.
VENV ?= .venv
EDGEKIT = $(VENV)/bin/edgekit
EXAMPLE ?= gesture
BOARD ?= qemu-netduinoplus2
OUT ?= out

.PHONY: setup demo test clean

setup:
	@VENV=$(VENV) scripts/setup.sh

demo: setup
	$(EDGEKIT) doctor
	$(EDGEKIT) train $(EXAMPLE) -o $(OUT)/$(EXAMPLE)
	$(EDGEKIT) quantize $(OUT)/$(EXAMPLE)/model.keras --calib $(OUT)/$(EXAMPLE)/data.npz
	$(EDGEKIT) inspect $(OUT)/$(EXAMPLE)/model.tflite --board $(BOARD)

test: setup
	$(VENV)/bin/python -m pytest

clean:
	rm -rf $(OUT) .pytest_cache

"""edgekit-rt's LSTM on the emulated Cortex-M4F (QEMU netduinoplus2): with the Armv7E-M DSP
path and the portable one, byte for byte equal to tflite_micro (state reset before each input)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("tflite_micro")
if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
    pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed", allow_module_level=True)

import ekrt_bare_metal as bench
import recurrent_models as R

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]


@pytest.mark.parametrize("name", ["lstm_stacked_last"])
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_lstm_cortex_m4_bit_exact(name: str, dsp: bool, tmp_path: Path) -> None:
    from edgekit.model.tflite_graph import load_graph

    spec = next(s for s in R.SPECS if s.name == name)
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(R.build(spec))
    inputs = bench.bench_inputs(load_graph(path).input_tensors[0].size, 5)
    elf = bench.build_firmware(path, tmp_path, inputs, dsp)
    instr, outs = bench.run_qemu(elf, timeout=120)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)

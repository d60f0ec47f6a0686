"""edgekit-rt on the emulated Cortex-M4F (QEMU netduinoplus2): the Armv7E-M DSP kernels and
the portable kernels both match tflite_micro byte for byte on the benchmark models (edgekit.model.zoo)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ekrt_harness import SHARED_MODELS, shared_model

pytest.importorskip("tflite_micro")
if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
    pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed", allow_module_level=True)

import ekrt_bare_metal as bench

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu]


@pytest.mark.parametrize("name", ["sine", "ds_cnn_kws", "ad_autoencoder"])
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_cortex_m4_bit_exact(name: str, dsp: bool, tmp_path: Path) -> None:
    shared_model(name)
    path = SHARED_MODELS / f"{name}.tflite"
    from edgekit.model.tflite_graph import load_graph

    inputs = bench.bench_inputs(load_graph(path).input_tensors[0].size, 6)
    elf = bench.build_firmware(path, tmp_path, inputs, dsp)
    instr, outs = bench.run_qemu(elf, timeout=120)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)

"""QUANTIZE between uint8, int8 and int16 on edgekit-rt is bit-exact with the TFLM reference
kernel (tflite_micro), over every input value of each type (all 256 of the 8-bit types, all
65,536 of int16), several scale ratios and zero points, saturation at both ends included:
on the host under ASan/UBSan, and on the emulated Cortex-M4F.

These ops carry models converted with `inference_input_type` / `inference_output_type`
uint8 (and int16 input/output from or to int8), so such models run on edgekit-rt."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import quantize_models as qm
from ekrt_harness import build_host, run_host, run_tflm
from test_ekrt_exact import SANITIZE

from edgekit.codegen import compile_model
from edgekit.codegen.lower_elementwise import REQUANTIZE_KERNELS
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import parse_graph


@pytest.mark.parametrize("case", qm.SWEEP, ids=[c.name for c in qm.SWEEP])
def test_requantize_every_input_bit_exact(case: qm.Requant, ekrt_build_dir: Path) -> None:
    tflite = qm.model_bytes(case)
    xs = qm.all_inputs(case.in_type)
    exe = build_host(tflite, ekrt_build_dir, SANITIZE)
    got, want = run_host(exe, xs), run_tflm(tflite, xs)
    assert got.shape == (len(xs), case.width * np.dtype(case.out_type).itemsize)
    assert np.array_equal(got, want), f"{np.count_nonzero(got != want)} bytes differ"


def test_sweep_covers_every_pair_and_both_saturations() -> None:
    """Each kernel of the lowering is swept, and every output type is driven to its minimum
    and its maximum by some case (so the clamps are checked, not only the rounding); int32
    outputs cannot saturate (TFLM clamps them to the int32 range)."""
    assert {(c.in_type, c.out_type) for c in qm.SWEEP} == set(REQUANTIZE_KERNELS)
    hit: dict[str, set[int]] = {}
    for c in qm.SWEEP:
        out = run_tflm(qm.model_bytes(c), qm.all_inputs(c.in_type)).view(c.out_type)
        info = np.iinfo(np.dtype(c.out_type))
        if c.out_type == "int32":
            continue
        hit.setdefault(c.out_type, set()).update(
            v for v in (int(info.min), int(info.max)) if v in out)
    assert all(len(v) == 2 for v in hit.values()), hit


def test_requantize_chain_in_place(ekrt_build_dir: Path) -> None:
    """The chain below on the host under ASan/UBSan: int16 -> int16 and int16 -> int8 run in
    place (output no wider than input), int8 -> int16 does not."""
    tflite = qm.chain_model_bytes()
    steps = compile_model(parse_graph(tflite)).steps
    assert [(st.op.op, st.inplace) for st in steps][1:4] == [
        ("QUANTIZE", False), ("QUANTIZE", True), ("QUANTIZE", True)]
    xs = qm.all_inputs("uint8")
    exe = build_host(tflite, ekrt_build_dir, SANITIZE)
    assert np.array_equal(run_host(exe, xs), run_tflm(tflite, xs))


@pytest.mark.toolchain
@pytest.mark.qemu
def test_requantize_on_cortex_m4(tmp_path: Path) -> None:
    """A chain through every kernel (uint8 -> int8 -> int16 -> int16 -> int8 -> uint8, TFLM's
    uint8 <-> int8 flip at both ends) built with arm-none-eabi-gcc, on QEMU, against TFLM."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    path = tmp_path / "chain.tflite"
    path.write_bytes(qm.chain_model_bytes())
    inputs = qm.all_inputs("uint8")
    elf = bench.build_firmware(path, tmp_path, inputs, dsp=True)
    _instr, outs = bench.run_qemu(elf, timeout=120)
    assert outs == bench.tflm_outputs(path, inputs)


def test_unsupported_pair_refused() -> None:
    """A pair TFLM's QUANTIZE does not take is one line naming the op and pointing to the tflm
    runtime. (16x8 models, once refused, run on the int16 kernels: test_ekrt_int16.py.)"""
    u8u8 = qm.Requant("u8_u8", "uint8", 0.1, 3, "uint8", 0.2, 9)
    with pytest.raises(ModelError, match=r"operator 0 \(QUANTIZE\) producing tensor 'y' "
                                         r"converts uint8 to uint8.*--runtime tflm"):
        compile_model(parse_graph(qm.model_bytes(u8u8)))


@pytest.mark.tf
def test_16x8_dense_model_bit_exact(sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """TF's 16x8 dense model (int16 input and output, FULLY_CONNECTED + RELU on int16
    activations) runs on edgekit-rt, every output equal to TFLM's."""
    tflite = qm.convert_16x8(sweep_cache)
    assert {t.dtype for t in parse_graph(tflite).input_tensors} == {"int16"}
    xs = np.random.default_rng(0).integers(-32768, 32768, (60, 6)).astype(np.int16)
    exe = build_host(tflite, ekrt_build_dir)
    assert np.array_equal(run_host(exe, xs), run_tflm(tflite, xs))

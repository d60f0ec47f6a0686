"""The MLPerf Tiny reference models (tests/fixtures/models/published/mlperf_tiny) bit-exact with
tflite_micro through the kernels they exercise and the zoo models do not: pruned (all-zero)
output channels of VWW's 1x1 convolutions (ekrt_conv2d_1x1_pruned), the fused requantization
and the 3x3 depthwise pixel kernel of the DSP path; on the host (portable C) and on the
emulated Cortex-M4F with and without DSP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ekrt_harness import compare

pytest.importorskip("tflite_micro")

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "published" / "mlperf_tiny"
NAMES = ["vww_96_int8", "pretrainedResnet_quant", "kws_ref_model", "ad01_int8"]


@pytest.mark.parametrize("name", NAMES)
def test_mlperf_tiny_bit_exact_on_host(name: str, ekrt_build_dir: Path) -> None:
    n, bad = compare((MODELS / f"{name}.tflite").read_bytes(), ekrt_build_dir, n_random=6, seed=3)
    assert bad == 0 and n > 6


def test_pruned_channels_are_skipped() -> None:
    """VWW's 1x1 convolutions with all-zero output channels compute only the live ones."""
    from edgekit.codegen import compile_model
    from edgekit.model.tflite_graph import load_graph

    graph = load_graph(MODELS / "vww_96_int8.tflite")
    pruned = [st for st in compile_model(graph).steps if st.params_type == "ekrt_conv_pruned_t"]
    assert len(pruned) >= 8
    for st in pruned:   # fewer weights than the layer's: the dead rows are gone
        assert st.consts[0].values.size < graph.tensors[st.op.inputs[1]].size


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_mlperf_tiny_cortex_m4_bit_exact(name: str, dsp: bool, tmp_path: Path) -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    from edgekit.model.tflite_graph import load_graph

    path = MODELS / f"{name}.tflite"
    inputs = bench.bench_inputs(load_graph(path).input_tensors[0].size, 3)
    instr, outs = bench.run_qemu(bench.build_firmware(path, tmp_path, inputs, dsp), timeout=300)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)


def test_mlperf_tiny_ad_speed_bit_exact_on_host(ekrt_build_dir: Path) -> None:
    """generate --optimize speed (int16 FULLY_CONNECTED weights): 8 of the AD autoencoder's 10 dense
    layers (not the two 1,024-weight bottleneck ones), portable C."""
    n, bad = compare((MODELS / "ad01_int8.tflite").read_bytes(), ekrt_build_dir, n_random=6, seed=3, speed=True)
    assert bad == 0 and n > 6


@pytest.mark.toolchain
@pytest.mark.qemu
def test_mlperf_tiny_ad_speed_cortex_m4_bit_exact(tmp_path: Path) -> None:
    """The AD autoencoder with --optimize speed on the emulated Cortex-M4F (its DSP path)."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    import ekrt_bare_metal as bench

    from edgekit.codegen import compile_model
    from edgekit.model.tflite_graph import load_graph

    path = MODELS / "ad01_int8.tflite"
    assert sum("_fully_connected_h(" in st.call for st in compile_model(load_graph(path), speed=True).steps) == 8
    inputs = bench.bench_inputs(load_graph(path).input_tensors[0].size, 3)
    instr, outs = bench.run_qemu(bench.build_firmware(path, tmp_path, inputs, True, speed=True), timeout=300)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)

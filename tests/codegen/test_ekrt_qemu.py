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


@pytest.mark.tf
@pytest.mark.parametrize("name", ["keras_layers_mix", "argmax_classes"])
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_keras_layer_ops_cortex_m4_bit_exact(name: str, dsp: bool, sweep_cache: Path, tmp_path: Path) -> None:
    """The ops of Keras 3's common layers (PReLU, Conv2DTranspose, ELU, both resizes, split,
    Maximum, Permute, GlobalMaxPooling; argmax's int32 output) cross-compiled with -Werror and
    run on the emulated Cortex-M4F, byte for byte against tflite_micro."""
    _sweep_bit_exact(name, dsp, sweep_cache, tmp_path)


@pytest.mark.tf
@pytest.mark.parametrize("name", ["dw3x3_inplace_relu", "dw5x5_inplace", "dw3x3_dil2", "dwp3x3_s2_c36",
                                  "dwp2x2_inplace_c8", "dwp3x3_per_tensor_c12", "dwp3x3_wide_valid_c8",
                                  "dwp3x3_wide_inplace_c8", "dw3x3_s2_mult2",
                                  "add_residual_lut", "conv3x3_s1_same_relu", "conv3x3_inplace_odd",
                                  "conv5x5_inplace_pad2", "conv3x3_s2_widened", "conv3x3_dil2_widened",
                                  "conv1x1_grow", "grouped_conv", "dense_relu", "dense_batched_rows",
                                  "avgpool3_s1_same"])
def test_sweep_dsp_bit_exact(name: str, sweep_cache: Path, tmp_path: Path) -> None:
    """The sweeps of kernels with a DSP path of their own (depthwise, the ADD tables, the
    assembly dot products of CONV_2D and FULLY_CONNECTED, average pooling), on it (the host sweep runs the
    portable one)."""
    _sweep_bit_exact(name, True, sweep_cache, tmp_path)


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_ad_autoencoder_speed_cortex_m4_bit_exact(dsp: bool, tmp_path: Path) -> None:
    """generate --optimize speed (int16 FULLY_CONNECTED weights, ekrt_fully_connected_h) on the
    emulated Cortex-M4F, both paths, byte for byte against tflite_micro."""
    from edgekit.model.tflite_graph import load_graph

    path = SHARED_MODELS / "ad_autoencoder.tflite"
    inputs = bench.bench_inputs(load_graph(path).input_tensors[0].size, 6)
    elf = bench.build_firmware(path, tmp_path, inputs, dsp, speed=True)
    instr, outs = bench.run_qemu(elf, timeout=120)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)


@pytest.mark.tf
@pytest.mark.parametrize("name", ["fc_speed_odd_relu", "fc_speed_per_tensor", "fc_speed_no_bias", "fc_speed_rows",
                                  "fc_speed_chain"])
def test_fc_speed_sweep_dsp_bit_exact(name: str, sweep_cache: Path, tmp_path: Path) -> None:
    """The int16-weight FULLY_CONNECTED's assembly (LDRD + SMLAD, 4 rows a pass) on the DSP path."""
    _sweep_bit_exact(name, True, sweep_cache, tmp_path, speed=True)


def _sweep_bit_exact(name: str, dsp: bool, sweep_cache: Path, tmp_path: Path, speed: bool = False) -> None:
    import sweep_models

    from edgekit.model.tflite_graph import load_graph

    spec = next(s for s in sweep_models.SPECS + sweep_models.FC_SPEED if s[0] == name)
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(sweep_models.build(spec, sweep_cache))
    inputs = bench.bench_inputs(load_graph(path).input_tensors[0].size, 6)
    elf = bench.build_firmware(path, tmp_path, inputs, dsp, speed=speed)
    instr, outs = bench.run_qemu(elf, timeout=120)
    assert instr > 0
    assert outs == bench.tflm_outputs(path, inputs)

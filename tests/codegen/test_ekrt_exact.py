"""edgekit-rt is bit-exact with the TFLM reference kernels (the tflite_micro package).

Generated C plus the kernel library is built with the host gcc (-Wall -Wextra -Werror
-pedantic), run on extreme and random int8 inputs, and compared byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tflite_micro")

import sweep_models
from ekrt_harness import compare, shared_model


@pytest.mark.parametrize("name,n_random", [("sine", 400), ("ds_cnn_kws", 150),
                                           ("ad_autoencoder", 300)])
def test_shared_model_bit_exact(name: str, n_random: int, ekrt_build_dir: Path) -> None:
    n, bad = compare(shared_model(name), ekrt_build_dir, n_random=n_random, seed=1)
    assert bad == 0 and n == n_random + 5


@pytest.mark.parametrize("name", ["ad_autoencoder", "ds_cnn_kws"])
def test_shared_model_speed_bit_exact(name: str, ekrt_build_dir: Path) -> None:
    """generate --optimize speed (int16 FULLY_CONNECTED weights), portable C path."""
    n, bad = compare(shared_model(name), ekrt_build_dir, n_random=150, seed=4, speed=True)
    assert bad == 0 and n == 155


@pytest.mark.tf
@pytest.mark.parametrize("spec", sweep_models.FC_SPEED, ids=[s[0] for s in sweep_models.FC_SPEED])
def test_fc_speed_sweep_bit_exact(spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """The int16-weight FULLY_CONNECTED of --optimize speed (ekrt_fully_connected_h) on the portable
    path: odd shapes, per-tensor, no bias, batched rows."""
    from edgekit.codegen import compile_model
    from edgekit.model.tflite_graph import parse_graph

    tflite = sweep_models.build(spec, sweep_cache)
    assert "ekrt_fully_connected_h(" in compile_model(parse_graph(tflite), speed=True).sources()["edgekit_model.c"]
    n, bad = compare(tflite, ekrt_build_dir, n_random=120, seed=5, speed=True)
    assert bad == 0


@pytest.mark.tf
@pytest.mark.parametrize("spec", sweep_models.SPECS, ids=[s[0] for s in sweep_models.SPECS])
def test_op_sweep_bit_exact(spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    tflite = sweep_models.build(spec, sweep_cache)
    n, bad = compare(tflite, ekrt_build_dir, n_random=120, seed=2)
    assert bad == 0


@pytest.mark.tf
@pytest.mark.parametrize("spec", sweep_models.FLOAT_IO, ids=[s[0] for s in sweep_models.FLOAT_IO])
def test_float_io_bit_exact(spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """An integer model with float32 input and output (the converter's default): the float in
    is quantized by the model's QUANTIZE on the device, the output dequantized; every output
    float equal to TFLM's bit for bit, rounding ties and out-of-range inputs included."""
    tflite = sweep_models.build(spec, sweep_cache, float_io=True)
    from edgekit.model.tflite_graph import parse_graph

    g = parse_graph(tflite)
    assert [t.dtype for t in g.input_tensors + g.output_tensors] == ["float32", "float32"]
    assert [g.operators[0].op, g.operators[-1].op] == ["QUANTIZE", "DEQUANTIZE"]
    n, bad = compare(tflite, ekrt_build_dir, n_random=120, seed=6)
    assert bad == 0


@pytest.mark.tf
@pytest.mark.parametrize("spec", sweep_models.MULTI_IO, ids=[s[0] for s in sweep_models.MULTI_IO])
def test_several_inputs_and_outputs_bit_exact(spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """Models of two inputs and/or two outputs: each input read from, each output written to
    its 4-byte aligned place in the I/O blocks, every output byte equal to TFLM's."""
    from edgekit.model.tflite_graph import parse_graph

    tflite = sweep_models.build_multi(spec, sweep_cache)
    g = parse_graph(tflite)
    assert (len(g.inputs), len(g.outputs)) == (len(spec[1]), 2 if spec[0] != "two_odd_inputs_add" else 1)
    n, bad = compare(tflite, ekrt_build_dir, n_random=120, seed=7)
    assert bad == 0


@pytest.mark.tf
@pytest.mark.parametrize("base,old,new", [("concat_channels_relu", "RELU", "QUANTIZE"),
                                          ("logistic", "LOGISTIC", "QUANTIZE")])
def test_patched_op_bit_exact(base: str, old: str, new: str, sweep_cache: Path,
                              ekrt_build_dir: Path) -> None:
    """Ops the converter does not emit on its own (QUANTIZE int8 -> int8), made by patching
    the operator code of a converted model; TFLM runs the patched model as the reference."""
    spec = next(s for s in sweep_models.SPECS if s[0] == base)
    tflite = sweep_models.patch_opcode(sweep_models.build(spec, sweep_cache), old, new)
    from edgekit.model.tflite_graph import parse_graph

    assert new in [op.op for op in parse_graph(tflite).operators]
    n, bad = compare(tflite, ekrt_build_dir, n_random=150, seed=5)
    assert bad == 0


SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
SANITIZED_SWEEPS = ("conv4x4_s2_same_even", "dw3x3_inplace_relu", "dw5x5_inplace",
                    "dw3x3_s2_mult2", "add_broadcast", "concat_channels_relu", "global_avgpool_mean",
                    "softmax_table_wide", "conv2d_transpose_s3_k2", "conv2d_transpose_valid_s21",
                    "resize_bilinear_up_odd", "resize_nearest_align_corners", "split_unequal_neg_axis",
                    "prelu_shared_axes", "argmin_axis1", "transpose_chw", "minimum_broadcast",
                    "squared_difference_broadcast", "global_maxpool2d")


@pytest.mark.parametrize("name", ["ds_cnn_kws", "ad_autoencoder"])
def test_shared_model_clean_under_sanitizers(name: str, ekrt_build_dir: Path) -> None:
    """No out-of-bounds access or undefined behaviour (ASan + UBSan), still bit-exact."""
    n, bad = compare(shared_model(name), ekrt_build_dir, n_random=8, seed=3, extra_flags=SANITIZE)
    assert bad == 0


@pytest.mark.tf
@pytest.mark.parametrize("name", SANITIZED_SWEEPS)
def test_sweep_clean_under_sanitizers(name: str, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    spec = next(s for s in sweep_models.SPECS if s[0] == name)
    n, bad = compare(sweep_models.build(spec, sweep_cache), ekrt_build_dir, n_random=8, seed=4,
                     extra_flags=SANITIZE)
    assert bad == 0


@pytest.mark.tf
@pytest.mark.parametrize("spec", sweep_models.UNSUPPORTED, ids=[s[0] for s in sweep_models.UNSUPPORTED])
def test_converted_model_with_unsupported_op(spec, sweep_cache: Path) -> None:
    from edgekit.codegen import SUPPORTED_OPS, compile_model
    from edgekit.errors import ModelError
    from edgekit.model.tflite_graph import parse_graph

    graph = parse_graph(sweep_models.build(spec, sweep_cache))
    bad = next(op for op in graph.operators if op.op not in SUPPORTED_OPS)
    with pytest.raises(ModelError) as err:
        compile_model(graph)
    msg = str(err.value)
    assert f"operator {bad.index} ({bad.op})" in msg
    assert graph.tensors[bad.outputs[0]].name in msg and "--runtime tflm" in msg

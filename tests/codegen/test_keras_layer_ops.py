"""The ops of Keras 3's common layers on edgekit-rt beyond the TFLM op sweep
(test_ekrt_exact.py): ELU made integer by quantize (edgekit.model.float_islands) and run
exact; UpSampling/RepeatVector converted to nearest resizes (edgekit.model.layer_twin); TILE
(which TFLM lacks) checked against TFLite's kernels; the refusal of a variant edgekit-rt does
not run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import ekrt_harness as H
import sweep_models
from ekrt_harness import build_host, compare, run_host, run_tflm

pytestmark = pytest.mark.tf


def test_elu_model_quantizes_to_int8_and_runs_exact(tmp_path: Path, ekrt_build_dir: Path) -> None:
    """A Keras model with ELU layers (one of slope 0.4) through quantize (the child-process
    conversion `edgekit quantize` runs): every op int8, ELU among them, close to Keras in float,
    bit-exact on edgekit-rt."""
    import keras

    from edgekit.model.quantize import quantize_model

    keras.utils.set_random_seed(5)
    L = keras.layers
    model = keras.Sequential([keras.Input((8, 8, 2)), L.Conv2D(6, 3, padding="same"), L.ELU(),
                              L.UpSampling2D(interpolation="bilinear"), L.Conv2D(4, 3, strides=2),
                              L.Activation("elu"), L.Conv2D(4, 1), L.ELU(alpha=0.4), L.GlobalAveragePooling2D(),
                              L.Dense(3)])
    x = np.random.default_rng(5).normal(0, 1, (64, 8, 8, 2)).astype(np.float32)
    tflite, graph = quantize_model(model, x, where="elu model")
    ops = [op.op for op in graph.operators]
    # ELU(alpha=0.4) through edgekit.model.layer_twin: ELU then PRELU
    assert ops.count("ELU") == 3 and ops.count("PRELU") == 1 and "DEQUANTIZE" not in ops and "QUANTIZE" not in ops
    assert all(graph.tensors[i].dtype != "float32" for op in graph.operators for i in op.inputs + op.outputs)
    out = graph.output_tensors[0]
    xq = np.clip(np.round(x / graph.input_tensors[0].scale) + graph.input_tensors[0].zero_point, -128, 127)

    got = (run_tflm(tflite, xq.astype(np.int8).reshape(len(x), -1)).astype(np.float32) - out.zero_point) * out.scale
    want = model.predict(x, verbose=0)
    assert np.max(np.abs(got - want)) < 8 * out.scale  # int8 close to float: no clipped ELU range
    n, bad = compare(tflite, ekrt_build_dir, n_random=60, seed=6)
    assert bad == 0


def test_repeats_quantize_to_nearest_resize_and_run_exact(ekrt_build_dir: Path) -> None:
    """UpSampling2D (nearest), UpSampling1D and RepeatVector would convert to TILE, which TFLM
    lacks: quantize converts them as RESIZE_NEAREST_NEIGHBOR, which TFLM and edgekit-rt run."""
    import keras

    from edgekit.model.quantize import quantize_model

    keras.utils.set_random_seed(6)
    L = keras.layers
    model = keras.Sequential([keras.Input((4, 5, 3)), L.Conv2D(4, 3, padding="same"), L.UpSampling2D((2, 3)),
                              L.Conv2D(2, 1), L.GlobalAveragePooling2D(), L.RepeatVector(3),
                              L.Conv1D(3, 1), L.UpSampling1D(2), L.Flatten(), L.Dense(4)])
    x = np.random.default_rng(6).normal(0, 1, (64, 4, 5, 3)).astype(np.float32)
    tflite, graph = quantize_model(model, x, where="repeat model")
    ops = [op.op for op in graph.operators]
    assert "TILE" not in ops and ops.count("RESIZE_NEAREST_NEIGHBOR") == 3
    n, bad = compare(tflite, ekrt_build_dir, n_random=60, seed=7)
    assert bad == 0


def test_keras_ops_argmax_model_quantizes_with_class_id_output(tmp_path: Path, ekrt_build_dir: Path) -> None:
    """`edgekit quantize` of a model ending in keras.ops.argmax: one ARG_MAX, an int32 output
    compared id for id with Keras, exact on edgekit-rt."""
    import keras

    from edgekit.model.quant_report import quantize_file
    from edgekit.model.tflite_graph import load_graph

    keras.utils.set_random_seed(8)
    inp = keras.Input((10,))
    model = keras.Model(inp, keras.ops.argmax(keras.layers.Dense(4)(keras.layers.Dense(8, activation="elu")(inp)),
                                              axis=-1))
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(8).normal(0, 1, (80, 10)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, x_test=x[:40])
    report = quantize_file(tmp_path / "m.keras", tmp_path / "d.npz", tmp_path / "m.tflite")
    graph = load_graph(tmp_path / "m.tflite")
    assert graph.op_names()[-1] == "ARG_MAX" and graph.output_tensors[0].dtype == "int32"
    assert report.output["dtype"] == "int32" and report.agreement["share"] >= 0.9
    n, bad = compare((tmp_path / "m.tflite").read_bytes(), ekrt_build_dir, n_random=60, seed=9)
    assert bad == 0


def test_float_islands_leave_integer_models_alone(sweep_cache: Path) -> None:
    from edgekit.model.float_islands import integer_islands

    spec = next(s for s in sweep_models.SPECS if s[0] == "prelu_conv")
    tflite = sweep_models.build(spec, sweep_cache)
    assert integer_islands(tflite) == (tflite, [])


def _tflite_reference(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    # TensorFlow's TFLite (neither its nor ai_edge_litert's reference resolver has TILE version
    # 3): exact on these byte-copy models.
    it = tf.lite.Interpreter(model_content=tflite)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for row in inputs:
        it.set_tensor(i["index"], row.reshape(i["shape"]).astype(i["dtype"]))
        it.invoke()
        outs.append(it.get_tensor(o["index"]).reshape(-1).view(np.int8))
    return np.stack(outs)


@pytest.mark.parametrize("spec", sweep_models.TILE_SPECS, ids=[s[0] for s in sweep_models.TILE_SPECS])
def test_tile_matches_tflite_reference(spec, sweep_cache: Path, ekrt_build_dir: Path) -> None:
    """TILE is a byte copy (TFLM has no kernel for it): TFLite's reference kernels are exact here."""
    from edgekit.model.tflite_graph import parse_graph

    tflite = sweep_models.build(spec, sweep_cache)
    graph = parse_graph(tflite)
    assert "TILE" in graph.op_names() and set(graph.op_names()) <= {"TILE", "RESHAPE"}
    xs = H.test_inputs(graph.input_tensors[0].size, 20, seed=8)
    got = run_host(build_host(tflite, ekrt_build_dir), xs)
    assert np.array_equal(got, _tflite_reference(tflite, xs))


def test_reduce_max_over_split_axes_is_refused(sweep_cache: Path) -> None:
    """A variant edgekit-rt does not run: one line naming the op, its index and the way out."""
    from edgekit.codegen import compile_model
    from edgekit.errors import ModelError
    from edgekit.model.tflite_graph import parse_graph

    spec = ("reduce_max_split_axes", (4, 5, 3), lambda L, x: sweep_models._ops().max(x, axis=(1, 3)), False)
    graph = parse_graph(sweep_models.build(spec, sweep_cache))
    op = next(op for op in graph.operators if op.op == "REDUCE_MAX")
    with pytest.raises(ModelError) as err:
        compile_model(graph)
    msg = str(err.value)
    assert f"operator {op.index} (REDUCE_MAX)" in msg and "non-contiguous axes [1, 3]" in msg
    assert "--runtime tflm" in msg and "\n" not in err.value.message

"""Keras 3's normalization layers through `quantize` (edgekit.model.norm_twin rewrites them so
TF's converter leaves no float NEG or SQUARE): every op int8, close to the layer in float, and
bit-exact on edgekit-rt against TFLM; a form it cannot convert refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from ekrt_harness import compare, run_tflm

pytestmark = pytest.mark.tf

# layer factory (keras.layers -> layer), the normalization's ops in the converted graph
CASES: dict[str, tuple[Any, list[str]]] = {
    "layernorm": (lambda L: L.LayerNormalization(),
                  ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "SUB", "MUL", "MUL", "ADD"]),
    "layernorm_rms_scaling": (lambda L: L.LayerNormalization(rms_scaling=True, epsilon=1e-5),
                              ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "MUL", "MUL"]),
    "rmsnorm": (lambda L: L.RMSNormalization(), ["MUL", "MEAN", "ADD", "RSQRT", "MUL", "MUL"]),
    "unitnorm": (lambda L: L.UnitNormalization(), ["MUL", "SUM", "RSQRT", "MINIMUM", "MUL"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_normalization_quantizes_full_integer_and_runs_exact(case: str, ekrt_build_dir: Path) -> None:
    import keras

    from edgekit.model.quantize import quantize_model

    make, norm_ops = CASES[case]
    keras.utils.set_random_seed(3)
    inp = keras.Input((6, 16))
    norm = make(keras.layers)
    model = keras.Model(inp, norm(keras.layers.Dense(16)(inp)))
    rng = np.random.default_rng(1)
    if norm.weights:  # gamma/beta away from their 1/0 start, so a lost weight shows
        weights = norm.get_weights()
        norm.set_weights([rng.normal(1.0 - k, 0.3, w.shape).astype(np.float32) for k, w in enumerate(weights)])
    x = rng.normal(0, 1, (64, 6, 16)).astype(np.float32)
    tflite, graph = quantize_model(model, x, where=case)
    assert [op.op for op in graph.operators] == ["FULLY_CONNECTED", *norm_ops]
    assert all(graph.tensors[i].dtype != "float32" for op in graph.operators for i in op.inputs + op.outputs)
    out, it = graph.output_tensors[0], graph.input_tensors[0]
    xq = np.clip(np.round(x / it.scale) + it.zero_point, -128, 127).astype(np.int8).reshape(len(x), -1)
    got = (run_tflm(tflite, xq).astype(np.float32).reshape(x.shape) - out.zero_point) * out.scale
    assert np.sqrt(np.mean((got - model.predict(x, verbose=0)) ** 2)) < 1.5 * out.scale  # int8 close to float
    n, bad = compare(tflite, ekrt_build_dir, n_random=40, seed=7)
    assert n >= 40 and bad == 0


def test_integer_form_matches_layers_over_several_axes_in_float() -> None:
    """Non-last and several axes, no center/scale: the integer form's function is the layer's."""
    import keras

    from edgekit.model import norm_twin

    L = keras.layers
    keras.utils.set_random_seed(4)
    inp = keras.Input((5, 6, 4))
    y = L.LayerNormalization(axis=[1, 2], center=False)(inp)
    y = L.LayerNormalization(axis=1, scale=False, epsilon=0.1)(y)
    y = L.RMSNormalization(axis=[-2, -1])(y)
    model = keras.Model(inp, L.UnitNormalization(axis=[1, 3])(y))
    for layer in model.layers[1:4]:
        layer.set_weights([w + np.random.default_rng(4).normal(0, 0.3, w.shape) for w in layer.get_weights()])
    x = np.random.default_rng(5).normal(0, 2, (16, 5, 6, 4)).astype(np.float32)
    want = np.asarray(model(x))
    with norm_twin.integer_norms(model, [x], "axes model"):
        assert keras.layers.LayerNormalization.call is norm_twin._layer_norm
        got = np.asarray(model(x))
    assert keras.layers.LayerNormalization.call is not norm_twin._layer_norm   # put back
    assert np.max(np.abs(got - want)) < 1e-5 and np.max(np.abs(np.asarray(model(x)) - want)) == 0


def test_a_normalization_inside_a_custom_layer_converts_to_integer() -> None:
    """A TransformerBlock-style layer holding its LayerNormalization: the swapped call reaches it."""
    import keras

    from edgekit.model import norm_twin
    from edgekit.model.quantize import convert_int8
    from edgekit.model.tflite_graph import parse_graph

    L = keras.layers

    class Block(L.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.norm, self.dense = L.LayerNormalization(epsilon=1e-6), L.Dense(8)

        def call(self, x: Any) -> Any:
            return x + self.dense(self.norm(x))

    keras.utils.set_random_seed(7)
    inp = keras.Input((4, 8))
    model = keras.Model(inp, Block()(inp))
    x = np.random.default_rng(7).normal(0, 1, (64, 4, 8)).astype(np.float32)
    with norm_twin.integer_norms(model, [x], "block model"):
        ops = parse_graph(convert_int8(model, x, where="block model")).op_names()
    assert "SQUARED_DIFFERENCE" in ops and not {"NEG", "DEQUANTIZE", "QUANTIZE"} & set(ops), ops


def test_a_mixed_precision_normalization_is_refused() -> None:
    import keras

    from edgekit.errors import ModelError
    from edgekit.model import norm_twin

    inp = keras.Input((4, 8))
    model = keras.Model(inp, keras.layers.LayerNormalization(dtype="mixed_float16", name="ln")(inp))
    with pytest.raises(ModelError, match="LayerNormalization 'ln' computes in float16"):
        with norm_twin.integer_norms(model, [np.ones((2, 4, 8), np.float32)], "mp model"):
            pass


def test_a_model_of_two_inputs_with_a_normalization_quantizes(ekrt_build_dir: Path) -> None:
    """The twin is checked on every input's calibration data (only recurrent twins need one input)."""
    import keras

    from edgekit.model.quantize import quantize_model

    L = keras.layers
    keras.utils.set_random_seed(6)
    a, b = keras.Input((4, 8), name="a"), keras.Input((4, 8), name="b")
    model = keras.Model([a, b], L.Dense(3)(L.LayerNormalization()(L.Concatenate()([a, b]))))
    rng = np.random.default_rng(6)
    xs = [rng.normal(0, 1, (64, 4, 8)).astype(np.float32) for _ in range(2)]
    tflite, graph = quantize_model(model, xs, where="two-input model")
    ops = [op.op for op in graph.operators]
    assert "SQUARED_DIFFERENCE" in ops and not {"NEG", "DEQUANTIZE", "QUANTIZE"} & set(ops), ops
    n, bad = compare(tflite, ekrt_build_dir, n_random=20, seed=8)
    assert bad == 0


def test_an_integer_form_that_disagrees_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The float check guards the swap: a form off by a little is a ModelError, not a model."""
    import keras

    from edgekit.errors import ModelError
    from edgekit.model import norm_twin

    monkeypatch.setitem(norm_twin._CALLS, "RMSNormalization",
                        lambda self, x: norm_twin._rms_norm(self, x) * 1.001)
    inp = keras.Input((4, 8))
    model = keras.Model(inp, keras.layers.RMSNormalization()(inp))
    with pytest.raises(ModelError, match="integer form of its normalization layers disagrees"):
        with norm_twin.integer_norms(model, [np.random.default_rng(0).normal(0, 1, (8, 4, 8))], "m"):
            pass
    assert keras.layers.RMSNormalization.call is not norm_twin._CALLS["RMSNormalization"]   # put back

"""Causal attention through `quantize` (edgekit.model.mask_twin): the masked logit is a value
int8 can hold, so the attention logits keep their precision (with Keras' -3.4e38 they all
quantized to one code), the model stays close to float, and edgekit-rt stays exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from ekrt_harness import compare, run_tflm

pytestmark = pytest.mark.tf


@pytest.mark.parametrize("dropout", [0.0, 0.1])  # 0.1: Keras' Softmax-layer path (-1e9)
def test_causal_attention_logits_keep_their_precision(dropout: float, ekrt_build_dir: Path) -> None:
    import keras

    from edgekit.model.quantize import quantize_model

    L = keras.layers
    keras.utils.set_random_seed(9)
    inp = keras.Input((6, 8))
    h = L.Add()([inp, L.MultiHeadAttention(2, 4, dropout=dropout)(inp, inp, use_causal_mask=True)])
    model = keras.Model(inp, L.Dense(4)(L.Flatten()(h)))
    x = np.random.default_rng(9).normal(0, 1, (64, 6, 8)).astype(np.float32)
    tflite, graph = quantize_model(model, x, where="attention model")
    selects = [op for op in graph.operators if op.op in ("SELECT_V2", "SELECT")]
    assert selects, graph.op_names()
    for op in selects:  # the masked value's range: a few logits wide, not 1e38
        q = graph.tensors[op.outputs[0]].quant
        assert q is not None and float(q.scale[0]) < 1.0, q
    it, out = graph.input_tensors[0], graph.output_tensors[0]
    xq = np.clip(np.round(x / it.scale) + it.zero_point, -128, 127).astype(np.int8).reshape(len(x), -1)
    got = (run_tflm(tflite, xq).astype(np.float32).reshape(len(x), -1) - out.zero_point) * out.scale
    want = model.predict(x, verbose=0)
    assert np.sqrt(np.mean((got - want) ** 2)) < 2 * out.scale  # int8 close to float
    n, bad = compare(tflite, ekrt_build_dir, n_random=30, seed=9)
    assert bad == 0

"""Structured pruning: genuinely smaller layers, channel groups kept aligned across Add and
Concatenate, a full-int8 conversion, and accuracy back after a distilled fine-tune."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress.distill import FineTune, fine_tune
from edgekit.compress.prune import describe_groups, prune_model
from edgekit.model.quantize import convert_int8, verify_int8
from edgekit.model.tflite_graph import parse_graph
from tests.compress.conftest import accuracy
from tests.conftest import import_keras

pytestmark = [pytest.mark.tf]


def _residual_model():
    """conv a -> (conv b) -> Add(a, b) -> depthwise -> conv c -> Concatenate(dw, c) -> pool -> Flatten -> Dense."""
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(1)
    i = keras.Input((8, 8, 1))
    a = L.Conv2D(8, 3, padding="same", activation="relu", name="a")(i)
    b = L.Conv2D(8, 1, activation="relu", name="b")(a)
    s = L.Add(name="add")([a, b])
    d = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(s)
    c = L.Conv2D(6, 1, activation="relu", name="c")(d)
    x = L.Concatenate(name="cat")([d, c])
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(12, activation="relu", name="fc")(x)
    return keras.Model(i, L.Dense(3, name="out")(x))


def _silence(model, layer: str, channels: list[int]) -> None:
    """Zero a layer's kernel and bias for some output channels: they output exactly 0 (ReLU)."""
    w = model.get_layer(layer).get_weights()
    w[0][..., channels] = 0.0
    w[1][channels] = 0.0
    model.get_layer(layer).set_weights(w)


def test_groups_follow_residual_adds_and_leave_the_output_whole():
    groups = {g.layers: g for g in describe_groups(_residual_model())}
    assert groups[("a", "b")].prunable and groups[("a", "b")].width == 8   # one group across the Add
    assert groups[("c",)].prunable and groups[("fc",)].prunable
    assert not groups[("out",)].prunable


def test_pruning_silent_channels_keeps_outputs_across_add_and_concatenate():
    model = _residual_model()
    # Channels 0-3 of the Add group and 0-2 of c are exactly zero everywhere: pruning half of
    # each group must remove exactly those, aligned through Add, DepthwiseConv2D,
    # Concatenate, pooling and Flatten, and leave the outputs as they were.
    _silence(model, "a", [0, 1, 2, 3])
    _silence(model, "b", [0, 1, 2, 3])
    _silence(model, "c", [0, 1, 2])
    pruned = prune_model(model, {"a": 0.5, "b": 0.5, "c": 0.5})
    assert pruned.get_layer("a").filters == 4 and pruned.get_layer("b").filters == 4
    assert pruned.get_layer("dw").get_weights()[0].shape == (3, 3, 4, 1)
    assert pruned.get_layer("c").filters == 3
    assert pruned.get_layer("fc").get_weights()[0].shape == (4 * 4 * 7, 12)
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert pruned.count_params() < model.count_params()


def test_pruned_mlp_is_smaller_full_int8_and_recovers_after_fine_tuning(digits, digits_mlp):
    model, _ = digits_mlp
    x, y, xt, yt = digits["x_train"], digits["y_train"], digits["x_test"], digits["y_test"]
    base = accuracy(model, xt, yt)
    pruned = prune_model(model, 0.35)
    assert [pruned.get_layer(n).units for n in ("fc1", "fc2", "out")] == [34, 17, 10]
    assert pruned.count_params() < model.count_params() / 2.5
    cut = accuracy(pruned, xt, yt)
    teacher = model.predict(x, verbose=0)
    fine_tune(pruned, teacher, x, y, "classification", FineTune(epochs=8, seed=0))
    tuned = accuracy(pruned, xt, yt)
    assert tuned > cut and tuned >= base - 0.04, (base, cut, tuned)
    graph = parse_graph(convert_int8(pruned, digits["x_calib"][:100]))
    verify_int8(graph, "pruned")   # every op int8, int8 input and output
    assert graph.tensors[graph.operators[1].inputs[1]].shape == (34, 64)


def test_conv1d_with_batchnorm_prunes_like_conv2d():
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 3)), L.Conv1D(12, 5, padding="same", use_bias=False, name="c1"),
                              L.BatchNormalization(name="bn"), L.ReLU(), L.MaxPooling1D(4),
                              L.Conv1D(16, 3, padding="same", name="c2"), L.GlobalAveragePooling1D(),
                              L.Dense(4, activation="softmax", name="out")])
    pruned = prune_model(model, 0.5)
    assert pruned.get_layer("c1").get_weights()[0].shape == (5, 3, 6)
    assert [w.shape for w in pruned.get_layer("bn").get_weights()] == [(6,)] * 4
    assert pruned.get_layer("c2").get_weights()[0].shape == (3, 6, 8)
    assert pruned.get_layer("out").get_weights()[0].shape == (8, 4)
    x = np.random.default_rng(0).random((2, 32, 3), dtype=np.float32)
    assert pruned.predict(x, verbose=0).shape == (2, 4)

"""Low-rank factorization: the rank arithmetic, exact reconstruction of a low-rank kernel, two
thinner layers in place of one, and a full-int8 conversion."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress.lowrank import Factorization, factor_kernel, factorize_model, rank_for_energy
from edgekit.model.quantize import convert_int8, verify_int8
from edgekit.model.tflite_graph import parse_graph
from tests.conftest import import_keras


def test_rank_for_energy():
    s = np.array([3.0, 2.0, 1.0])          # energies 9, 4, 1 of 14: 64%, 93%, 100%
    assert rank_for_energy(s, 0.5) == 1
    assert rank_for_energy(s, 0.64) == 1
    assert rank_for_energy(s, 0.9) == 2
    assert rank_for_energy(s, 0.95) == 3
    assert rank_for_energy(np.zeros(3), 0.9) == 1
    assert Factorization("d", 64, 32, 10, 0.9).saves and not Factorization("d", 8, 8, 5, 0.9).saves


def test_factor_kernel_is_the_best_low_rank_approximation():
    g = np.random.default_rng(0)
    w = (g.normal(size=(40, 3)) @ g.normal(size=(3, 30))).astype(np.float32)   # rank 3
    a, b = factor_kernel(w, 3)
    assert a.shape == (40, 3) and b.shape == (3, 30)
    np.testing.assert_allclose(a @ b, w, atol=1e-4)
    a1, b1 = factor_kernel(w, 1)
    s = np.linalg.svd(w, compute_uv=False)
    assert np.isclose(np.linalg.norm(w - a1 @ b1), np.sqrt((s[1:] ** 2).sum()), rtol=1e-4)   # Eckart-Young


@pytest.mark.tf
def test_dense_and_pointwise_conv_split_in_two_with_the_same_outputs():
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    i = keras.Input((4, 4, 16))
    x = L.Conv2D(32, 1, activation="relu", name="pw")(i)
    x = L.Flatten()(x)
    x = L.Dense(48, activation="relu", name="fc")(x)
    model = keras.Model(i, L.Dense(5, name="out")(x))
    g = np.random.default_rng(1)
    for name, shape in (("pw", (16, 32)), ("fc", (512, 48))):   # make both kernels rank 4
        layer = model.get_layer(name)
        w = layer.get_weights()
        w[0] = (g.normal(size=(shape[0], 4)) @ g.normal(size=(4, shape[1])) * 0.1).astype(np.float32).reshape(
            w[0].shape)
        layer.set_weights(w)
    small, plans = factorize_model(model, 0.999)
    assert {p.layer: p.rank for p in plans} == {"pw": 4, "fc": 4}
    assert small.get_layer("pw_lr").get_weights()[0].shape == (1, 1, 16, 4)
    assert small.get_layer("fc_lr").get_weights()[0].shape == (512, 4)
    assert small.get_layer("fc").get_weights()[0].shape == (4, 48)
    assert small.count_params() < model.count_params() / 4
    x = g.random((8, 4, 4, 16), dtype=np.float32)
    np.testing.assert_allclose(small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-3)
    graph = parse_graph(convert_int8(small, x))
    verify_int8(graph, "factorized")
    assert [op.op for op in graph.operators].count("FULLY_CONNECTED") == 3   # fc_lr, fc, out

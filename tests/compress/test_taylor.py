"""Gradient-based channel importance (first-order Taylor): it sees what L1 cannot, a channel
with big weights that nothing downstream uses."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress.prune import prune_model
from edgekit.compress.taylor import taylor_scores
from tests.conftest import import_keras

pytestmark = [pytest.mark.tf]


def test_taylor_drops_a_big_channel_nothing_reads_where_l1_keeps_it(digits):
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(8, activation="relu", name="fc"),
                              L.Dense(10, activation="softmax", name="out")])
    x, y = digits["x_train"][:256], digits["y_train"][:256]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    fc, out = model.get_layer("fc"), model.get_layer("out")
    kernel, bias = fc.get_weights()
    kernel[:, 0] = np.abs(kernel).max() * 10        # channel 0: the biggest weights by far ...
    fc.set_weights([kernel, bias])
    w_out, b_out = out.get_weights()
    w_out[0] = 0.0                                  # ... and nobody reads it
    out.set_weights([w_out, b_out])

    scores = taylor_scores(model, x, y, "classification")
    assert set(scores) == {"fc", "out"} and scores["fc"].shape == (8,) and scores["out"].shape == (10,)
    assert scores["fc"][0] == 0.0 and (scores["fc"][1:] > 0).any()
    big = kernel[:, 0]
    by_l1 = prune_model(model, {"fc": 0.5}).get_layer("fc").get_weights()[0]
    by_taylor = prune_model(model, {"fc": 0.5}, scores=scores).get_layer("fc").get_weights()[0]
    assert by_l1.shape == by_taylor.shape == (64, 4)
    assert np.allclose(by_l1[:, 0], big)                                  # L1 keeps the dead channel
    assert not any(np.allclose(by_taylor[:, i], big) for i in range(4))   # Taylor drops it

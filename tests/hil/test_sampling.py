"""How `complete` chooses the next token from a step's raw int8 scores (edgekit.hil.complete.Sampling)."""

from __future__ import annotations

import numpy as np

from edgekit.hil.complete import Sampling

EXCLUDED = np.iinfo(np.int64).min


def _scores() -> np.ndarray:
    q = np.array([EXCLUDED, EXCLUDED, -20, 40, 35, -128, 39, 10], dtype=np.int64)  # pad, unk excluded
    return q


def test_greedy_is_the_raw_argmax() -> None:
    assert Sampling().chooser(0.1)(_scores()) == 3


def test_a_seeded_draw_repeats_and_never_takes_an_excluded_id() -> None:
    draws = [Sampling(temperature=5.0, seed=7).chooser(0.1) for _ in range(2)]
    a = [draws[0](_scores()) for _ in range(200)]
    b = [draws[1](_scores()) for _ in range(200)]
    assert a == b and not {0, 1} & set(a)
    assert len(set(a)) > 3          # a high temperature spreads the draws
    other = Sampling(temperature=5.0, seed=8).chooser(0.1)
    assert [other(_scores()) for _ in range(200)] != a


def test_top_k_keeps_the_k_best_and_a_low_temperature_is_greedy() -> None:
    top3 = Sampling(temperature=10.0, top_k=3, seed=1).chooser(0.1)
    assert {top3(_scores()) for _ in range(300)} == {3, 4, 6}
    cold = Sampling(temperature=1e-3, seed=1).chooser(0.1)
    assert {cold(_scores()) for _ in range(50)} == {3}

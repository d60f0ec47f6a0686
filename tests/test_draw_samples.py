"""`hil --samples N` draws N test inputs: seeded (the same every run), stratified by class."""

from __future__ import annotations

import numpy as np

from edgekit.data import draw_samples


def test_a_sorted_anomaly_set_keeps_both_classes() -> None:
    y = np.array([0] * 95 + [1] * 5)   # sorted by label: the first 10 would all be normal
    idx = draw_samples(100, 10, y)
    assert len(idx) == 10 and list(idx) == sorted(idx) and len(set(idx)) == 10
    assert set(y[idx]) == {0, 1}
    assert list(idx) == list(draw_samples(100, 10, y))   # seeded


def test_classes_keep_their_share_and_one_hot_counts() -> None:
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    idx = draw_samples(100, 20, y)
    assert np.bincount(y[idx]).tolist() == [8, 6, 4, 2]
    onehot = np.eye(4)[y]
    assert list(draw_samples(100, 20, onehot)) == list(idx)
    # More classes than samples asked: each sampled class once, no more than asked.
    assert len(draw_samples(100, 3, y)) == 3


def test_regression_targets_and_no_labels_draw_plainly() -> None:
    y = np.linspace(0, 1, 50)
    idx = draw_samples(50, 7, y)
    assert len(idx) == 7 and len(set(idx)) == 7
    assert list(draw_samples(50, 7, None)) == list(idx)   # the same seeded draw: no strata
    assert list(draw_samples(5, 10, None)) == [0, 1, 2, 3, 4]

"""Helpers shared by the example modules (private)."""

from __future__ import annotations

import numpy as np


def rng(seed: int, stream: int = 0) -> np.random.Generator:
    """A numpy Generator that depends only on (seed, stream)."""
    return np.random.default_rng([int(seed), int(stream)])


def stratified_split(
    y: np.ndarray, test_fraction: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/test index arrays with every class split in the same proportion."""
    train, test = [], []
    for c in np.unique(y):
        idx = gen.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return gen.permutation(np.concatenate(train)), gen.permutation(np.concatenate(test))

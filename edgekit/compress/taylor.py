"""Gradient-based channel importance: first-order Taylor scores (Molchanov et al., 2017/2019).

Removing output channel c of a layer changes the loss by about |sum over its weights of
w * dL/dw| (the first-order Taylor term of setting them to zero). The score of a channel here
is that sum taken per batch, in absolute value, and summed over a few fixed batches of the
training data (kernel and bias). Unlike L1, it sees whether a channel matters downstream: a
channel with big weights that the next layer ignores scores zero. The loss is the task's own
on the labels (cross-entropy for classifiers, mean squared error otherwise); the batches are
the first ones of the training set, so the scores are deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.compress.distill import distillation_targets
from edgekit.compress.prune import SOURCES, Scores
from edgekit.model.metrics import CLASS_TASKS

IMPORTANCES = ("l1", "taylor")
TAYLOR_BATCHES, TAYLOR_BATCH = 4, 64


def taylor_scores(model: Any, x: np.ndarray, y: np.ndarray, task: str, *, batches: int = TAYLOR_BATCHES,
                  batch: int = TAYLOR_BATCH) -> Scores:
    """Per output channel of every Dense/Conv layer of `model`, the summed |first-order Taylor
    term| of removing it, over the first `batches` batches of (`x`, `y`) (see the module docstring)."""
    import keras

    from edgekit.model.keras_io import import_tensorflow

    tf = import_tensorflow()
    layers = [layer for layer in model.layers if type(layer).__name__ in SOURCES]
    scores = {layer.name: np.zeros(int(layer.get_weights()[0].shape[-1]), np.float64) for layer in layers}
    probabilities = task in CLASS_TASKS and getattr(getattr(model.layers[-1], "activation", None), "__name__",
                                                     "") == "softmax"
    out_shape = tuple(int(d) for d in model.output_shape[1:])
    targets = distillation_targets(task, x, y, np.zeros((len(x), *out_shape), np.float32), 1.0)
    if task in CLASS_TASKS:
        loss_fn: Any = keras.losses.CategoricalCrossentropy(from_logits=not probabilities)
    else:
        loss_fn = keras.losses.MeanSquaredError()
    for b in range(min(batches, max(1, len(x) // batch))):
        xb = tf.constant(x[b * batch:(b + 1) * batch], tf.float32)
        tb = tf.constant(targets[b * batch:(b + 1) * batch], tf.float32)
        weights = [w for layer in layers for w in layer.trainable_weights]
        with tf.GradientTape() as tape:
            loss = loss_fn(tb, model(xb, training=False))
        grads = tape.gradient(loss, weights)
        by_var = {id(w): g for w, g in zip(weights, grads)}
        for layer in layers:
            total = np.zeros_like(scores[layer.name])
            for w in layer.trainable_weights:
                g = by_var.get(id(w))
                if g is None:
                    continue
                term = np.asarray(w.numpy(), np.float64) * np.asarray(g.numpy(), np.float64)
                total += term.reshape(-1, term.shape[-1]).sum(axis=0)
            scores[layer.name] += np.abs(total)
    return scores


__all__ = ["IMPORTANCES", "taylor_scores", "TAYLOR_BATCHES", "TAYLOR_BATCH"]

"""Knowledge distillation: every fine-tune learns from the original model as well as the labels.

The teacher is run once on the training inputs; the student is then trained with plain
`model.fit` on targets that mix the labels and the teacher's outputs:
- classification and next-word: alpha * one-hot(label) + (1 - alpha) * teacher probabilities, with
  categorical cross-entropy. That is Hinton's distillation loss at temperature 1, the only
  temperature a softmax-output model offers (its logits are not outputs), and cross-entropy
  is linear in the target, so the mix is exactly alpha * CE(labels) + (1 - alpha) * CE(teacher).
- regression: alpha * label + (1 - alpha) * teacher output, mean squared error.
- anomaly (an autoencoder): the student matches the teacher's reconstruction (and the input,
  weighted by alpha), mean squared error: the anomaly score is the reconstruction error, so
  matching the teacher keeps the scores it ranks by.
keras.distillation.Distiller does the same with a custom train step that runs the teacher on
every batch; running it once is cheaper on two cores and keeps training deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.model.metrics import CLASS_TASKS

DEFAULT_ALPHA = 0.5


@dataclass(frozen=True)
class FineTune:
    """How a compressed model is fine-tuned."""

    epochs: int = 10
    learning_rate: float = 0.002
    batch: int = 32
    alpha: float = DEFAULT_ALPHA     # weight of the labels; 1 - alpha goes to the teacher
    seed: int = 0


def _softmax_output(model: Any) -> bool:
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    return getattr(act, "__name__", "") == "softmax" or type(last).__name__ == "Softmax"


def distillation_targets(task: str, x: np.ndarray, y: np.ndarray, teacher_out: np.ndarray,
                         alpha: float, *, probabilities: bool = True) -> np.ndarray:
    """Training targets mixing labels `y` and the teacher's outputs (see the module docstring)."""
    n = len(x)
    teacher = teacher_out.reshape(n, -1).astype(np.float32)
    if task in CLASS_TASKS:
        if not probabilities:   # logits: the teacher's probabilities are their softmax
            e = np.exp(teacher - teacher.max(axis=1, keepdims=True))
            teacher = e / e.sum(axis=1, keepdims=True)
        labels = np.asarray(y)
        onehot = labels.astype(np.float32) if labels.ndim == 2 else np.eye(teacher.shape[1], dtype=np.float32)[
            labels.astype(np.int64)]
        return (alpha * onehot + (1 - alpha) * teacher).reshape(teacher_out.shape)
    if task == "anomaly":
        target_x = x.reshape(n, -1).astype(np.float32)
        return (alpha * target_x + (1 - alpha) * teacher).reshape(teacher_out.shape)
    return (alpha * np.asarray(y, np.float32).reshape(n, -1) + (1 - alpha) * teacher).reshape(teacher_out.shape)


def fine_tune(student: Any, teacher_out: np.ndarray, x: np.ndarray, y: np.ndarray, task: str,
              settings: FineTune) -> Any:
    """Train `student` in place on distillation targets (teacher outputs `teacher_out` on `x`)
    with Adam and a cosine-decayed learning rate; returns it."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    probabilities = _softmax_output(student)
    targets = distillation_targets(task, x, y, teacher_out, settings.alpha, probabilities=probabilities)
    if task in CLASS_TASKS:
        loss: Any = keras.losses.CategoricalCrossentropy(from_logits=not probabilities)
    else:
        loss = "mse"
    steps = max(1, settings.epochs * math.ceil(len(x) / settings.batch))
    lr = keras.optimizers.schedules.CosineDecay(settings.learning_rate, steps, alpha=0.05)
    student.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    student.fit(x, targets, batch_size=settings.batch, epochs=settings.epochs, shuffle=True, verbose=0)
    return student


__all__ = ["FineTune", "DEFAULT_ALPHA", "distillation_targets", "fine_tune"]

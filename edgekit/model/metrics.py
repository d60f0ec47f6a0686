"""Task metrics: accuracy (classification), MAE (regression), ROC AUC (anomaly)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.errors import DataError

TASKS = ("classification", "regression", "anomaly")
METRIC_OF_TASK = {"classification": "accuracy", "regression": "mae", "anomaly": "roc_auc"}
HIGHER_IS_BETTER = {"accuracy": True, "mae": False, "roc_auc": True}


def infer_task(x: np.ndarray, y: np.ndarray | None, output_shape: tuple[int, ...]) -> str | None:
    """Guess the task from labels and output shape; None when there are no labels.

    anomaly: the model reconstructs its input and labels are 0/1; classification: integer
    (or one-hot) labels and several outputs; otherwise regression.
    """
    if y is None:
        return None
    y = np.asarray(y)
    per_sample_out = tuple(output_shape[1:])
    integral = np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)
    if per_sample_out == tuple(x.shape[1:]) and y.ndim == 1 and set(np.unique(y)) <= {0, 1}:
        return "anomaly"
    if integral and y.ndim == 1 and int(np.prod(per_sample_out)) > 1:
        return "classification"
    if y.ndim == 2 and y.shape[1:] == per_sample_out and np.allclose(y.sum(axis=1), 1) and per_sample_out[-1] > 1:
        return "classification"
    return "regression"


def anomaly_scores(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Per-sample mean squared reconstruction error."""
    diff = reconstruction.reshape(len(x), -1).astype(np.float64) - x.reshape(len(x), -1)
    return np.mean(diff * diff, axis=1)


def predictions(task: str, x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """What the model predicts per sample: class index, value(s), or anomaly score."""
    if task == "classification":
        return np.argmax(outputs.reshape(len(outputs), -1), axis=1)
    if task == "anomaly":
        return anomaly_scores(x, outputs)
    return outputs


def task_metric(task: str, x: np.ndarray, y: np.ndarray, outputs: np.ndarray) -> float:
    """The task's metric on float outputs (dequantized for int8 models)."""
    if len(y) != len(outputs):
        raise DataError(f"{len(outputs)} inputs but {len(y)} labels: they must pair up")
    if task == "classification":
        labels = np.argmax(y, axis=1) if y.ndim == 2 else y.astype(np.int64)
        return float(np.mean(predictions(task, x, outputs) == labels))
    if task == "regression":
        return float(np.mean(np.abs(outputs.reshape(len(y), -1) - y.reshape(len(y), -1))))
    if task == "anomaly":
        from sklearn.metrics import roc_auc_score

        labels = y.astype(np.int64)
        if len(np.unique(labels)) < 2:
            raise DataError("ROC AUC needs both normal (0) and anomalous (1) test samples")
        return float(roc_auc_score(labels, anomaly_scores(x, outputs)))
    raise DataError(f"unknown task '{task}' (expected one of: {', '.join(TASKS)})")


@dataclass
class Agreement:
    """How often the int8 model predicts what the float model predicts."""

    share: float
    definition: str


def float_int8_agreement(task: str, float_out: np.ndarray, int8_out: np.ndarray,
                         int8_q: np.ndarray, out_scale: float, out_zp: int) -> Agreement:
    """Classification: same class. Regression/anomaly: every output within 1 LSB of the float
    output quantized to the int8 output's grid."""
    n = len(float_out)
    if task == "classification":
        same = np.argmax(float_out.reshape(n, -1), 1) == np.argmax(int8_out.reshape(n, -1), 1)
        return Agreement(float(np.mean(same)), "same predicted class")
    from edgekit.model.reference import quantize

    fq = quantize(float_out, out_scale, out_zp).astype(np.int16).reshape(n, -1)
    close = np.all(np.abs(fq - int8_q.astype(np.int16).reshape(n, -1)) <= 1, axis=1)
    return Agreement(float(np.mean(close)), "all outputs within 1 LSB of the float output")

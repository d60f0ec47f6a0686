"""Task metrics: accuracy (classification), MAE (regression), ROC AUC (anomaly), top-1
accuracy with top-3 and perplexity beside it (next-word: a classifier over a vocabulary, labels
are word ids)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.errors import DataError

TASKS = ("classification", "regression", "anomaly", "next-word")
METRIC_OF_TASK = {"classification": "accuracy", "regression": "mae", "anomaly": "roc_auc",
                  "next-word": "top1_accuracy"}
HIGHER_IS_BETTER = {"accuracy": True, "mae": False, "roc_auc": True, "top1_accuracy": True,
                    "top3_accuracy": True, "perplexity": False}
#: Figures reported beside a task's metric (never gated), in the order they are reported.
EXTRA_METRICS: dict[str, tuple[str, ...]] = {"next-word": ("top3_accuracy", "perplexity")}
#: The probability a label is given at least when scoring probabilities (Keras's epsilon): an int8
#: softmax rounds a small probability to 0, whose log-likelihood would be infinite.
MIN_PROBABILITY = 1e-7
#: Tasks whose outputs are class scores and whose labels are class indices.
CLASS_TASKS = ("classification", "next-word")


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
    if integral and y.ndim >= 2 and _labels_every_position(y.shape, (1, *per_sample_out)):
        return "classification"
    if y.ndim == 2 and y.shape[1:] == per_sample_out and np.allclose(y.sum(axis=1), 1) and per_sample_out[-1] > 1:
        return "classification"
    return "regression"


def _labels_every_position(y_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> bool:
    """Labels name a class at every position of a sequence model (a causal LM's next token at each
    of T positions: labels (N, T), outputs (N, T, classes)): the outputs' last axis is the classes."""
    return len(output_shape) == len(y_shape) + 1 and tuple(y_shape[1:]) == tuple(output_shape[1:-1]) \
        and output_shape[-1] > 1


def class_view(y: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class ids, scores): one label and one row of class scores per input for a classifier
    (labels as ids or one-hot rows), or per position for labels at every position."""
    y, n = np.asarray(y), len(outputs)
    per_input = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
    width = outputs.size // max(n, 1)
    if y.ndim > 1 and per_input > 1 and width != per_input and width % per_input == 0:
        return y.reshape(-1).astype(np.int64), outputs.reshape(n * per_input, -1)
    labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(n).astype(np.int64)
    return labels, outputs.reshape(n, -1)


def class_id_scores(ids: np.ndarray, n_classes: int) -> np.ndarray:
    """Class ids (a model ending in ARG_MAX: one int32 per sample) as one-hot scores over
    `n_classes`, so a classifier's metrics (accuracy, confusion) score them as they score
    probabilities."""
    flat = np.asarray(ids).reshape(len(ids), -1)[:, 0].astype(np.int64)
    return np.eye(n_classes, dtype=np.float32)[np.clip(flat, 0, n_classes - 1)]


def label_classes(y: np.ndarray) -> int:
    """Classes the labels name (integer ids, or one-hot rows)."""
    y = np.asarray(y)
    return int(y.shape[1]) if y.ndim == 2 and y.shape[1] > 1 else max(2, int(np.max(y)) + 1)


def class_id_shape(y: np.ndarray | None, shape: tuple[int, ...], dtype: str) -> tuple[int, ...]:
    """The output shape (batch axis first) labels are checked against: a class-id output
    (int32, ARG_MAX) as the classifier it is, one score per class the labels name."""
    return (1, label_classes(y)) if dtype == "int32" and y is not None else shape


def check_labels(x: np.ndarray, y: np.ndarray | None, output_shape: tuple[int, ...], task: str | None,
                 *, where: str) -> str | None:
    """The task to score (`task`, else inferred), after checking the labels fit it and the model.

    `output_shape` is the model output's shape with its batch axis; `where` names the labels
    (e.g. "data.npz:y_test"). Raises DataError naming the file, key and the offending value or
    shape: a count that differs from the inputs, a class index out of range, a one-hot width
    that is not the model's class count, float labels for a classifier, a label shape that
    does not match a regression output. Called before any model runs.
    """
    if task is not None and task not in TASKS:
        raise DataError(f"unknown task '{task}'", hint=f"use one of: {', '.join(TASKS)}")
    if y is None:
        if task is not None:
            raise DataError(f"task '{task}' needs labels, but there is no {where}",
                            hint="save labels beside the inputs: y_test with x_test, y with x")
        return None
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.number) and y.dtype != np.bool_:
        raise DataError(f"{where} has dtype {y.dtype}; labels must be numbers")
    if y.ndim == 0 or len(y) != len(x):
        raise DataError(f"{where} holds {0 if y.ndim == 0 else len(y)} labels for {len(x)} inputs: "
                        "they must pair up, one label per input")
    if not np.all(np.isfinite(y)):
        bad = int(np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).any(axis=1))[0])
        raise DataError(f"{where} has a NaN or infinite label at index {bad}")
    task = task or infer_task(x, y, output_shape)
    outputs = int(np.prod(output_shape[1:]))
    per_sample = int(np.prod(y.shape[1:]))
    if task in CLASS_TASKS and len(output_shape) > 2 and y.ndim >= 2 and per_sample != outputs:
        if not _labels_every_position(y.shape, tuple(output_shape)):
            raise DataError(f"{where} has labels of shape {y.shape[1:]} per input, the model outputs "
                            f"{tuple(output_shape[1:])}: a sequence model needs one class index per position, "
                            f"shape {tuple(output_shape[1:-1])}")
        _check_classes(y.reshape(-1), int(output_shape[-1]), where)
    elif task in CLASS_TASKS:
        _check_classes(y, outputs, where)
    elif task == "anomaly":
        if y.ndim != 1:
            raise DataError(f"{where} has labels of shape {y.shape[1:]} per input; anomaly labels are one "
                            "0 (normal) or 1 (anomalous) per input")
        not_01 = np.flatnonzero((y != 0) & (y != 1))
        if not_01.size:
            raise DataError(f"{where} has label {y[not_01[0]].item()!r} at index {int(not_01[0])}; anomaly labels are "
                            "0 (normal) or 1 (anomalous)")
    elif per_sample != outputs:
        one_hot = y.ndim == 2 and y.shape[1] > 1 and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)
        if one_hot:
            raise DataError(f"{where} is one-hot with width {y.shape[1]}, the model outputs {outputs} classes")
        if outputs > 1 and per_sample == 1:
            example = y.reshape(-1)[0].item()
            raise DataError(f"{where} holds one {y.dtype} value per input (e.g. {example!r}) for a model "
                            f"with {outputs} outputs: a classifier needs integer class indices 0..{outputs - 1} "
                            "or one-hot rows; a regression needs one value per output")
        raise DataError(f"{where} has labels of shape {y.shape[1:]} per input, the model outputs "
                        f"{tuple(output_shape[1:])}")
    return task


def _check_classes(y: np.ndarray, classes: int, where: str) -> None:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape[1] != classes:
            raise DataError(f"{where} is one-hot with width {y.shape[1]}, the model outputs {classes} classes")
        return
    if y.ndim != 1:
        raise DataError(f"{where} has labels of shape {y.shape[1:]} per input; a classifier needs one class "
                        f"index per input, one-hot rows of width {classes}, or (a sequence model whose last "
                        "output axis is the classes) one class index per position")
    fractional = np.flatnonzero(np.mod(y, 1) != 0)
    if fractional.size:
        i = int(fractional[0])
        raise DataError(f"{where} holds float labels (e.g. {y[i].item()!r} at index {i}) for a classifier",
                        hint=f"give integer class indices 0..{classes - 1}, or pass --task regression")
    out_of_range = np.flatnonzero((y < 0) | (y >= classes))
    if out_of_range.size:
        i = int(out_of_range[0])
        raise DataError(f"{where} has class {int(y[i])} at index {i}, but the model outputs {classes} classes "
                        f"(0..{classes - 1})")


def anomaly_scores(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Per-sample mean squared reconstruction error."""
    diff = reconstruction.reshape(len(x), -1).astype(np.float64) - x.reshape(len(x), -1)
    return np.mean(diff * diff, axis=1)


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """The class each sample's scores pick; one per position for a sequence model's outputs
    (more than 2 axes: the last one is the classes)."""
    if outputs.ndim > 2:
        return np.argmax(outputs, axis=-1)
    return np.argmax(outputs.reshape(len(outputs), -1), axis=1)


def predictions(task: str, x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """What the model predicts per sample: class (word) index (one per position for outputs of a
    sequence model, whose last axis is the classes), value(s), or anomaly score."""
    if task in CLASS_TASKS:
        return predicted_classes(outputs)
    if task == "anomaly":
        return anomaly_scores(x, outputs)
    return outputs


def task_metric(task: str, x: np.ndarray, y: np.ndarray, outputs: np.ndarray) -> float:
    """The task's metric on float outputs (dequantized for int8 models)."""
    if len(y) != len(outputs):
        raise DataError(f"{len(outputs)} inputs but {len(y)} labels: they must pair up")
    if task in CLASS_TASKS:
        labels, scores = class_view(y, outputs)
        return float(np.mean(np.argmax(scores, axis=1) == labels))
    if task == "regression":
        return float(np.mean(np.abs(outputs.reshape(len(y), -1) - y.reshape(len(y), -1))))
    if task == "anomaly":
        from sklearn.metrics import roc_auc_score

        labels = y.astype(np.int64)
        if len(np.unique(labels)) < 2:
            raise DataError("ROC AUC needs both normal (0) and anomalous (1) test samples")
        return float(roc_auc_score(labels, anomaly_scores(x, outputs)))
    raise DataError(f"unknown task '{task}' (expected one of: {', '.join(TASKS)})")


def top_k_accuracy(y: np.ndarray, outputs: np.ndarray, k: int) -> float:
    """Share of labels among the k highest outputs (ties: the lower index)."""
    labels, scores = class_view(y, outputs)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels.reshape(-1, 1), axis=1)))


def scores_are_logits(outputs: np.ndarray) -> bool:
    """Whether class scores (last axis the classes) are logits rather than probabilities: some are
    negative, or the rows do not sum to 1 on average (a float softmax's do to rounding; an int8
    softmax's within a few hundredths, its small probabilities rounded to 0)."""
    scores = np.asarray(outputs, dtype=np.float64)
    scores = scores.reshape(-1, scores.shape[-1])
    return bool(np.any(scores < 0) or abs(float(np.mean(scores.sum(axis=1))) - 1.0) > 0.1)


def perplexity(y: np.ndarray, outputs: np.ndarray, *, logits: bool | None = None) -> float:
    """exp of the mean negative log-likelihood of the labels (at each position of a sequence
    model). `logits`: whether the outputs are logits (softmaxed here) or probabilities
    (renormalised per row, at least MIN_PROBABILITY); None decides by scores_are_logits."""
    labels, scores = class_view(y, outputs)
    scores = scores.astype(np.float64)
    if scores_are_logits(scores) if logits is None else logits:
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    else:
        log_p = np.log(np.maximum(scores / np.maximum(scores.sum(axis=1, keepdims=True), MIN_PROBABILITY),
                                  MIN_PROBABILITY))
    return float(np.exp(-np.mean(log_p[np.arange(len(labels)), labels])))


def extra_metrics(task: str, y: np.ndarray, outputs: np.ndarray, *,
                  kind_of: np.ndarray | None = None) -> dict[str, float]:
    """The figures reported beside the task's metric (EXTRA_METRICS): next-word top-3 and
    perplexity. `kind_of`: scores of the same kind as `outputs` (logits or probabilities) that
    tell it better, the float model's when scoring its int8 form (an int8 softmax's rows sum to 1
    less exactly); by default the outputs themselves."""
    figures = {"top3_accuracy": lambda: top_k_accuracy(y, outputs, 3),
               "perplexity": lambda: perplexity(y, outputs, logits=scores_are_logits(
                   outputs if kind_of is None else kind_of))}
    return {name: figures[name]() for name in EXTRA_METRICS.get(task, ())}


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
    if task in CLASS_TASKS:
        same = predicted_classes(float_out) == predicted_classes(int8_out)
        return Agreement(float(np.mean(same)), "same predicted class" + (" at each position" if same.ndim > 1 else ""))
    from edgekit.model.tensor_data import quantize

    fq = quantize(float_out, out_scale, out_zp).astype(np.int16).reshape(n, -1)
    close = np.all(np.abs(fq - int8_q.astype(np.int16).reshape(n, -1)) <= 1, axis=1)
    return Agreement(float(np.mean(close)), "all outputs within 1 LSB of the float output")

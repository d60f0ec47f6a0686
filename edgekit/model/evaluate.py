"""Run float (Keras or .tflite) and int8 (.tflite) models on data and measure the task metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import Dataset, fit_to_input, load_dataset
from edgekit.errors import InputFileError
from edgekit.model import metrics
from edgekit.model.keras_io import load_keras_model, static_input_shape, static_output_shape
from edgekit.model.reference import dequantize, int8_interpreter, model_input
from edgekit.model.tflite_graph import Graph, load_graph


@dataclass
class Outputs:
    """A model's outputs on a set of inputs, as float (dequantized for int8 models)."""

    values: np.ndarray
    int8: np.ndarray | None = None  # raw int8 outputs of an int8 model
    backend: str = "keras"


def run_keras(model: Any, x: np.ndarray) -> Outputs:
    """The float outputs of a Keras model on `x`, predicted in batches of 256."""
    return Outputs(np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float32))


def run_tflite(model_bytes: bytes, graph: Graph, x: np.ndarray, backend: str = "auto") -> Outputs:
    """Quantize inputs (token ids as they are), run the integer model on the most exact host
    interpreter, dequantize."""
    tin, tout = graph.input_tensors[0], graph.output_tensors[0]
    if tin.dtype not in ("int8", "uint8", "int16", "int32"):
        return _run_float_tflite(model_bytes, x)
    interp = int8_interpreter(model_bytes, graph, backend)
    xq = model_input(x, tin)
    yq = interp.run(xq)
    y = dequantize(yq, tout.scale, tout.zero_point) if tout.quant is not None else yq.astype(np.float32)
    return Outputs(y, yq, interp.label)


def _run_float_tflite(model_bytes: bytes, x: np.ndarray) -> Outputs:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for sample in x:
        it.set_tensor(i, sample[None].astype(np.float32))
        it.invoke()
        outs.append(np.array(it.get_tensor(o), copy=True)[0])
    return Outputs(np.stack(outs), None, "litert")


@dataclass
class EvaluationReport:
    """The result of `edgekit evaluate`: model, interpreter, data and task metric (None without labels)."""

    model: str
    kind: str  # "keras float", "tflite int8", "tflite float"
    backend: str
    data: str
    samples: int
    task: str | None
    metric: str | None
    value: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (`edgekit evaluate --json`)."""
        return asdict(self)


def resolve_task(task: str | None, x: np.ndarray, y: np.ndarray | None, out_shape: tuple[int, ...],
                 where: str = "the labels") -> str | None:
    """The task to score: `task` if given, else inferred from labels and output shape (None without labels).

    Raises DataError when `task` is unknown or the labels do not fit the model (see metrics.check_labels).
    """
    return metrics.check_labels(x, y, out_shape, task, where=where)


def check_data_labels(data_path: Path, model_path: Path, task: str | None = None) -> str | None:
    """Check the test labels of `data_path` against the int8 .tflite at `model_path` (see
    metrics.check_labels) before a pipeline spends time on the model; returns the task."""
    graph = load_graph(model_path)
    dataset = load_dataset(data_path)
    xkey, x, y = dataset.evaluation()
    x = fit_to_input(x, graph.input_tensors[0].shape[1:], what=f"{dataset.path}:{xkey}")
    return resolve_task(task, x, y, graph.output_tensors[0].shape, dataset.labels_where(xkey))


def evaluate_model(model_path: Path, dataset: Dataset, task: str | None = None) -> EvaluationReport:
    """`edgekit evaluate`: the task metric of any .keras or .tflite model on a dataset."""
    xkey, x, y = dataset.evaluation()
    labels = dataset.labels_where(xkey)
    suffix = model_path.suffix
    if suffix in (".keras", ".h5"):
        model = load_keras_model(model_path)
        x = fit_to_input(x, static_input_shape(model, str(model_path)), what=f"{dataset.path}:{xkey}")
        task = resolve_task(task, x, y, static_output_shape(model, str(model_path)), labels)  # before any work
        outs = run_keras(model, x)
        kind = "keras float"
    elif suffix == ".tflite":
        graph = load_graph(model_path)
        x = fit_to_input(x, graph.input_tensors[0].shape[1:], what=f"{dataset.path}:{xkey}")
        task = resolve_task(task, x, y, graph.output_tensors[0].shape, labels)
        outs = run_tflite(model_path.read_bytes(), graph, x)
        kind = f"tflite {graph.input_tensors[0].dtype}"
    else:
        raise InputFileError(f"{model_path}: unknown model type '{suffix}'", hint="pass a .keras or .tflite file")
    value = metrics.task_metric(task, x, y, outs.values) if task and y is not None else None
    return EvaluationReport(str(model_path), kind, outs.backend, str(dataset.path), len(x), task,
                            metrics.METRIC_OF_TASK.get(task) if task else None, value)

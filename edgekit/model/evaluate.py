"""Run float (Keras or .tflite) and int8 (.tflite) models on data and measure the task metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import Dataset, fit_to_input, load_dataset
from edgekit.errors import InputFileError
from edgekit.model import metrics
from edgekit.model.decode import SampleShapes, run_sequences
from edgekit.model.keras_io import keras_io, load_keras_model
from edgekit.model.reference import int8_interpreter
from edgekit.model.tensor_data import dequantize, model_inputs
from edgekit.model.tflite_graph import Graph, load_graph


@dataclass
class Outputs:
    """A model's outputs on a set of inputs, as float (dequantized for int8 models)."""

    values: np.ndarray
    int8: np.ndarray | None = None  # raw int8 outputs of an int8 model
    backend: str = "keras"


def run_keras(model: Any, x: np.ndarray) -> Outputs:
    """The float outputs of a single-output Keras model on `x`, predicted in batches of 256."""
    return run_keras_all(model, [x])[0]


def run_keras_all(model: Any, xs: list[np.ndarray]) -> list[Outputs]:
    """Each output of a Keras model on its inputs `xs` (one array each, the model's order)."""
    pred = model.predict(xs[0] if len(xs) == 1 else list(xs), batch_size=256, verbose=0)
    pred = pred if isinstance(pred, (list, tuple)) else [pred]
    return [Outputs(np.asarray(p, dtype=np.float32)) for p in pred]


def run_tflite(model_bytes: bytes, graph: Graph, x: np.ndarray, backend: str = "auto") -> Outputs:
    """Quantize inputs (token ids as they are), run the integer model on the most exact host
    interpreter, dequantize: a single-input model's first output."""
    tin = graph.input_tensors[0]
    if tin.dtype not in ("int8", "uint8", "int16", "int32"):
        return _run_float_tflite(model_bytes, x)
    return run_tflite_all(model_bytes, graph, [x], backend)[0]


def run_tflite_all(model_bytes: bytes, graph: Graph, xs: list[np.ndarray], backend: str = "auto", *,
                   where: str = "the data") -> list[Outputs]:
    """An integer model on one array per input (graph order): each output, dequantized. A
    decode step takes its window model's input, sequences of token ids (edgekit.model.decode)."""
    interp = int8_interpreter(model_bytes, graph, backend)
    if graph.state:  # a decode step: on whole token sequences, as its window model
        yqs = run_sequences(interp, graph, model_inputs(graph, xs[:1], where=where)[0])
    else:
        yqs = interp.run_all(model_inputs(graph, xs, where=where))
    outs = []
    for yq, tout in zip(yqs, graph.output_tensors):
        y = dequantize(yq, tout.scale, tout.zero_point) if tout.quant is not None else yq.astype(np.float32)
        outs.append(Outputs(y, yq, interp.label))
    return outs


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
    extra: dict[str, Any] = field(default_factory=dict)   # metrics.EXTRA_METRICS of the (first) output
    # A model of several outputs: each one's name, task, metric and value (the fields above
    # hold the first output's); empty for one output.
    outputs: list[dict[str, Any]] = field(default_factory=list)

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
    metrics.check_labels; every output's for a model of several) before a pipeline spends time
    on the model; returns the (first output's) task."""
    graph = load_graph(model_path)
    dataset = load_dataset(data_path)
    in_names, in_shapes, out_shapes = _data_shapes(graph, str(model_path))
    prefix, xs, keys = dataset.model_inputs("evaluation", in_names)
    xs = [fit_to_input(x, shape, what=f"{dataset.path}:{key}") for x, shape, key in zip(xs, in_shapes, keys)]
    labels = dataset.model_labels(prefix, [graph.io_name(i) for i in graph.outputs])
    tasks = [resolve_task(task if j == 0 else None, xs[0], y, shape, where)
             for j, ((where, y), shape) in enumerate(zip(labels, out_shapes))]
    return tasks[0]


def _data_shapes(graph: Graph, where: str) -> tuple[list[str], list[tuple[int, ...]], list[tuple[int, ...]]]:
    """The names and sample shapes of the data's inputs, and the output shapes labels are checked
    against (a decode step's: its window model's, edgekit.model.decode.SampleShapes)."""
    if graph.state:
        shapes = SampleShapes.of(graph, where)
        return shapes.input_names, shapes.inputs, [(1, *s) for s in shapes.outputs]
    return ([graph.io_name(i) for i in graph.inputs], [t.sample_shape for t in graph.input_tensors],
            [t.shape for t in graph.output_tensors])


def evaluate_model(model_path: Path, dataset: Dataset, task: str | None = None) -> EvaluationReport:
    """`edgekit evaluate`: the task metric of any .keras or .tflite model on a dataset; for a
    model of several outputs, each output's (`task` is the first output's)."""
    suffix = model_path.suffix
    graph = None
    if suffix in (".keras", ".h5"):
        model = load_keras_model(model_path)
        io = keras_io(model, str(model_path))
        in_names, in_shapes, out_names = io.input_names, io.input_shapes, io.output_names
        out_shapes = [(1, *s) for s in io.output_shapes]
        kind = "keras float"
    elif suffix == ".tflite":
        graph = load_graph(model_path)
        in_names, in_shapes, out_shapes = _data_shapes(graph, str(model_path))
        out_names = [graph.io_name(i) for i in graph.outputs]
        kind = f"tflite {graph.input_tensors[0].dtype}" + (" decode step" if graph.state else "")
    else:
        raise InputFileError(f"{model_path}: unknown model type '{suffix}'", hint="pass a .keras or .tflite file")
    prefix, xs, keys = dataset.model_inputs("evaluation", in_names)
    xs = [fit_to_input(x, shape, what=f"{dataset.path}:{key}") for x, shape, key in zip(xs, in_shapes, keys)]
    labels = dataset.model_labels(prefix, out_names)
    tasks = [resolve_task(task if j == 0 else None, xs[0], y, shape, where)  # before any work
             for j, ((where, y), shape) in enumerate(zip(labels, out_shapes))]
    if graph is None:
        outs = run_keras_all(model, xs)
    elif len(xs) == 1 and graph.input_tensors[0].dtype not in ("int8", "uint8", "int16", "int32"):
        outs = [_run_float_tflite(model_path.read_bytes(), xs[0])]
    else:
        outs = run_tflite_all(model_path.read_bytes(), graph, xs, where=str(dataset.path))
    values = [metrics.task_metric(t, xs[0], y, o.values) if t and y is not None else None
              for t, (_, y), o in zip(tasks, labels, outs)]
    report = EvaluationReport(str(model_path), kind, outs[0].backend, str(dataset.path), len(xs[0]), tasks[0],
                              metrics.METRIC_OF_TASK.get(tasks[0]) if tasks[0] else None, values[0])
    y0 = labels[0][1]
    if tasks[0] and y0 is not None:   # the figures beside the (first output's) metric, e.g. next-word's
        report.extra = metrics.extra_metrics(tasks[0], y0, outs[0].values)
    if len(outs) > 1:
        report.outputs = [{"name": n, "task": t, "metric": metrics.METRIC_OF_TASK.get(t) if t else None, "value": v}
                          for n, t, v in zip(out_names, tasks, values)]
    return report

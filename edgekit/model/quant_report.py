"""`edgekit quantize` end to end: quantize, verify, compare float vs int8, write model + report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit.data import atomic_path, fit_to_input, load_dataset
from edgekit.errors import ModelError
from edgekit.model import metrics
from edgekit.model.evaluate import resolve_task, run_keras_all, run_tflite_all
from edgekit.model.keras_io import keras_io, load_keras_model
from edgekit.model.quantize import DEFAULT_CALIBRATION_SAMPLES, quantize_model
from edgekit.model.tflite_graph import Graph


@dataclass
class QuantizationReport:
    """What `edgekit quantize` writes to OUT.quant.json: provenance, I/O quantization, float vs int8 results."""

    keras_model: str
    tflite_model: str
    sha256: str
    edgekit_version: str
    calibration: dict[str, Any]
    input: dict[str, Any]
    output: dict[str, Any]
    float_weight_bytes: int
    int8_file_bytes: int
    ops: list[str]
    task: str | None = None
    metric: str | None = None
    test_samples: int = 0
    float_value: float | None = None
    int8_value: float | None = None
    int8_backend: str | None = None
    agreement: dict[str, Any] = field(default_factory=dict)
    # Figures beside the metric (metrics.EXTRA_METRICS), e.g. {"top3_accuracy": {"float": .., "int8": ..}}
    extra: dict[str, dict[str, float]] = field(default_factory=dict)
    activations: str = "int8"          # "int16": a 16x8 model
    # A model with several inputs or outputs: every input's and output's quantization, and one
    # float vs int8 comparison per output (name, task, metric, float_value, int8_value,
    # agreement, extra); the fields above then hold the first output's. Empty otherwise.
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (the .quant.json content, `edgekit quantize --json`)."""
        return asdict(self)


def _io(graph: Graph, idx: int) -> dict[str, Any]:
    tensor = graph.tensors[idx]
    quantized = tensor.quant is not None  # int32 token ids are not
    return {"name": graph.io_name(idx), "shape": list(tensor.shape), "dtype": tensor.dtype,
            "scale": tensor.scale if quantized else None, "zero_point": tensor.zero_point if quantized else None}


def report_path_for(tflite_path: Path) -> Path:
    """Where the quantization report of `tflite_path` goes: OUT.quant.json beside OUT.tflite."""
    return tflite_path.with_suffix(".quant.json")


def compare_float_int8(model: Any, tflite_bytes: bytes, graph: Graph, xs: list[np.ndarray],
                       ys: list[np.ndarray | None], tasks: list[str | None]) -> list[dict[str, Any]]:
    """Float vs int8 task metric and agreement on the same inputs (one array per input), one
    result per output (graph order, which quantize made the Keras model's)."""
    float_outs = run_keras_all(model, xs)
    int8_outs = run_tflite_all(tflite_bytes, graph, xs)
    x0 = xs[0]  # what a reconstruction metric compares an output with: the (first) input
    results = []
    for f, q, tout, y, task in zip(float_outs, int8_outs, graph.output_tensors, ys, tasks):
        assert q.int8 is not None  # quantize_model verified integer inputs and outputs
        result: dict[str, Any] = {"task": task, "test_samples": len(x0), "int8_backend": q.backend}
        if tout.quant is None:  # int32 class ids (ARG_MAX): no grid to compare on, the same ids or not
            n = len(x0)
            same = np.all(f.values.reshape(n, -1) == q.values.reshape(n, -1), axis=1)
            result["agreement"] = {"share": float(np.mean(same)), "definition": "same output ids"}
        else:
            agreement = metrics.float_int8_agreement(task or "regression", f.values, q.values, q.int8,
                                                     tout.scale, tout.zero_point)
            result["agreement"] = {"share": agreement.share, "definition": agreement.definition}
        if task is not None and y is not None:
            fv, qv = f.values, q.values
            if tout.dtype == "int32":   # class ids (ARG_MAX): scored as the classifier they are
                k = max(metrics.label_classes(y), int(fv.max()) + 1, int(qv.max()) + 1)
                fv, qv = metrics.class_id_scores(fv, k), metrics.class_id_scores(qv, k)
            result["metric"] = metrics.METRIC_OF_TASK[task]
            result["float_value"] = metrics.task_metric(task, x0, y, fv)
            result["int8_value"] = metrics.task_metric(task, x0, y, qv)
            extra_f, extra_q = (metrics.extra_metrics(task, y, o, kind_of=fv) for o in (fv, qv))
            result["extra"] = {name: {"float": extra_f[name], "int8": extra_q[name]} for name in extra_f}
        results.append(result)
    return results


def quantize_file(model_path: Path, calib_path: Path, out_path: Path | None = None, *,
                  samples: int = DEFAULT_CALIBRATION_SAMPLES, task: str | None = None,
                  test_path: Path | None = None, activations: str = "int8",
                  decode: bool = False) -> QuantizationReport:
    """Quantize a .keras model with calibration data; write OUT.tflite and OUT.quant.json.
    `task` is the first output's (the others' are inferred from their labels); `activations`
    "int16" makes a 16x8 model; `decode` converts a causal LM's decode step (edgekit.model.decode),
    reported against the model on the same sequences.

    Nothing is written unless conversion, verification and evaluation all succeed.
    """
    calib_data = load_dataset(calib_path)  # cheap checks first: fail before TensorFlow loads
    test_data = load_dataset(test_path) if test_path else calib_data
    model = load_keras_model(model_path)
    io = keras_io(model, str(model_path))
    calib_key, calib_xs, calib_keys = calib_data.model_inputs("calibration", io.input_names)
    calib_xs = [fit_to_input(x, shape, what=f"{calib_path}:{key}")
                for x, shape, key in zip(calib_xs, io.input_shapes, calib_keys)]
    test: tuple[list[np.ndarray], list[np.ndarray | None], list[str | None]] | None = None
    if any(k == "x" or k.startswith("x_test") for k in test_data.arrays):  # labels checked before converting
        prefix, xs, keys = test_data.model_inputs("evaluation", io.input_names)
        xs = [fit_to_input(x, shape, what=f"{test_data.path}:{key}")
              for x, shape, key in zip(xs, io.input_shapes, keys)]
        labels = test_data.model_labels(prefix, io.output_names)
        tasks = [resolve_task(task if j == 0 else None, xs[0], y, metrics.class_id_shape(y, (1, *shape), dtype), where)
                 for j, ((where, y), shape, dtype) in enumerate(zip(labels, io.output_shapes, io.output_dtypes))]
        test = (xs, [y for _, y in labels], tasks)
    tflite_bytes, graph = quantize_model(model_path, calib_xs if len(calib_xs) > 1 else calib_xs[0],
                                         samples=samples, where=str(model_path), activations=activations,
                                         decode=decode)
    out_path = out_path or model_path.with_suffix(".tflite")

    report = QuantizationReport(
        keras_model=str(model_path), tflite_model=str(out_path), sha256=graph.sha256,
        edgekit_version=__version__,
        calibration={"data": str(calib_path), "array": ", ".join(calib_keys),
                     "samples": min(samples, len(calib_xs[0]))},
        input=_io(graph, graph.inputs[0]), output=_io(graph, graph.outputs[0]),
        float_weight_bytes=int(model.count_params()) * 4, int8_file_bytes=len(tflite_bytes),
        ops=graph.op_names(), activations=activations,
    )
    if not io.single:
        report.inputs = [_io(graph, i) for i in graph.inputs]
        report.outputs = [_io(graph, i) for i in graph.outputs]
    if test is not None:
        try:
            comparisons = compare_float_int8(model, tflite_bytes, graph, *test)
        except ModelError as exc:  # e.g. TFLM cannot prepare the int8 model: it was not written
            raise ModelError(f"{model_path} converted to int8, but {exc.message}",
                             hint="nothing was written; replace the layer whose op TFLM refuses with "
                                  "int8-friendly ops (Dense, Conv, pooling, ReLU, Add)") from None
        for key, value in comparisons[0].items():
            setattr(report, key, value)
        for port, comparison in zip(report.outputs, comparisons):
            port.update(comparison)

    # Both written before either is renamed into place: never a new model beside an old report.
    with atomic_path(out_path) as model_tmp, atomic_path(report_path_for(out_path)) as report_tmp:
        model_tmp.write_bytes(tflite_bytes)
        report_tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report

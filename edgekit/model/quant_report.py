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
from edgekit.model.evaluate import resolve_task, run_keras, run_tflite
from edgekit.model.keras_io import load_keras_model, static_input_shape, static_output_shape
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

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (the .quant.json content, `edgekit quantize --json`)."""
        return asdict(self)


def _io(tensor: Any) -> dict[str, Any]:
    quantized = tensor.quant is not None  # int32 token ids are not
    return {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype,
            "scale": tensor.scale if quantized else None, "zero_point": tensor.zero_point if quantized else None}


def report_path_for(tflite_path: Path) -> Path:
    """Where the quantization report of `tflite_path` goes: OUT.quant.json beside OUT.tflite."""
    return tflite_path.with_suffix(".quant.json")


def compare_float_int8(model: Any, tflite_bytes: bytes, graph: Graph, x: np.ndarray,
                       y: np.ndarray | None, task: str | None) -> dict[str, Any]:
    """Float vs int8 task metric and agreement on the same inputs."""
    float_out = run_keras(model, x)
    int8_out = run_tflite(tflite_bytes, graph, x)
    task = resolve_task(task, x, y, float_out.values.shape)
    tout = graph.output_tensors[0]
    assert int8_out.int8 is not None  # quantize_model verified int8 input and output
    result: dict[str, Any] = {"task": task, "test_samples": len(x), "int8_backend": int8_out.backend}
    if tout.quant is None:  # int32 class ids (ARG_MAX): no grid to compare on, the same ids or not
        n = len(x)
        same = np.all(float_out.values.reshape(n, -1) == int8_out.values.reshape(n, -1), axis=1)
        result["agreement"] = {"share": float(np.mean(same)), "definition": "same output ids"}
    else:
        agreement = metrics.float_int8_agreement(
            task or "regression", float_out.values, int8_out.values, int8_out.int8,
            tout.scale, tout.zero_point)
        result["agreement"] = {"share": agreement.share, "definition": agreement.definition}
    if task is not None and y is not None:
        result["metric"] = metrics.METRIC_OF_TASK[task]
        result["float_value"] = metrics.task_metric(task, x, y, float_out.values)
        result["int8_value"] = metrics.task_metric(task, x, y, int8_out.values)
        extra_f, extra_q = (metrics.extra_metrics(task, y, o.values) for o in (float_out, int8_out))
        result["extra"] = {name: {"float": extra_f[name], "int8": extra_q[name]} for name in extra_f}
    return result


def quantize_file(model_path: Path, calib_path: Path, out_path: Path | None = None, *,
                  samples: int = DEFAULT_CALIBRATION_SAMPLES, task: str | None = None,
                  test_path: Path | None = None) -> QuantizationReport:
    """Quantize a .keras model with calibration data; write OUT.tflite and OUT.quant.json.

    Nothing is written unless conversion, verification and evaluation all succeed.
    """
    calib_data = load_dataset(calib_path)  # cheap checks first: fail before TensorFlow loads
    calib_key, calib_x = calib_data.calibration()
    test_data = load_dataset(test_path) if test_path else calib_data
    model = load_keras_model(model_path)
    input_shape = static_input_shape(model, str(model_path))
    calib_x = fit_to_input(calib_x, input_shape, what=f"{calib_path}:{calib_key}")
    test: tuple[np.ndarray, np.ndarray | None] | None = None
    if any(test_data.has(k) for k in ("x_test", "x")):  # labels are checked before converting
        xkey, x, y = test_data.evaluation()
        x = fit_to_input(x, input_shape, what=f"{test_data.path}:{xkey}")
        task = resolve_task(task, x, y, static_output_shape(model, str(model_path)), test_data.labels_where(xkey))
        test = (x, y)
    tflite_bytes, graph = quantize_model(model_path, calib_x, samples=samples, where=str(model_path))
    out_path = out_path or model_path.with_suffix(".tflite")

    report = QuantizationReport(
        keras_model=str(model_path), tflite_model=str(out_path), sha256=graph.sha256,
        edgekit_version=__version__,
        calibration={"data": str(calib_path), "array": calib_key, "samples": min(samples, len(calib_x))},
        input=_io(graph.input_tensors[0]), output=_io(graph.output_tensors[0]),
        float_weight_bytes=int(model.count_params()) * 4, int8_file_bytes=len(tflite_bytes),
        ops=graph.op_names(),
    )
    if test is not None:
        try:
            comparison = compare_float_int8(model, tflite_bytes, graph, *test, task)
        except ModelError as exc:  # e.g. TFLM cannot prepare the int8 model: it was not written
            raise ModelError(f"{model_path} converted to int8, but {exc.message}",
                             hint="nothing was written; replace the layer whose op TFLM refuses with "
                                  "int8-friendly ops (Dense, Conv, pooling, ReLU, Add)") from None
        for key, value in comparison.items():
            setattr(report, key, value)

    # Both written before either is renamed into place: never a new model beside an old report.
    with atomic_path(out_path) as model_tmp, atomic_path(report_path_for(out_path)) as report_tmp:
        model_tmp.write_bytes(tflite_bytes)
        report_tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report

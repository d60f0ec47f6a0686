"""`edgekit stream`: record a board's sensor samples (with device timestamps) to CSV or npz.

The data-collection job of a data forwarder: dropped samples are counted from sequence
numbers, the achieved rate is measured with the device's clock, and with --infer the
device's live predictions are recorded beside the samples. What was received is written
even when the board or link fails mid-recording.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgekit.boards import Board
from edgekit.data import atomic_write_text, save_dataset
from edgekit.errors import DeviceError, UsageError
from edgekit.hil.board_link import open_session
from edgekit.hil.protocol import Sample

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.project.manifest import Project


@dataclass
class StreamResult:
    """What a recording got: counts from sequence numbers, the rate by the device's clock."""

    path: Path
    sensor: str
    requested_hz: int
    received: int
    dropped: int
    lost_on_link: int | None
    rate_hz: float | None
    error: str | None = None


# Multiply a sensor value in the first unit by this to get the second.
UNIT_FACTORS = {("mg", "g"): 1e-3, ("g", "mg"): 1e3, ("mg", "mg"): 1.0, ("g", "g"): 1.0}


def input_per_unit_for(project: Project | None, sensor_units: str) -> float | None:
    """The model input units per sensor unit, when the project's origin records its input units."""
    units = project.origin.input_units if project is not None else None
    if units is None:
        return None
    return UNIT_FACTORS.get((sensor_units, units))


def check_infer_input(sensor_id: str, axes: int, input_shape: tuple[int, ...]) -> None:
    """UsageError unless a stream of `axes`-value samples can fill the model input.

    Live inference appends each sample's values to a window shaped like the model input:
    its innermost dimension must be the sensor's axes (a flat input a multiple of them); a
    model taking one value gets the newest value.
    """
    dims = list(input_shape[1:])  # without the batch dimension
    while dims and dims[-1] == 1:
        dims.pop()
    if not dims:
        return
    fits = dims[0] % axes == 0 if len(dims) == 1 else dims[-1] == axes
    if not fits:
        raise UsageError(f"sensor '{sensor_id}' gives {axes} axes per sample but the model's input shape "
                         f"is {tuple(input_shape)}: live inference needs its last dimension to be {axes}",
                         hint="stream the sensor the model was trained on")


@dataclass(frozen=True)
class LivePrediction:
    """A prediction worth showing while streaming: the top class and its score."""

    t_us: int
    label: str
    score: float
    task_is_classes: bool

    def text(self) -> str:
        """One line for a person, e.g. 't=1.250 s  wave 0.93'."""
        what = f"{self.label} {self.score:.2f}" if self.task_is_classes else f"output {self.score:.3g}"
        return f"t={self.t_us / 1e6:.3f} s  {what}"


class PredictionTicker:
    """Turns the device's int8 predictions into readable lines at a readable rate, by device
    time: a new top class as soon as `min_gap_s` has passed since the last line, the same
    one again after `every_s`; so at most 1/min_gap_s lines a second however noisy the model."""

    def __init__(self, output_scale: float, output_zero_point: int,
                 class_names: tuple[str, ...] | None = None, every_s: float = 1.0,
                 min_gap_s: float = 0.25, output_dtype: str = "int8") -> None:
        self.dtype = np.dtype(output_dtype).newbyteorder("<")  # the raw output's element type
        self.scale = output_scale
        self.zero_point = output_zero_point
        self.class_names = class_names
        self.every_us = int(every_s * 1e6)
        self.min_gap_us = int(min_gap_s * 1e6)
        self._last: LivePrediction | None = None

    def feed(self, sample: Sample) -> LivePrediction | None:
        """The prediction to show for this sample, or None (none attached, or too soon)."""
        if not sample.prediction:
            return None
        q = np.frombuffer(sample.prediction, dtype=self.dtype).astype(np.float64)
        real = (q - self.zero_point) * self.scale
        top = int(np.argmax(real))
        classes = real.size > 1
        if classes:
            names = self.class_names
            label = names[top] if names is not None and top < len(names) else f"class {top}"
        else:
            label = "output"
        pred = LivePrediction(sample.t_us, label, float(real[top]), classes)
        last = self._last
        if last is not None:
            wait = self.every_us if last.label == pred.label else self.min_gap_us
            if pred.t_us - last.t_us < wait:
                return None
        self._last = pred
        return pred


def _write(path: Path, samples: list[Sample], axes: int, with_predictions: bool,
           out_dtype: str = "int8") -> None:
    dt = np.dtype(out_dtype).newbyteorder("<")
    t = np.array([s.t_us for s in samples], dtype=np.uint64)
    seq = np.array([s.seq for s in samples], dtype=np.uint32)
    values = np.array([s.values for s in samples], dtype=np.int16).reshape(len(samples), axes)
    if path.suffix == ".npz":
        arrays: dict[str, np.ndarray] = {"t_us": t, "seq": seq, "values": values}
        if with_predictions:
            preds = [np.frombuffer(s.prediction, dtype=dt) if s.prediction else None for s in samples]
            width = max((len(p) for p in preds if p is not None), default=0)
            arrays["prediction"] = np.array([p if p is not None else np.zeros(width, dt) for p in preds],
                                            dtype=out_dtype).reshape(len(samples), width)
            arrays["has_prediction"] = np.array([p is not None for p in preds])
        save_dataset(path, arrays)
        return
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["t_us", "seq"] + [f"v{i}" for i in range(axes)] + (["prediction"] if with_predictions else []))
    for s in samples:
        row: list[int | str] = [s.t_us, s.seq, *s.values]
        if with_predictions:
            row.append(" ".join(str(v) for v in np.frombuffer(s.prediction, dt)) if s.prediction else "")
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())


def _prediction_hop(every: int | None, window: int, keep_state: bool) -> int:
    """Samples between predictions: 1 (a sliding window), or with keep_state one whole window,
    so each sample enters the carried state once."""
    if not keep_state:
        return every or 1
    if every is not None and every < window:
        raise UsageError(f"--keep-state with --every {every}: windows of {window} samples would overlap "
                         "and feed samples into the carried state more than once",
                         hint=f"use --every {window} (the default with --keep-state) or more")
    return every or window


def record_stream(board: Board, sensor_id: str, rate_hz: int, seconds: float, out_path: Path, *,
                  port: str | None = None, project: Project | None = None, infer: bool = False,
                  input_per_unit: float | None = None, keep_state: bool = False, every: int | None = None,
                  on_sample: Callable[[Sample], None] | None = None,
                  on_prediction: Callable[[LivePrediction], None] | None = None) -> StreamResult:
    """Record `seconds` of `sensor_id` at `rate_hz` into out_path (.csv or .npz).

    With `infer`, the device also runs its model on a sliding window of the values, each
    quantized with the model's input scale after multiplying by `input_per_unit` (model input
    units per sensor unit, by default from the project's input units); see docs/protocol.md
    4.6. The virtual board runs `project`'s firmware. What was received is written even when
    the board or link fails; the DeviceError then says where. `on_prediction` gets the live
    predictions at a readable rate (PredictionTicker), named with the project's class names;
    the file keeps every one.

    `every`: samples between predictions once the window is full (default 1: a sliding window
    moved by one sample). `keep_state` (a recurrent model) carries the model's state from one
    prediction to the next instead of starting each window fresh; windows then must not
    overlap, so `every` defaults to, and may not be below, the window's length in samples.
    """
    sensor = board.sensor(sensor_id)  # clear error listing the board's sensors
    if (keep_state or every is not None) and not infer:
        raise UsageError("--keep-state and --every choose how live inference runs", hint="add --infer")
    if keep_state and project is not None and not project.graph.keeps_state:
        raise UsageError(f"--keep-state: the model of {project.root} keeps no state between inferences "
                         "(it has no recurrent layer)", hint="stream without --keep-state")
    if infer and input_per_unit is None:
        input_per_unit = input_per_unit_for(project, sensor.units)
        if input_per_unit is None:
            raise UsageError("live inference needs to know how sensor values map to the model's input",
                             hint="pass --input-per-unit, e.g. 0.001 for a model in g and a sensor in mg")
    if out_path.suffix not in (".csv", ".npz"):
        raise UsageError(f"output {out_path} must end in .csv or .npz")
    if rate_hz > sensor.max_rate_hz:
        raise UsageError(f"{sensor_id} on {board.id} samples at most {sensor.max_rate_hz} Hz, asked {rate_hz}")
    samples: list[Sample] = []
    error: str | None = None
    with ExitStack() as stack:
        session, _ = open_session(stack, board, port=port, project=project)
        info = session.connect()
        if info.board_id != board.id:
            raise DeviceError(f"the board on {session.url} runs firmware for board '{info.board_id}', "
                              f"not '{board.id}'", hint=f"pass --board {info.board_id}, or flash a project "
                                                        f"generated for {board.id}")
        ticker = None
        if infer:
            if info.inputs > 1 or info.outputs > 1:   # the firmware's stream engine fills one window
                raise UsageError(f"live inference feeds the sensor into a model of one input and one output; "
                                 f"this model has {info.inputs} inputs and {info.outputs} outputs",
                                 hint="record without --infer, and validate the model with `edgekit hil`")
            if info.input_dtype != "int8":
                raise UsageError(f"live inference feeds int8 sensor windows; this model's input is "
                                 f"{info.input_dtype}", hint="record without --infer")
            check_infer_input(sensor_id, sensor.axes, info.input_shape)
            first = -(-info.input_bytes // sensor.axes)  # samples that fill the model's window
            every = _prediction_hop(every, first, keep_state)
            if first > rate_hz * seconds:
                raise UsageError(f"the model's window takes {first} samples of '{sensor_id}' before its "
                                 f"first prediction, {first / rate_hz:g} s at {rate_hz} Hz; "
                                 f"{seconds:g} s would record none", hint=f"record at least {first / rate_hz:g} s")
            names = project.origin.class_names if project is not None else None
            ticker = PredictionTicker(info.output_scale, info.output_zero_point, names,
                                      output_dtype=info.output_dtype)
        # The firmware numbers sensors in board-file order (ek_board.h).
        stream = session.stream(board.sensors.index(sensor), rate_hz, seconds, infer=infer,
                                input_per_unit=input_per_unit if infer else None,
                                infer_every=every or 1, keep_state=keep_state)
        try:
            for sample in stream:
                samples.append(sample)
                if on_sample:
                    on_sample(sample)
                shown = ticker.feed(sample) if ticker is not None else None
                if shown is not None and on_prediction is not None:
                    on_prediction(shown)
        except DeviceError as exc:
            error = str(exc)
        stats = stream.stats
    if samples:
        _write(out_path, samples, sensor.axes, infer, info.output_dtype)
    result = StreamResult(out_path, sensor_id, rate_hz, stats.received, stats.dropped, stats.lost_on_link,
                          stats.rate_hz, error)
    if error:
        raise DeviceError(f"{error} ({len(samples)} samples received were written to {out_path})"
                          if samples else error)
    return result

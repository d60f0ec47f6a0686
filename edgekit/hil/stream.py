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


def _write(path: Path, samples: list[Sample], axes: int, with_predictions: bool) -> None:
    t = np.array([s.t_ms for s in samples], dtype=np.uint32)
    seq = np.array([s.seq for s in samples], dtype=np.uint32)
    values = np.array([s.values for s in samples], dtype=np.int16).reshape(len(samples), axes)
    if path.suffix == ".npz":
        arrays: dict[str, np.ndarray] = {"t_ms": t, "seq": seq, "values": values}
        if with_predictions:
            preds = [np.frombuffer(s.prediction, dtype=np.int8) if s.prediction else None for s in samples]
            width = max((len(p) for p in preds if p is not None), default=0)
            arrays["prediction"] = np.array([p if p is not None else np.zeros(width, np.int8) for p in preds],
                                            dtype=np.int8).reshape(len(samples), width)
            arrays["has_prediction"] = np.array([p is not None for p in preds])
        save_dataset(path, arrays)
        return
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["t_ms", "seq"] + [f"v{i}" for i in range(axes)] + (["prediction"] if with_predictions else []))
    for s in samples:
        row: list[int | str] = [s.t_ms, s.seq, *s.values]
        if with_predictions:
            row.append(" ".join(str(v) for v in np.frombuffer(s.prediction, np.int8)) if s.prediction else "")
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())


def record_stream(board: Board, sensor_id: str, rate_hz: int, seconds: float, out_path: Path, *,
                  port: str | None = None, project: Project | None = None, infer: bool = False,
                  input_per_unit: float | None = None,
                  on_sample: Callable[[Sample], None] | None = None) -> StreamResult:
    """Record `seconds` of `sensor_id` at `rate_hz` into out_path (.csv or .npz).

    With `infer`, the device also runs its model on a sliding window of the values, each
    quantized with the model's input scale after multiplying by `input_per_unit` (model input
    units per sensor unit, by default from the project's input units); see docs/protocol.md
    4.6. The virtual board runs `project`'s firmware. What was received is written even when
    the board or link fails; the DeviceError then says where.
    """
    sensor = board.sensor(sensor_id)  # clear error listing the board's sensors
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
        session.connect()
        # The firmware numbers sensors in board-file order (ek_board.h).
        stream = session.stream(board.sensors.index(sensor), rate_hz, seconds, infer=infer,
                                input_per_unit=input_per_unit if infer else None)
        try:
            for sample in stream:
                samples.append(sample)
                if on_sample:
                    on_sample(sample)
        except DeviceError as exc:
            error = str(exc)
        stats = stream.stats
    if samples:
        _write(out_path, samples, sensor.axes, infer)
    result = StreamResult(out_path, sensor_id, rate_hz, stats.received, stats.dropped, stats.lost_on_link,
                          stats.rate_hz, error)
    if error:
        raise DeviceError(f"{error} ({len(samples)} samples received were written to {out_path})"
                          if samples else error)
    return result

"""`stream` against the host-port firmware: the board the firmware was built for, the sensor's
own rate limit with microsecond timestamps, a sensor that cannot feed the model, and live
predictions a person can read."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.errors import DeviceError, UsageError
from edgekit.hil.protocol import Sample
from edgekit.hil.stream import LivePrediction, PredictionTicker, check_infer_input, record_stream
from tests.conftest import assert_clean_error
from tests.hil.conftest import Device

BOARD = "qemu-netduinoplus2"  # the host port serves this board's sensors (ek_port_host.c)
AS_BOARD = (f'EK_BOARD_ID="{BOARD}"',)


@pytest.fixture
def board_device(device_factory: Callable[..., Device]) -> Device:
    """The fake-model firmware (input shape (1, 16), 4 outputs) built as the virtual board."""
    return device_factory(defines=AS_BOARD)


@pytest.mark.parametrize("axes, shape, ok", [
    (1, (1, 50, 3), False),      # a 1-axis sensor on a 3-axis model
    (3, (1, 16), False),         # 16 values are not whole 3-axis samples
    (3, (1, 50, 3), True),
    (1, (1, 16), True),
    (10, (1, 49, 10, 1), True),  # trailing 1s are not channels
    (3, (1, 1), True),           # a one-value model takes the newest value
])
def test_check_infer_input(axes: int, shape: tuple[int, ...], ok: bool) -> None:
    if ok:
        check_infer_input("s", axes, shape)
        return
    with pytest.raises(UsageError) as exc:
        check_infer_input("s", axes, shape)
    assert f"{axes} axes" in str(exc.value) and str(shape) in str(exc.value)


def test_the_sensor_limit_and_microsecond_timestamps(board_device: Device, tmp_path: Path) -> None:
    board = load_board(BOARD)
    vibration = board.sensor("vibration")
    assert vibration.max_rate_hz == 4000  # the board file; the firmware refused above 1000 before
    out = tmp_path / "vib.csv"
    r = record_stream(board, "vibration", 4000, 0.5, out, port=board_device.path)
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["t_us", "seq", "v0"]
    t = np.array([int(row[0]) for row in rows[1:]], dtype=np.int64)
    assert len(t) == r.received and len(t) > 100
    assert np.all(np.diff(t) > 0)  # distinct and increasing at 4 kHz (ms timestamps repeated)
    with pytest.raises(UsageError, match="at most 4000 Hz"):
        record_stream(board, "vibration", 4001, 0.5, out, port=board_device.path)


def test_firmware_of_another_board_is_named(device_factory: Callable[..., Device], tmp_path: Path) -> None:
    dev = device_factory(defines=('EK_BOARD_ID="nucleo-f446re"',))
    with pytest.raises(DeviceError) as exc:
        record_stream(load_board(BOARD), "accel", 10, 0.5, tmp_path / "x.csv", port=dev.path)
    assert "'nucleo-f446re'" in str(exc.value) and f"'{BOARD}'" in str(exc.value)
    assert not (tmp_path / "x.csv").exists()


def test_firmware_of_another_board_through_the_cli(cli, device_factory: Callable[..., Device],
                                                   tmp_path: Path) -> None:
    dev = device_factory(defines=('EK_BOARD_ID="nucleo-f446re"',))
    r = cli("stream", "--board", BOARD, "--port", dev.path, "--sensor", "accel", "--rate", "10",
            "--seconds", "1", "-o", tmp_path / "x.csv", timeout=120)
    assert_clean_error(r, 3, "runs firmware for board 'nucleo-f446re', not 'qemu-netduinoplus2'")


def test_a_sensor_that_cannot_feed_the_model_is_refused(board_device: Device, tmp_path: Path) -> None:
    out = tmp_path / "x.npz"
    with pytest.raises(UsageError) as exc:  # accel: 3 axes; the fake model takes 16 values
        record_stream(load_board(BOARD), "accel", 50, 1.0, out, port=board_device.path, infer=True,
                      input_per_unit=0.01)
    assert "3 axes" in str(exc.value) and "(1, 16)" in str(exc.value)
    assert not out.exists()


def test_a_recording_too_short_for_one_prediction_is_refused(board_device: Device, tmp_path: Path) -> None:
    out = tmp_path / "x.npz"
    with pytest.raises(UsageError) as exc:  # 16 values of a 1-axis sensor: 1.6 s at 10 Hz
        record_stream(load_board(BOARD), "vibration", 10, 1.0, out, port=board_device.path, infer=True,
                      input_per_unit=0.01)
    assert "takes 16 samples" in str(exc.value) and "1.6 s" in str(exc.value)
    assert not out.exists()


def test_a_sensor_that_cannot_feed_the_model_through_the_cli(cli, board_device: Device, tmp_path: Path) -> None:
    r = cli("stream", "--board", BOARD, "--port", board_device.path, "--sensor", "accel", "--rate", "50",
            "--seconds", "1", "--infer", "--input-per-unit", "0.01", "-o", tmp_path / "x.npz", timeout=120)
    assert_clean_error(r, 2, "gives 3 axes", "(1, 16)")
    assert not (tmp_path / "x.npz").exists()


def _sample(t_us: int, pred: list[int] | None) -> Sample:
    return Sample(0, t_us, 0, (0,), None if pred is None else bytes(np.array(pred, np.int8).tobytes()))


def test_prediction_ticker_names_classes_at_a_readable_rate() -> None:
    ticker = PredictionTicker(1 / 256, -128, ("idle", "wave", "tap"), every_s=0.5, min_gap_s=0.1)
    assert ticker.feed(_sample(0, None)) is None
    first = ticker.feed(_sample(1000, [-128, 127, -128]))
    assert first is not None and first.label == "wave" and first.score == pytest.approx(255 / 256)
    assert first.text() == "t=0.001 s  wave 1.00"
    assert ticker.feed(_sample(2000, [-128, 100, -128])) is None         # same class, too soon
    assert ticker.feed(_sample(3000, [-128, -128, 127])) is None          # a change, but 0.1 s apart
    changed = ticker.feed(_sample(101_000, [-128, -128, 127]))
    assert changed is not None and changed.label == "tap"
    assert ticker.feed(_sample(400_000, [-128, -128, 127])) is None
    assert ticker.feed(_sample(601_000, [-128, -128, 127])) is not None  # the same again every 0.5 s
    unnamed = PredictionTicker(1.0, 0).feed(_sample(0, [1, 5, 2]))
    assert unnamed is not None and unnamed.label == "class 1"
    scalar = PredictionTicker(0.5, 0).feed(_sample(0, [7]))
    assert scalar is not None and scalar.text() == "t=0.000 s  output 3.5"


def test_live_predictions_are_shown_sparingly_and_all_recorded(board_device: Device, tmp_path: Path) -> None:
    out = tmp_path / "live.npz"
    shown: list[LivePrediction] = []
    r = record_stream(load_board(BOARD), "vibration", 200, 1.5, out, port=board_device.path, infer=True,
                      input_per_unit=0.01, on_prediction=shown.append)
    data = np.load(out)
    assert r.received == len(data["seq"]) and data["has_prediction"].sum() > 100
    assert data["prediction"].shape[1] == 4
    # The fake model's top class flips often: still at most 4 lines a second of device time.
    assert 1 <= len(shown) <= 7
    for a, b in zip(shown, shown[1:]):
        assert b.t_us - a.t_us >= (250_000 if a.label != b.label else 1_000_000)


def test_firmware_without_keep_state_is_told_to_regenerate() -> None:
    """A firmware from before --keep-state refuses STREAM_START's flags bit 2 with BAD_ARG (it
    checked that undefined bits are 0); the host turns that into what to do."""
    from edgekit.errors import DeviceRefused
    from edgekit.hil import protocol as P
    from edgekit.hil.streaming import Stream

    class OldFirmware:   # the session's one request, answered as that firmware answers it
        last_seq = 1

        def request(self, cmd: P.Msg, payload: bytes) -> bytes:
            assert cmd == P.Msg.STREAM_START and payload[1] == 1 | 4   # infer, keep state
            raise DeviceRefused("STREAM_START failed on the device: BAD_ARG", code=P.ErrorCode.BAD_ARG, detail=0)

    stream = Stream(OldFirmware(), 0, 100, 1.0, infer=True, shift=0, infer_every=16,  # type: ignore[arg-type]
                    keep_state=True)
    with pytest.raises(DeviceError, match="does not know the keep-state flag.*regenerate and rebuild"):
        stream.start()

"""The streaming engine (firmware_templates/common/ek_stream.c) on its own: compiled for the
host under ASan/UBSan with a fake port (settable clock and sensors) and a 4-byte model
(tests/fixtures/stream_engine), driven line by line. The host side's encoder and decoder
(edgekit.hil.protocol) build the requests and read the samples, so both ends agree.
End to end over a pty it runs in tests/hil/test_session_host_device.py."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgekit.hil import protocol as P
from tests.firmware_sources import COMMON, build_sanitized

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stream_engine"
BAD_LENGTH, NO_SUCH_SENSOR, BAD_ARG, NOT_READY = 0x03, 0x06, 0x07, 0x0A
Drive = Callable[[list[str]], list[str]]


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> Drive:
    """drive(commands) -> the lines the engine printed."""
    exe = build_sanitized(tmp_path_factory.mktemp("stream") / "stream_engine",
                          [COMMON / "ek_stream.c", COMMON / "ek_protocol.c", FIXTURE / "main.c"], [COMMON])

    def run(commands: list[str]) -> list[str]:
        done = subprocess.run([str(exe)], input="\n".join(commands) + "\n", capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    return run


def start(seq: int, payload: bytes, model_rc: int = 0) -> str:
    return f"start {seq} {model_rc} {payload.hex()}"


def samples(lines: list[str]) -> list[tuple[int, P.Sample]]:
    return [(int(ln.split()[1]), P.Sample.decode(bytes.fromhex(ln.split()[2]))) for ln in lines
            if ln.startswith("sample ")]


@pytest.mark.parametrize("payload, err, detail", [
    (P.stream_start_request(0, 100)[:7], BAD_LENGTH, 8),
    (P.stream_start_request(0, 100, input_per_unit=1.0)[:8], BAD_LENGTH, 12),
    (P.stream_start_request(0, 0), BAD_ARG, 0),
    (P.stream_start_request(0, 1001), BAD_ARG, 1000),           # the sensor's max rate
    (P.stream_start_request(0, 100, shift=16), BAD_ARG, 0),
    (P.stream_start_request(0, 100, input_per_unit=-1.0), BAD_ARG, 0),
    (P.stream_start_request(0, 100, input_per_unit=float("nan")), BAD_ARG, 0),
    (P.stream_start_request(1, 100), NO_SUCH_SENSOR, -5),       # the port's own reason
    (P.stream_start_request(9, 100), NO_SUCH_SENSOR, -1),
], ids=["short", "short-scaled", "rate-0", "rate-too-high", "shift", "negative-scale", "nan-scale",
        "bus-timeout", "no-such"])
def test_start_refuses_bad_requests_with_their_reason(drive: Drive, payload: bytes, err: int,
                                                      detail: int) -> None:
    out = drive(["sensor 0 3 1 2 3", "sensor 1 -5", start(7, payload), "state"])
    assert out == [f"start {err} {detail}", "state 0 0 0 0 0"]


def test_live_inference_needs_a_ready_model(drive: Drive) -> None:
    out = drive(["sensor 0 3 1 2 3", start(7, P.stream_start_request(0, 100, infer=True), model_rc=-9)])
    assert out == [f"start {NOT_READY} -9"]


def test_samples_are_paced_without_drift(drive: Drive) -> None:
    # 300 Hz: periods of 3 ms plus 1 ms every third sample (1000 = 3 * 300 + 100).
    cmds = ["now 1000", "sensor 0 3 10 -20 30", start(5, P.stream_start_request(0, 300))]
    for t in range(1000, 1101):
        cmds += [f"now {t}", "service"]
    cmds.append("state")
    out = drive(cmds)
    assert out[0] == "start 0 0"
    got = samples(out)
    assert all(seq == 5 for seq, _ in got)                # the STREAM_START's seq
    times = [s.t_us for _, s in got]
    assert len(got) == 31 and times[0] == 1_000_000
    assert times[-1] - times[0] == 100_000               # 30 periods of 10/3 ms
    assert {b - a for a, b in zip(times, times[1:])} == {3000, 4000}  # serviced once a ms here
    assert [s.seq for _, s in got] == list(range(31)) and got[0][1].values == (10, -20, 30)
    assert out[-1] == "state 1 31 0 31 0"


def test_a_short_stall_is_caught_up_a_long_one_skipped(drive: Drive) -> None:
    base = ["now 0", "sensor 0 1 7", start(1, P.stream_start_request(0, 100)), "service"]
    # 40 ms late (under EK_APP_STREAM_MAX_LAG_MS): the 4 due samples go back to back.
    out = drive([*base, "now 40", "service", "service", "service", "service", "service", "state"])
    assert [s.seq for _, s in samples(out)] == [0, 1, 2, 3, 4] and out[-1] == "state 1 5 0 5 0"
    # 500 ms late: one sample now, then the slots further back than the lag are skipped and
    # counted (a gap in the numbers, not a time warp); the last 50 ms are caught up.
    out = drive([*base, "now 500", "service", "service", "state"])
    got = samples(out)
    assert [s.seq for _, s in got] == [0, 1, 45] and [s.t_us for _, s in got] == [0, 500_000, 500_000]
    assert out[-1] == "state 1 3 43 46 0"


@pytest.mark.parametrize("per_unit", [None, 0.01])
def test_live_inference_windows_and_predictions(drive: Drive, per_unit: float | None) -> None:
    shift = 3
    values = [(-500, 40), (300, -3000), (1, 2), (-9, 1000), (77, -77), (32767, -32768)]
    payload = P.stream_start_request(2, 100, infer=True, shift=shift, infer_every=2, input_per_unit=per_unit)
    cmds = ["now 0", "sensor 2 2 0 0", start(3, payload)]
    for i, (a, b) in enumerate(values):
        cmds += [f"sensor 2 2 {a} {b}", f"now {10 * i}", "service"]
    out = drive(cmds + ["input"])
    to_input = ((lambda v: P.sensor_to_input(v, per_lsb=np.float32(per_unit) / np.float32(0.5), zero_point=-3))
                if per_unit else (lambda v: P.sensor_to_input(v, shift)))
    flat: list[int] = []
    predicted = 0
    for i, (_, s) in enumerate(samples(out)):
        flat += [to_input(v) for v in s.values]
        # 4-byte window, full after 2 samples; a prediction every 2nd sample from then on.
        if i in (1, 3, 5):
            window = flat[-4:]
            assert s.prediction == bytes(np.array([int(sum(window) / 4), window[3]], np.int8).tobytes())
            assert s.cycles == 1234
            predicted += 1
        else:
            assert s.prediction is None
    assert predicted == 3
    assert out[-1] == "input " + " ".join(map(str, flat[-4:]))


def test_each_window_starts_fresh_unless_the_stream_keeps_state(drive: Drive) -> None:
    def keeps(*requests: bytes) -> str:
        cmds = ["sensor 0 2 1 2"]
        for n, payload in enumerate(requests):
            cmds += [f"now {100 * n}", start(n + 1, payload)]
            for t in range(5):  # 5 samples at 100 Hz
                cmds += [f"now {100 * n + 10 * t}", "service"]
            cmds.append("stop")
        return drive(cmds + ["keeps"])[-1]

    plain = P.stream_start_request(0, 100, infer=True)
    kept = P.stream_start_request(0, 100, infer=True, infer_every=2, keep_state=True)
    # A 4-byte window of 2-value samples, full from the 2nd sample: a prediction on samples
    # 2-5 (plain) or on samples 2 and 4 (kept, every 2nd). Kept: the stream's first prediction
    # starts fresh and the next continues its state; a new stream starts fresh again.
    assert keeps(plain) == "keeps 0 0 0 0"
    assert keeps(kept, kept, plain) == "keeps 0 1 0 1 0 0 0 0"
    undefined_flag = bytes([0, 8]) + P.stream_start_request(0, 100)[2:]
    assert drive(["sensor 0 3 1 2 3", start(1, undefined_flag)]) == [f"start {BAD_ARG} 0"]


def test_a_model_error_is_reported_in_the_sample(drive: Drive) -> None:
    payload = P.stream_start_request(0, 100, infer=True)
    out = drive(["sensor 0 2 5 6", "invoke_rc -42", "now 0", start(1, payload), "service", "now 10", "service"])
    (_, first), (_, second) = samples(out)
    assert first.model_error is None and first.prediction is None
    assert second.model_error == -42


def test_stop_keeps_the_totals(drive: Drive) -> None:
    out = drive(["sensor 0 1 1", "now 0", start(1, P.stream_start_request(0, 10)), "service", "stop",
                 "now 1000", "service", "state"])
    assert len(samples(out)) == 1 and out[-1] == "state 0 1 0 1 0"


def test_the_sensor_limit_is_the_ports_and_timestamps_are_microseconds(drive: Drive) -> None:
    # A 4000 Hz sensor (the board file's max_rate_hz, via ek_port_sensor_max_rate_hz).
    base = ["maxrate 1 4000", "sensor 1 1 5", "nowus 7"]
    assert drive([*base, start(2, P.stream_start_request(1, 4001))]) == [f"start {BAD_ARG} 4000"]
    cmds = [*base, start(2, P.stream_start_request(1, 4000))]
    for t in range(7, 7 + 10_000, 50):  # 10 ms serviced every 50 us
        cmds += [f"nowus {t}", "service"]
    out = drive(cmds)
    assert out[0] == "start 0 0"
    times = [s.t_us for _, s in samples(out)]
    assert len(times) == 40 and times[0] == 7
    assert {b - a for a, b in zip(times, times[1:])} == {250}  # 4 kHz: every sample its own time


def test_timestamps_carry_past_32_bits_of_microseconds(drive: Drive) -> None:
    t0 = (1 << 32) - 1000  # the u32 microsecond clock would wrap 1 ms into the stream
    cmds = ["sensor 0 1 1", f"nowus {t0}", start(1, P.stream_start_request(0, 1000))]
    for k in range(4):
        cmds += [f"nowus {t0 + 1000 * k}", "service"]
    times = [s.t_us for _, s in samples(drive(cmds))]
    assert times == [t0 + 1000 * k for k in range(4)]

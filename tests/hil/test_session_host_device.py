"""End to end over real bytes: Session (Python) <-> pty <-> the portable firmware core
(ek_app.c + ek_protocol.c) built with gcc -Werror into a Linux process with the fake
test model; then the same through the fault-injecting proxy."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import DataError, DeviceError
from edgekit.hil import protocol as P
from edgekit.hil.session import Session
from edgekit.sim.faultproxy import Fault, FaultProxy
from tests.firmware_sources import core_sources

from .conftest import COMMON, FAKE_MODEL, WARN, Device
from .fake_model import fake_model

pytestmark = pytest.mark.timeout(30)

FAST = {"timeout": 0.5, "retries": 4, "handshake_timeout": 5.0}
# Under fault injection: short reply timeout (a lost reply costs one timeout), more retries.
FAULTY = {"timeout": 0.25, "retries": 6, "handshake_timeout": 5.0}


def _inputs(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).integers(-128, 128, size=(n, size), dtype=np.int64)
    x[:, 0] = np.where(x[:, 0] == -128, 0, x[:, 0])  # never the fake model's error pattern
    return x.astype(np.int8)


# --- the happy path ---------------------------------------------------------------------


def test_hello_and_info_describe_the_fake_model(device: Device) -> None:
    with Session(device.path, **FAST) as s:
        info = s.device
        hello = s.hello()
    assert info is not None
    assert hello.protocol_version == P.PROTOCOL_VERSION and hello.model_ready and not hello.streaming
    assert (info.input_shape, info.output_shape) == ((1, 16), (1, 4))
    assert (info.input_bytes, info.output_bytes) == (16, 4)
    assert (info.input_dtype, info.output_dtype) == ("int8", "int8")
    assert (info.input_scale, info.input_zero_point) == (0.5, -3)
    assert (info.output_scale, info.output_zero_point) == (0.25, 5)
    assert info.runtime == "fake-test-fixture" and info.model_sha256 == "fa4e" * 16
    assert (info.board_id, info.firmware_version) == ("unknown", "0.0.0")
    assert info.cycles_hz == 1_000_000_000 and info.arena_bytes == 1328
    assert info.max_payload == 256


def test_board_id_and_version_come_from_macros(device_factory) -> None:
    dev = device_factory(defines=('EK_BOARD_ID="nucleo-f446re"', 'EK_FIRMWARE_VERSION="1.2.3"'))
    with Session(dev.path, **FAST) as s:
        assert (s.device.board_id, s.device.firmware_version) == ("nucleo-f446re", "1.2.3")


def test_infer_matches_the_model_computed_in_python(device: Device) -> None:
    xs = _inputs(400)
    with Session(device.path, **FAST) as s:
        for x in xs:
            y, cycles = s.infer(x.reshape(1, 16))
            assert y.shape == (1, 4) and y.dtype == np.int8
            np.testing.assert_array_equal(y.ravel(), fake_model(x))
            assert 0 < cycles < 50_000_000  # ns on the host port: far below 50 ms
        assert s.resends == 0


def test_reading_replies_never_reconfigures_the_port(device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    # Assigning pyserial's timeout reconfigures the port: on an RFC2217 port (a farm's) that is a
    # renegotiation with a 50 ms sleep, which once made every request of a farm run cost 150 ms.
    import serial

    calls: list[float | None] = []
    reconfigure = serial.Serial._reconfigure_port

    def counted(port, *args, **kwargs):
        calls.append(port.timeout)
        return reconfigure(port, *args, **kwargs)

    monkeypatch.setattr(serial.Serial, "_reconfigure_port", counted)
    with Session(device.path, **FAST) as s:
        opened = len(calls)
        for x in _inputs(20):
            s.infer(x.reshape(1, 16))
        s.bench(1, 3)
    assert opened >= 1 and len(calls) == opened, calls


def test_infer_chunked_input_and_output(device_factory) -> None:
    # 1000-byte input and 300-byte output exceed the 256-byte max payload both ways.
    dev = device_factory(defines=("FAKE_MODEL_INPUT_LEN=1000", "FAKE_MODEL_OUTPUT_LEN=300"))
    with Session(dev.path, **FAST) as s:
        assert (s.device.input_bytes, s.device.output_bytes) == (1000, 300)
        for x in _inputs(10, 1000, seed=2):
            y, _ = s.infer(x)
            np.testing.assert_array_equal(y.ravel(), fake_model(x, 300))


def test_model_error_and_bad_input_are_clear(device: Device) -> None:
    with Session(device.path, **FAST) as s:
        x = np.zeros(16, np.int8)
        x[:3] = (-128, 127, -128)
        with pytest.raises(DeviceError, match=r"INFER failed on the device: MODEL .*detail 7"):
            s.infer(x)
        with pytest.raises(DataError, match="takes 16"):
            s.infer(np.zeros(15, np.int8))
        with pytest.raises(DataError, match="int8"):
            s.infer(np.zeros(16, np.float32))
        # Raw wrong-length frames get BAD_LENGTH, unknown commands UNKNOWN_CMD.
        with pytest.raises(DeviceError, match="BAD_LENGTH"):
            s.request(P.Msg.INFER, b"\x01\x02")
        with pytest.raises(DeviceError, match="UNKNOWN_CMD"):
            s.request(0x42, b"")  # type: ignore[arg-type]
        # The session is still healthy afterwards.
        y, _ = s.infer(np.ones(16, np.int8))
        np.testing.assert_array_equal(y.ravel(), fake_model(np.ones(16)))


def test_bench_returns_every_run(device: Device) -> None:
    with Session(device.path, **FAST) as s:
        s.infer(np.ones(16, np.int8))
        cycles = s.bench(5, 150)  # 150 > 63 runs per reply: three BENCH requests
    assert len(cycles) == 150
    assert all(0 < c < 50_000_000 for c in cycles)


def test_echo_max_size_frames(device: Device) -> None:
    rng = random.Random(0)
    with Session(device.path, **FAST) as s:
        for payload in (bytes(256), b"\xff" * 256, bytes(rng.randrange(256) for _ in range(256)), b""):
            assert s.echo(payload) == payload
        with pytest.raises(DataError, match="max payload"):
            s.echo(bytes(257))


def test_stream_counts_every_sample_at_the_rate(device: Device) -> None:
    with Session(device.path, **FAST) as s:
        stream = s.stream(0, 200, 1.0)
        samples = list(stream)
        st = stream.stats
        assert s.hello().streaming is False
    assert len(samples) == st.received
    # How many arrive within the host's 1 s window depends on host load; the device's
    # timestamps and sample numbers do not.
    assert 100 <= st.received <= 215, st
    assert st.dropped == 0 and st.device_skipped == 0
    assert st.device_sent is not None and st.device_sent >= st.received
    assert [x.seq for x in samples] == list(range(len(samples)))
    assert all(len(x.values) == 3 for x in samples)
    assert st.rate_hz is not None and abs(st.rate_hz - 200) < 10, st.rate_hz


@pytest.mark.parametrize("mode", ["shift", "scaled"])
def test_stream_with_live_inference_matches_python(device: Device, mode: str) -> None:
    shift = 4
    # Scaled: values quantized with the fake model's input scale 0.5 and zero point -3.
    per_unit = 0.01 if mode == "scaled" else None
    to_input = (lambda v: P.sensor_to_input(v, per_lsb=np.float32(per_unit) / np.float32(0.5), zero_point=-3)) \
        if per_unit else (lambda v: P.sensor_to_input(v, shift))
    with Session(device.path, **FAST) as s:
        stream = s.stream(0, 100, 0.6, infer=True, shift=shift, infer_every=2, input_per_unit=per_unit)
        samples = list(stream)
    # Samples the device skipped were never read, so the window stays reconstructible;
    # only link losses would break it.
    assert stream.stats.lost_on_link == 0
    flat: list[int] = []
    predicted = 0
    since = 0
    for x in samples:
        flat += [to_input(v) for v in x.values]
        since += 1
        if len(flat) >= 16 and since >= 2:
            since = 0
            assert x.prediction is not None, x
            np.testing.assert_array_equal(np.frombuffer(x.prediction, np.int8), fake_model(flat[-16:]))
            predicted += 1
        else:
            assert x.prediction is None
    assert predicted >= 20


@pytest.mark.parametrize("keep_state", [False, True])
def test_stream_keeps_the_model_state_across_windows_only_when_asked(device_factory, keep_state: bool) -> None:
    dev = device_factory(defines=("FAKE_MODEL_STATE",))  # out[0] adds the state the last invoke left
    shift = 4
    x = np.zeros(16, np.int8)
    x[0] = 9  # out[0] = 9 from a fresh state, 18 after one such invoke kept its state
    with Session(dev.path, **FAST) as s:
        before, _ = s.infer(x)  # leaves state behind: the stream must not start from it
        stream = s.stream(0, 100, 0.8, infer=True, shift=shift, infer_every=6, keep_state=keep_state)
        samples = list(stream)
        after, _ = s.infer(x)  # INFER after the stream: a fresh sequence again
    assert stream.stats.lost_on_link == 0
    assert before.ravel()[0] == after.ravel()[0] == 9
    flat: list[int] = []
    carried = predicted = carried_over = 0
    for x in samples:  # 3 values a sample, a 16-value window: a prediction every 6th sample
        flat += [P.sensor_to_input(v, shift) for v in x.values]
        if x.prediction is not None:
            want = fake_model(flat[-16:], carried=carried)
            np.testing.assert_array_equal(np.frombuffer(x.prediction, np.int8), want)
            carried = int(want[0]) if keep_state else 0
            predicted += 1
            carried_over += not np.array_equal(want, fake_model(flat[-16:]))
    assert predicted >= 8
    assert (carried_over > 0) == keep_state  # the state changed predictions only when kept


def test_stream_errors_and_busy(device: Device) -> None:
    with Session(device.path, **FAST) as s:
        with pytest.raises(DeviceError, match=r"NO_SUCH_SENSOR \(the board has no such sensor\)"):
            list(s.stream(9, 50, 0.2))
        with pytest.raises(DeviceError, match="BAD_ARG"):
            list(s.stream(0, 5000, 0.2))
        with s.stream(1, 50, None) as st:
            st.start()
            with pytest.raises(DeviceError, match="BUSY"):
                s.infer(np.zeros(16, np.int8))
            assert s.hello().streaming
        assert not s.hello().streaming
        s.infer(np.zeros(16, np.int8))


def test_new_session_stops_a_stream_left_running(device: Device) -> None:
    s1 = Session(device.path, **FAST)
    s1.connect()
    s1.stream(0, 100, None).start()
    s1.close()  # the host "crashes" without STREAM_STOP
    time.sleep(0.2)
    with Session(device.path, **FAST) as s2:
        assert not s2.hello().streaming
        assert s2.bench(0, 5)  # no BUSY


def test_soft_reset_and_exit_code(device: Device) -> None:
    with Session(device.path, **FAST) as s:
        with s.stream(0, 50, None) as st:
            st.start()
            s.reset()  # soft: stops the stream
            assert not s.hello().streaming
        s.reset(exit_firmware=True, code=7)
    assert device.proc.wait(timeout=5) == 7


def test_stdio_mode_serves_the_same_protocol(host_firmware) -> None:
    proc = subprocess.Popen([str(host_firmware()), "--stdio"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(P.encode_frame(P.Msg.ECHO, 5, b"hi\x00"))
        proc.stdin.flush()
        sp = P.FrameSplitter()
        frames: list[P.Frame] = []
        while not frames:
            frames = sp.feed(os.read(proc.stdout.fileno(), 4096))
        assert (frames[0].type, frames[0].seq, frames[0].payload) == (P.Msg.ECHO | 0x80, 5, b"hi\x00")
    finally:
        proc.kill()
        proc.wait()


# --- failures the harness must survive or name ------------------------------------------


def _check_infers(s: Session, n: int, seed: int = 1) -> None:
    for x in _inputs(n, seed=seed):
        y, _ = s.infer(x)
        np.testing.assert_array_equal(y.ravel(), fake_model(x))


@pytest.mark.parametrize("faults", [
    [Fault("corrupt", "to_device", at_frame=3), Fault("corrupt", "to_device", at_frame=9, count=3)],
    [Fault("corrupt", "to_host", at_frame=3), Fault("corrupt", "to_host", at_frame=10, count=4)],
    [Fault("drop", "to_device", at_frame=4, count=2), Fault("drop", "to_host", at_frame=7, count=5)],
    [Fault("drop", "to_host", at_byte=200, count=40)],
    [Fault("garbage", "to_device", at_frame=5, count=300), Fault("garbage", "to_host", at_frame=6, count=50)],
], ids=["corrupt-requests", "corrupt-replies", "drop-bytes", "drop-burst", "garbage-mid-run"])
def test_session_recovers_from_link_faults(device: Device, faults: list[Fault]) -> None:
    with FaultProxy(device.path, faults, seed=11) as proxy:
        with Session(proxy.url, **FAULTY) as s:
            _check_infers(s, 30)
            assert len(proxy.applied) == len(faults)
            assert s.resends >= 1


def test_reply_delayed_past_the_timeout_is_retried(device: Device) -> None:
    with FaultProxy(device.path, [Fault("delay", "to_host", at_frame=4, seconds=0.8)]) as proxy:
        with Session(proxy.url, timeout=0.3, retries=4) as s:
            t0 = time.monotonic()
            _check_infers(s, 10)
            assert s.resends >= 1
            assert time.monotonic() - t0 < 5


def test_link_dead_longer_than_all_retries_fails_in_bounded_time(device: Device) -> None:
    with FaultProxy(device.path, [Fault("delay", "to_host", at_frame=3, seconds=5.0)]) as proxy:
        with Session(proxy.url, timeout=0.3, retries=2) as s:
            t0 = time.monotonic()
            with pytest.raises(DeviceError, match=r"stopped answering.*INFER after 3 tries"):
                _check_infers(s, 10)
            assert time.monotonic() - t0 < 0.3 * 3 + 1.0


def test_garbage_before_the_handshake(device: Device) -> None:
    faults = [Fault("garbage", "to_device", at_byte=0, count=700),
              Fault("garbage", "to_host", at_byte=0, count=500)]
    with FaultProxy(device.path, faults, seed=3) as proxy:
        with Session(proxy.url, **FAST) as s:
            _check_infers(s, 5)


def test_board_still_booting_loses_the_first_hellos(device_factory) -> None:
    dev = device_factory("--boot-delay-ms", "900")
    t0 = time.monotonic()
    with Session(dev.path, **FAST) as s:
        assert time.monotonic() - t0 >= 0.8  # HELLOs went unanswered until the UART was up
        _check_infers(s, 3)


def test_random_fault_soak(device: Device) -> None:
    rng = random.Random(2026)
    faults = [Fault(rng.choice(["corrupt", "drop", "garbage"]), rng.choice(["to_device", "to_host"]),
                    at_frame=rng.randrange(2, 140), count=rng.randrange(1, 8)) for _ in range(25)]
    with FaultProxy(device.path, faults, seed=5) as proxy:
        with Session(proxy.url, **FAULTY) as s:
            _check_infers(s, 150, seed=9)
            assert s.hello().protocol_version == P.PROTOCOL_VERSION
            assert len(proxy.applied) >= 10


def test_proxy_over_tcp_socket_url(device: Device) -> None:
    with FaultProxy(device.path, [Fault("corrupt", "to_host", at_frame=2)], listen="tcp") as proxy:
        assert proxy.url.startswith("socket://")
        with Session(proxy.url, **FAST) as s:
            _check_infers(s, 10)


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "through-proxy"])
def test_device_killed_mid_run_is_a_clear_error(device: Device, via_proxy: bool) -> None:
    proxy = FaultProxy(device.path).__enter__() if via_proxy else None
    try:
        with Session(proxy.url if proxy else device.path, timeout=0.5, retries=2) as s:
            _check_infers(s, 5)
            threading.Timer(0.2, device.kill).start()
            t0 = time.monotonic()
            with pytest.raises(DeviceError) as err:
                while True:
                    _check_infers(s, 5)
            assert time.monotonic() - t0 < 0.2 + 0.5 * 3 + 1.0
            assert len(str(err.value).splitlines()) == 1
            assert "lost" in str(err.value) or "stopped answering" in str(err.value)
    finally:
        if proxy:
            proxy.close()


def test_device_killed_mid_stream(device: Device) -> None:
    with Session(device.path, timeout=0.5, retries=2) as s:
        threading.Timer(0.3, device.kill).start()
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match="lost|stalled"):
            for _ in s.stream(0, 100, 10.0):
                pass
        assert time.monotonic() - t0 < 3


def test_silent_port_no_answer() -> None:
    master, slave = os.openpty()
    try:
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=r"no answer from .* to handshake within 1 s"):
            Session(os.ttyname(slave), timeout=0.3, handshake_timeout=1.0).connect()
        assert time.monotonic() - t0 < 2
    finally:
        os.close(master)
        os.close(slave)


def test_port_answering_garbage_is_named() -> None:
    master, slave = os.openpty()
    stop = threading.Event()

    def chatter() -> None:  # e.g. a board printing a boot log at the wrong baud rate
        rng = random.Random(0)
        while not stop.is_set():
            os.write(master, bytes(rng.randrange(256) for _ in range(64)))
            time.sleep(0.01)

    t = threading.Thread(target=chatter, daemon=True)
    t.start()
    try:
        with pytest.raises(DeviceError, match="not in the edgekit protocol"):
            Session(os.ttyname(slave), timeout=0.3, handshake_timeout=1.0).connect()
    finally:
        stop.set()
        t.join()
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("url, fragment", [
    ("/dev/does-not-exist-edgekit", "no such serial port: /dev/does-not-exist-edgekit"),
    ("socket://127.0.0.1:1", "cannot open serial port socket://127.0.0.1:1"),
])
def test_unopenable_ports(url: str, fragment: str) -> None:
    with pytest.raises(DeviceError) as err:
        Session(url).connect()
    assert fragment in str(err.value) and len(str(err.value).splitlines()) == 1


# --- the core builds for the real targets -----------------------------------------------

CORE = core_sources()
TARGETS = {
    "gcc": ["gcc", "-O2"],
    "clang": ["clang", "-O2"],
    "cortex-m4f": ["arm-none-eabi-gcc", "-Os", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                   "-mfloat-abi=hard", "-ffreestanding"],
    "rv32imc": ["riscv64-unknown-elf-gcc", "-Os", "-march=rv32imc", "-mabi=ilp32", "-ffreestanding"],
}


@pytest.mark.toolchain
@pytest.mark.parametrize("target", list(TARGETS))
def test_core_compiles_warning_free(target: str, tmp_path: Path) -> None:
    cc, *flags = TARGETS[target]
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    for src in CORE:
        cmd = [cc, *WARN, *flags, f"-I{COMMON}", f"-I{FAKE_MODEL}", "-c", str(src),
               "-o", str(tmp_path / (src.stem + ".o"))]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    if target == "cortex-m4f":
        # Freestanding: the core needs nothing from a C library.
        nm = subprocess.run(["arm-none-eabi-nm", "-u", str(tmp_path / "ek_app.o"),
                             str(tmp_path / "ek_protocol.o")], capture_output=True, text=True)
        undefined = {ln.split()[-1] for ln in nm.stdout.splitlines() if ln.strip() and ":" not in ln}
        allowed = {"edgekit_model_init", "edgekit_model_invoke", "edgekit_model_reset"} | \
            {s for s in undefined if s.startswith(("ek_port_", "ek_"))}
        assert undefined <= allowed, undefined - allowed


@pytest.mark.parametrize("per_unit", [0.0, -1.0, float("nan"), float("inf")])
def test_stream_rejects_a_bad_input_scale(device: Device, per_unit: float) -> None:
    with Session(device.path, **FAST) as s:
        with pytest.raises(DeviceError, match="BAD_ARG"):
            list(s.stream(0, 50, 0.2, infer=True, input_per_unit=per_unit))
        # A scale flag without the 4 scale bytes is a length error, and the device stays usable.
        payload = P.stream_start_request(0, 50, infer=True, input_per_unit=1.0)[:8]
        with pytest.raises(DeviceError, match="BAD_LENGTH"):
            s.request(P.Msg.STREAM_START, payload)
        assert s.hello().protocol_version == P.PROTOCOL_VERSION

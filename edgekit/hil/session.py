"""A conversation with an edgekit board: handshake, info, infer, bench, stream, reset.

Stop-and-wait: one request is on the wire at a time and its reply (matched by sequence
number) is awaited before the next, so a UART without flow control never overruns the
device's one-frame receive buffer. A lost or corrupted request or reply is repaired by
resending the same request with the same sequence number a bounded number of times
(every command is idempotent for a retry); every wait has a deadline.

    with Session("/dev/ttyACM0") as s:      # connect() + handshake
        out, cycles = s.infer(x_int8)
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import numpy as np

from edgekit.errors import DataError, DeviceError, DeviceRefused
from edgekit.hil import protocol as P
from edgekit.hil.link import DEFAULT_BAUD, Link, open_link
from edgekit.hil.streaming import Stream
from edgekit.model.iotypes import IO_TYPES, IoType

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_RETRIES = 3
DEFAULT_HANDSHAKE_S = 8.0
# Per-HELLO wait during the handshake: short, since a booting board loses what we send.
_HELLO_WAIT_S = 0.3


class Session:
    """One host-side session with a device speaking docs/protocol.md.

    Args:
        url: anything ``serial.serial_for_url`` opens (device path, pty, socket://...).
        baudrate: UART speed (ignored by ptys and sockets).
        timeout: seconds to wait for each reply before resending the request.
        retries: resends of one request before giving up with DeviceError.
        handshake_timeout: total seconds connect() keeps sending HELLO to a silent
            or booting board.
        link: an already open Link (tests); ``url`` is then only used in messages.
    """

    def __init__(self, url: str, *, baudrate: int = DEFAULT_BAUD,
                 timeout: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_S, link: Link | None = None) -> None:
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self.retries = retries
        self.handshake_timeout = handshake_timeout
        self.link = link
        self.hello_reply: P.Hello | None = None
        self.device: P.DeviceInfo | None = None
        self.max_payload = P.MIN_MAX_PAYLOAD
        # Random start: a stale reply left in the port by an earlier session must not
        # match one of our sequence numbers.
        self._seq = int.from_bytes(os.urandom(2), "little")
        self._early_samples: list[P.Frame] = []
        self._last_infer_s = 0.0
        #: Requests resent after a timeout or a BAD_CRC answer (link-quality indicator).
        self.resends = 0

    # -- lifetime ---------------------------------------------------------------------

    def __enter__(self) -> Session:
        self.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def connect(self) -> P.DeviceInfo:
        """Open the port, handshake (HELLO until answered) and read INFO.

        Garbage and a board that is still booting are tolerated until
        ``handshake_timeout``; then DeviceError says whether the board was silent or
        answered something that is not this protocol.
        """
        if self.link is None:
            self.link = open_link(self.url, baudrate=self.baudrate, write_timeout=self.timeout)
        try:
            return self._handshake()
        except BaseException:
            self.close()  # a failed connect leaves no port open (__exit__ will not run)
            raise

    def _handshake(self) -> P.DeviceInfo:
        assert self.link is not None
        self.link.discard_input()
        deadline = time.monotonic() + self.handshake_timeout
        while True:
            seq = self._next_seq()
            self.link.write(P.encode_frame(P.Msg.HELLO, seq, P.hello_request()))
            wait_until = min(deadline, time.monotonic() + _HELLO_WAIT_S)
            # Garbage is expected while a board boots: keep the HELLO pace regardless.
            reply = self._await(P.Msg.HELLO, seq, wait_until, early_retry=False)
            if isinstance(reply, P.Frame):
                break
            if time.monotonic() >= deadline:
                raise self._silent("handshake", self.handshake_timeout)
        hello = self.decode(P.Hello.decode, reply.payload, "HELLO")
        if hello.protocol_version != P.PROTOCOL_VERSION:
            raise DeviceError(
                f"device on {self.url} speaks protocol v{hello.protocol_version}, "
                f"this edgekit speaks v{P.PROTOCOL_VERSION}",
                hint="regenerate and reflash the firmware with this edgekit version",
            )
        self.hello_reply = hello
        self.max_payload = max(P.MIN_MAX_PAYLOAD, hello.max_payload)
        if hello.streaming:
            # An earlier session died mid-stream: start from an idle device.
            self.request(P.Msg.STREAM_STOP)
        return self.info()

    def close(self) -> None:
        """Close the port (idempotent)."""
        if self.link is not None:
            self.link.close()
            self.link = None

    # -- commands ---------------------------------------------------------------------

    def hello(self) -> P.Hello:
        """Liveness check: protocol version, state and receive-error counters."""
        self.hello_reply = self.decode(P.Hello.decode, self.request(P.Msg.HELLO, P.hello_request()),
                                       "HELLO")
        return self.hello_reply

    def info(self) -> P.DeviceInfo:
        """Board, firmware and model description (shapes, quantization, sha256...)."""
        self.device = self.decode(P.DeviceInfo.decode, self.request(P.Msg.INFO), "INFO")
        return self.device

    def echo(self, data: bytes) -> bytes:
        """Send ``data`` and return what the device echoes (link test and baseline)."""
        if len(data) > self.max_payload:
            raise DataError(f"echo payload of {len(data)} bytes exceeds the device's "
                            f"max payload of {self.max_payload}")
        return self.request(P.Msg.ECHO, bytes(data))

    def infer(self, x: np.ndarray | bytes, *, timeout: float | None = None) -> tuple[np.ndarray, int]:
        """Run the model once on the input ``x``, in the model input's type (int8, uint8, int16:
        quantized; int32: token ids; float32).

        Returns the output in the model output's type (shaped as the device reports) and the cycles spent
        inside edgekit_model_invoke. Inputs larger than one frame go in INFER_CHUNKs,
        outputs larger than one frame come back with READ_OUTPUT.
        """
        info = self._info()
        out, cycles = self.infer_block(_input_bytes(x, info), timeout=timeout)
        arr = np.frombuffer(out, dtype=_wire_type(info.output_dtype).numpy)
        if arr.size == int(np.prod(info.output_shape)):
            arr = arr.reshape(info.output_shape)
        return arr.copy(), cycles

    def infer_block(self, data: bytes, *, timeout: float | None = None) -> tuple[bytes, int]:
        """Run the model once on the input block `data` (all the model's inputs, each at its
        offset: iotypes.io_offsets) and return the output block's bytes and the cycles spent
        inside edgekit_model_invoke."""
        info = self._info()
        if len(data) != info.input_bytes:
            raise DataError(f"input block has {len(data)} bytes but the model on the device takes "
                            f"{info.input_bytes}")
        t0 = time.monotonic()
        chunk = self.max_payload - 4
        if len(data) <= self.max_payload:
            reply = self.decode(P.InferReply.decode, self.request(P.Msg.INFER, data, timeout=timeout),
                                "INFER")
        else:
            for off in range(0, len(data), chunk):
                self.request(P.Msg.INFER_CHUNK, P.infer_chunk_request(off, data[off:off + chunk]))
            reply = self.decode(P.InferReply.decode, self.request(P.Msg.INFER, b"", timeout=timeout),
                                "INFER")
        self._last_infer_s = time.monotonic() - t0
        out = bytearray(reply.output)
        while len(out) < reply.output_bytes:
            part = self.request(P.Msg.READ_OUTPUT,
                                P.read_output_request(len(out), min(chunk, reply.output_bytes - len(out))))
            if len(part) <= 4:
                raise DeviceError(f"device on {self.url} returned no output bytes at offset {len(out)}")
            out += part[4:]
        return bytes(out[:reply.output_bytes]), reply.cycles

    def bench(self, warmup: int, runs: int, *, timeout: float | None = None) -> list[int]:
        """``warmup`` unmeasured invokes, then ``runs`` measured ones on the last input.

        Returns the cycles of each measured run. Split into several BENCH requests when
        one reply cannot carry all runs; the reply timeout grows with the work asked.
        """
        if warmup < 0 or runs < 1:
            raise DataError(f"bench needs warmup >= 0 and runs >= 1, got {warmup} and {runs}")
        if self._last_infer_s == 0.0:
            # Time one invoke first so the reply timeout below fits a slow model.
            t0 = time.monotonic()
            self.request(P.Msg.INFER, b"", timeout=timeout)
            self._last_infer_s = time.monotonic() - t0
        per_reply = P.bench_max_runs(self.max_payload)
        cycles: list[int] = []
        w = warmup
        while len(cycles) < runs:
            n = min(per_reply, runs - len(cycles))
            # Bound the wait by the work: a round trip of INFER took _last_infer_s.
            budget = (timeout or self.timeout) + 4.0 * (min(w, 0xFFFF) + n) * self._last_infer_s
            reply = self.request(P.Msg.BENCH, P.bench_request(min(w, 0xFFFF), n), timeout=budget)
            cycles += self.decode(P.decode_bench, reply, "BENCH")
            w = 0
        return cycles

    def stream(self, sensor: int, rate_hz: int, seconds: float | None, *, infer: bool = False,
               shift: int = 0, infer_every: int = 1, input_per_unit: float | None = None,
               keep_state: bool = False) -> Stream:
        """Start streaming ``sensor`` at ``rate_hz``; iterate the result for samples.

        Iteration ends after ``seconds`` (None: until the consumer stops), then
        STREAM_STOP is sent. With ``infer``, the device runs the model on a sliding
        window of the values every ``infer_every`` samples and attaches the prediction.
        Each value becomes an int8 input quantized with the model's input scale and zero
        point after multiplying by ``input_per_unit`` (model input units per sensor unit,
        e.g. 0.001 for a model in g fed by a sensor in mg); without it, ``value / 2**shift``
        saturated to int8. Each inference starts from the model's initial recurrent state
        unless ``keep_state``: then the stream's first starts fresh and each later one
        continues the state the previous left (docs/protocol.md 4.6).
        """
        return Stream(self, sensor, rate_hz, seconds, infer=infer, shift=shift,
                      infer_every=infer_every, input_per_unit=input_per_unit, keep_state=keep_state)

    def reset(self, *, exit_firmware: bool = False, code: int = 0) -> None:
        """Soft reset (stop streaming, clear buffers, re-init the model), or with
        ``exit_firmware`` leave the firmware (ek_port_exit(code): reboot on silicon,
        exit the emulator) and close the port; call connect() again to talk to a
        board that reboots."""
        if not exit_firmware:
            self.request(P.Msg.RESET, P.reset_request())
            return
        # The firmware leaves right after its reply, which may therefore be lost with
        # the link (an emulator exits, a USB VCP re-enumerates): both mean success.
        try:
            self.request(P.Msg.RESET, P.reset_request(True, code), retries=0)
        except DeviceError:
            pass
        self.device = None
        self.close()

    # -- what a Stream needs ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self.link is not None

    @property
    def last_seq(self) -> int:
        """Sequence number of the last request sent (a stream's SAMPLE frames carry its
        STREAM_START's)."""
        return self._seq

    def take_early_samples(self) -> list[P.Frame]:
        """SAMPLE frames that arrived before the STREAM_START reply (whose first copy was
        lost); each is handed out once."""
        frames, self._early_samples = self._early_samples, []
        return frames

    def read_frame(self, deadline: float) -> P.Frame | None:
        """The next good frame from the link, whatever its type; None at ``deadline``
        (``time.monotonic()``)."""
        return self._link().read_frame(deadline)

    # -- core -------------------------------------------------------------------------

    def request(self, cmd: P.Msg, payload: bytes = b"", *, timeout: float | None = None,
                retries: int | None = None) -> bytes:
        """Send one request and return its reply payload (stop-and-wait with retries).

        The same frame (same sequence number) is resent after ``timeout`` or a BAD_CRC
        answer, at most ``retries`` times; an ERROR reply raises DeviceError.
        """
        link = self._link()
        name = cmd.name if isinstance(cmd, P.Msg) else f"command 0x{int(cmd):02x}"
        if len(payload) > self.max_payload:
            raise DataError(f"{name} payload of {len(payload)} bytes exceeds the device's "
                            f"max payload of {self.max_payload}")
        wait = self.timeout if timeout is None else timeout
        tries = 1 + (self.retries if retries is None else retries)
        seq = self._next_seq()
        frame = P.encode_frame(cmd, seq, payload)
        if cmd == P.Msg.STREAM_START:
            self._early_samples.clear()
        for attempt in range(tries):
            if attempt:
                self.resends += 1
            link.write(frame)
            reply = self._await(cmd, seq, time.monotonic() + wait)
            if isinstance(reply, P.Frame):
                return reply.payload
            # None (timeout) or a BAD_CRC error: resend the same request.
        raise self._silent(name, wait, tries=tries)

    def _await(self, cmd: P.Msg, seq: int, deadline: float, *,
               early_retry: bool = True) -> P.Frame | str | None:
        """Wait for the reply to (cmd, seq). Returns the frame, 'retry' (a corrupted
        frame either way), or None at the deadline; raises on any other ERROR reply."""
        link = self._link()
        want = cmd | P.Msg.REPLY
        bad_before = link.splitter.bad_frames
        while True:
            f = link.read_frame(min(deadline, time.monotonic() + 0.02))
            if f is None:
                if time.monotonic() >= deadline:
                    return None
                if early_retry and link.splitter.bad_frames != bad_before:
                    # A corrupted frame arrived and nothing good after it: most likely
                    # our reply. Resend now rather than wait out the timeout.
                    return "retry"
                continue
            if f.seq != seq:
                continue  # stale reply or a sample of an older stream
            if f.type == want:
                return f
            if f.type == P.Msg.SAMPLE and cmd == P.Msg.STREAM_START:
                self._early_samples.append(f)  # our ack was lost but the stream runs
                continue
            if f.type == P.Msg.ERROR:
                err = self.decode(P.DeviceErrorReply.decode, f.payload, "ERROR")
                if err.code == P.ErrorCode.BAD_CRC:
                    return "retry"
                raise DeviceRefused(f"{err.describe()} (device on {self.url})", code=err.code, detail=err.detail)

    def _silent(self, what: str, wait: float, tries: int = 1) -> DeviceError:
        link = self._link()
        sp = link.splitter
        tried = f"after {tries} tries of {wait:g} s" if tries > 1 else f"within {wait:g} s"
        text = first_text_line(sp.head) if sp.good_frames == 0 else None
        if text is not None:
            return DeviceError(
                f"device on {self.url} answers with text that is not the edgekit protocol: {text!r}",
                hint="another firmware or a bootloader runs there: flash the project "
                     "(edgekit flash PROJECT_DIR) and retry",
            )
        if sp.good_frames == 0 and sp.unframed_bytes > 0:
            return DeviceError(
                f"device on {self.url} answers, but not in the edgekit protocol "
                f"({sp.unframed_bytes} bytes of garbage, e.g. {bytes(sp.head[:16] or sp.last_garbage[:16])!r})",
                hint="wrong baud rate, or the board does not run edgekit firmware: flash it",
            )
        if sp.good_frames == 0:
            return DeviceError(
                f"no answer from {self.url} to {what} {tried}",
                hint="is the board powered, flashed with edgekit firmware and on this port?",
            )
        return DeviceError(
            f"device on {self.url} stopped answering: no valid reply to {what} {tried} "
            f"({sp.bad_frames} corrupted frames so far)",
            hint="the link is noisy or the board hung; reset it and retry",
        )

    def decode(self, fn: Callable[[bytes], T], payload: bytes, what: str) -> T:
        """Decode a reply payload with `fn`; a malformed one is a DeviceError, not a traceback."""
        try:
            return fn(payload)
        except (P.ProtocolError, struct.error, ValueError) as e:
            raise DeviceError(f"device on {self.url} sent a malformed {what} reply: {e}",
                              hint="firmware and host disagree on the protocol; reflash") from None

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    def _link(self) -> Link:
        if self.link is None:
            raise DeviceError(f"session to {self.url} is not connected", hint="call connect() first")
        return self.link

    def _info(self) -> P.DeviceInfo:
        return self.device if self.device is not None else self.info()


def first_text_line(data: bytes | bytearray, limit: int = 60) -> str | None:
    """The first line of ``data`` that reads as text (a boot banner, another firmware's log),
    trimmed to ``limit`` characters with non-printable characters escaped; None when the
    bytes do not look like text (mostly printable ASCII and line breaks)."""
    data = bytes(data)
    if sum(32 <= b < 127 or b in b"\r\n\t" for b in data) < 0.8 * len(data):
        return None  # binary: a wrong baud rate or a protocol of another kind
    for raw in re.split(rb"[\r\n\x00]+", data):
        line = raw.strip()
        printable = sum(32 <= b < 127 or b == 9 for b in line)
        if len(line) >= 3 and printable >= 0.9 * len(line) and any(chr(b).isalpha() for b in line):
            text = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in line)
            return text if len(text) <= limit else text[:limit - 1] + "…"
    return None


def _wire_type(dtype: str) -> IoType:
    if dtype not in IO_TYPES:
        raise DeviceError(f"the device reports a model I/O type this edgekit does not know ({dtype})",
                          hint="update edgekit")
    return IO_TYPES[dtype]


def _input_bytes(x: np.ndarray | bytes, info: P.DeviceInfo) -> bytes:
    """The input's wire bytes in the device model's input type (little-endian)."""
    t = _wire_type(info.input_dtype)
    if isinstance(x, (bytes, bytearray, memoryview)):
        data = bytes(x)
    else:
        arr = np.asarray(x)
        if arr.dtype != t.numpy:
            if t.name != "float32" and not np.issubdtype(arr.dtype, np.integer):
                hint = ("quantize with the input scale and zero point from INFO" if t.quantized
                        else "send the token ids as integers")
                raise DataError(f"model input must be {t.name}, got {arr.dtype}", hint=hint)
            if t.name != "float32":
                lo, hi = t.bounds()
                if arr.size and (arr.min() < lo or arr.max() > hi):
                    raise DataError(f"model input has values outside the {t.name} range {lo}..{hi}")
            arr = arr.astype(t.numpy)
        data = arr.tobytes()
    if len(data) != info.input_bytes:
        raise DataError(f"input has {len(data)} bytes but the model on the device takes "
                        f"{info.input_bytes} ({info.input_dtype}, shape {info.input_shape})")
    return data

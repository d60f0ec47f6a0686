"""The edgekit serial protocol, host side: pure functions and message types, no I/O.

Normative description: docs/protocol.md. In short, every frame on the wire is

    0x00 | COBS( version u8 | type u8 | seq u16 | len u16 | payload | crc32 u32 ) | 0x00

little-endian, CRC-32/IEEE (``zlib.crc32``) over version..payload. The firmware side is
firmware_templates/common/ek_protocol.c; the two must stay byte-identical.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

import numpy as np

# CRC and COBS live in framing.py; they stay importable from here as part of the protocol's API.
from edgekit.hil.framing import ProtocolError, cobs_decode, cobs_encode, crc32
from edgekit.model.iotypes import BY_CODE

PROTOCOL_VERSION = 2
HEADER_BYTES = 6
CRC_BYTES = 4
OVERHEAD = HEADER_BYTES + CRC_BYTES
DELIMITER = b"\x00"
#: Max payload assumed before HELLO has told the real one (the device minimum).
MIN_MAX_PAYLOAD = 256
#: Values per stream sample a device may send (EK_APP_MAX_SENSOR_VALUES upper bound).
MAX_SENSOR_VALUES = 64
HEAD_BYTES = 512  # what a FrameSplitter keeps from before the first good frame, for errors
SAMPLE_HEADER = 16  # SAMPLE payload: seq u32, t_us u64, sensor u8, flags u8, n u8, reserved u8


class Msg(enum.IntEnum):
    """Message types. Replies are ``request | REPLY``; bit 7 set = sent by the device."""

    HELLO = 0x01
    INFO = 0x02
    INFER = 0x03
    INFER_CHUNK = 0x04
    READ_OUTPUT = 0x05
    BENCH = 0x06
    STREAM_START = 0x07
    STREAM_STOP = 0x08
    RESET = 0x09
    ECHO = 0x0A
    PROFILE = 0x0B   # per-op profile of one invoke (edgekit/hil/profile.py)
    REPLY = 0x80
    SAMPLE = 0xC0
    ERROR = 0xFF


class ErrorCode(enum.IntEnum):
    """Codes carried by an ERROR frame."""

    BAD_CRC = 0x01
    UNKNOWN_CMD = 0x02
    BAD_LENGTH = 0x03
    BUSY = 0x04
    MODEL = 0x05
    NO_SUCH_SENSOR = 0x06
    BAD_ARG = 0x07
    BAD_VERSION = 0x08
    TOO_LONG = 0x09
    NOT_READY = 0x0A


ERROR_TEXT: dict[int, str] = {
    ErrorCode.BAD_CRC: "the device received a corrupted frame (bad CRC)",
    ErrorCode.UNKNOWN_CMD: "the firmware does not know this command (older firmware?)",
    ErrorCode.BAD_LENGTH: "the payload length is wrong for this command",
    ErrorCode.BUSY: "the device is busy (streaming); stop the stream first",
    ErrorCode.MODEL: "the model returned an error",
    ErrorCode.NO_SUCH_SENSOR: "the sensor cannot be read",
    ErrorCode.BAD_ARG: "an argument is out of range",
    ErrorCode.BAD_VERSION: "the device speaks another protocol version",
    ErrorCode.TOO_LONG: "the frame is longer than the device's buffer",
    ErrorCode.NOT_READY: "the model failed to initialise on the device",
}

#: INFO's dtype codes (edgekit/model/iotypes.py holds the table): 1 int8, 2 uint8, 3 int16, 4 float32,
#: 5 int32. A code added is a compatible change: a host refuses a dtype it does not know.
DTYPES = {code: t.name for code, t in BY_CODE.items()}


def max_wire_bytes(payload_len: int) -> int:
    """Upper bound of a frame's size on the wire, both delimiters included."""
    body = payload_len + OVERHEAD
    return body + body // 254 + 1 + 2


# --- Frames ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    type: int
    seq: int
    payload: bytes = b""
    version: int = PROTOCOL_VERSION


def encode_frame(type_: int, seq: int, payload: bytes = b"", *, version: int = PROTOCOL_VERSION) -> bytes:
    """Wire bytes of a frame: leading 0x00, COBS body, trailing 0x00."""
    if not 0 <= seq <= 0xFFFF:
        raise ValueError(f"seq {seq} out of range 0..65535")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes exceeds 65535")
    body = struct.pack("<BBHH", version, type_, seq, len(payload)) + bytes(payload)
    body += struct.pack("<I", crc32(body))
    return DELIMITER + cobs_encode(body) + DELIMITER


def decode_frame(encoded: bytes) -> Frame:
    """Decode one frame given its COBS bytes between two delimiters.

    Raises ProtocolError for malformed COBS, short frames, bad CRC or a length field
    that disagrees with the frame size.
    """
    body = cobs_decode(encoded)
    if len(body) < OVERHEAD:
        raise ProtocolError(f"frame of {len(body)} bytes is shorter than header + CRC")
    (crc_rx,) = struct.unpack_from("<I", body, len(body) - CRC_BYTES)
    if crc32(body[:-CRC_BYTES]) != crc_rx:
        raise ProtocolError("bad CRC")
    version, type_, seq, length = struct.unpack_from("<BBHH", body)
    payload = body[HEADER_BYTES:-CRC_BYTES]
    if length != len(payload):
        raise ProtocolError(f"length field {length} but {len(payload)} payload bytes")
    return Frame(type=type_, seq=seq, payload=payload, version=version)


class FrameSplitter:
    """Cuts a byte stream into frames at 0x00 delimiters (host-side receive path).

    ``feed`` returns the decoded good frames; bad ones are counted, never raised,
    because line noise is expected and the session retries.
    """

    def __init__(self, max_frame: int = 0xFFFF + OVERHEAD) -> None:
        self._buf = bytearray()
        self._max_encoded = max_frame + max_frame // 254 + 1
        self._overflow = False
        self.bad_frames = 0
        self.garbage_bytes = 0
        self.good_frames = 0
        self.last_garbage = b""
        self.head = bytearray()  # the first bytes, before any good frame (a banner, a log line)

    @property
    def unframed_bytes(self) -> int:
        """Bytes received that are not part of a good frame (garbage plus an unfinished frame)."""
        return self.garbage_bytes + len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Consume received bytes; return the good frames completed by them."""
        frames: list[Frame] = []
        if self.good_frames == 0 and len(self.head) < HEAD_BYTES:
            self.head += bytes(data)[:HEAD_BYTES - len(self.head)]
        for part_i, part in enumerate(bytes(data).split(DELIMITER)):
            if part_i > 0:
                self._finish(frames)
            if self._overflow:
                self.garbage_bytes += len(part)
                continue
            self._buf += part
            if len(self._buf) > self._max_encoded:
                self.garbage_bytes += len(self._buf)
                self.last_garbage = bytes(self._buf[:32])
                self._buf.clear()
                self._overflow = True
        return frames

    def _finish(self, frames: list[Frame]) -> None:
        if self._overflow:
            self._overflow = False
            self.bad_frames += 1
            return
        if not self._buf:
            return  # empty frame: a frame-start delimiter
        raw = bytes(self._buf)
        self._buf.clear()
        try:
            frames.append(decode_frame(raw))
            self.good_frames += 1
        except ProtocolError:
            self.bad_frames += 1
            self.garbage_bytes += len(raw) + 1
            self.last_garbage = raw[:32]


# --- Payloads --------------------------------------------------------------------------


def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) < n:
        raise ProtocolError(f"{what} payload of {len(payload)} bytes, need {n}")


@dataclass(frozen=True)
class Hello:
    """HELLO reply: liveness, protocol version, receive limits and diagnostics."""

    protocol_version: int
    streaming: bool
    model_ready: bool
    max_payload: int
    uptime_ms: int
    model_init_rc: int
    rx_bad_frames: int
    rx_overflows: int

    @classmethod
    def decode(cls, p: bytes) -> Hello:
        """Parse a HELLO reply payload (ProtocolError when it is too short)."""
        _need(p, 16, "HELLO")
        ver, flags, maxp, up, rc, bad, ovf = struct.unpack_from("<BBHIiHH", p)
        return cls(ver, bool(flags & 1), bool(flags & 2), maxp, up, rc, bad, ovf)


@dataclass(frozen=True)
class DeviceInfo:
    """INFO reply: what the firmware is and what model it runs."""

    protocol_version: int
    model_ready: bool
    max_payload: int
    cycles_hz: int
    arena_bytes: int
    input_bytes: int
    output_bytes: int
    input_dtype: str
    output_dtype: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    board_id: str
    firmware_version: str
    runtime: str
    model_sha256: str
    has_profiler: bool = False   # INFO flags bit 1: the firmware answers PROFILE
    inputs: int = 1              # model inputs and outputs (firmware before multi-I/O: absent, 1)
    outputs: int = 1

    @classmethod
    def decode(cls, p: bytes) -> DeviceInfo:
        """Parse an INFO reply payload (ProtocolError when it is too short)."""
        _need(p, 40, "INFO")
        (ver, flags, maxp, hz, arena, inb, outb, idt, odt, irank, orank,
         isc, izp, osc, ozp) = struct.unpack_from("<BBHIIIIBBBBfifi", p)
        off = 40
        _need(p, off + 4 * (irank + orank), "INFO")
        dims = struct.unpack_from(f"<{irank + orank}I", p, off)
        ishape, oshape = dims[:irank], dims[irank:]
        off += 4 * (irank + orank)
        strings: list[str] = []
        for _ in range(4):
            _need(p, off + 1, "INFO")
            n = p[off]
            _need(p, off + 1 + n, "INFO")
            strings.append(p[off + 1:off + 1 + n].decode("ascii", "replace"))
            off += 1 + n
        n_in, n_out = (p[off], p[off + 1]) if len(p) >= off + 2 else (1, 1)
        return cls(ver, bool(flags & 1), maxp, hz, arena, inb, outb,
                   DTYPES.get(idt, f"dtype{idt}"), DTYPES.get(odt, f"dtype{odt}"),
                   tuple(ishape), tuple(oshape), isc, izp, osc, ozp, strings[0], strings[1],
                   strings[2], strings[3], has_profiler=bool(flags & 2), inputs=n_in, outputs=n_out)


@dataclass(frozen=True)
class InferReply:
    """INFER reply: cycles inside edgekit_model_invoke and the first output bytes."""

    cycles: int
    output_bytes: int
    output: bytes

    @classmethod
    def decode(cls, p: bytes) -> InferReply:
        """Parse an INFER reply payload (ProtocolError when it is too short)."""
        _need(p, 8, "INFER")
        cycles, total = struct.unpack_from("<II", p)
        return cls(cycles, total, p[8:])


@dataclass(frozen=True)
class Sample:
    """One streamed sensor sample, optionally with the prediction made on the window."""

    seq: int
    t_us: int
    sensor: int
    values: tuple[int, ...]
    prediction: bytes | None = None
    cycles: int | None = None
    model_error: int | None = None

    @classmethod
    def decode(cls, p: bytes) -> Sample:
        """Parse a SAMPLE frame payload (ProtocolError when it is too short)."""
        _need(p, SAMPLE_HEADER, "SAMPLE")
        seq, t_us, sensor, flags, n = struct.unpack_from("<IQBBB", p)
        off = SAMPLE_HEADER
        _need(p, off + 2 * n, "SAMPLE")
        values = struct.unpack_from(f"<{n}h", p, off)
        off += 2 * n
        if flags == 0:
            return cls(seq, t_us, sensor, tuple(values))
        _need(p, off + 8, "SAMPLE")
        word, out_n = struct.unpack_from("<II", p, off)
        off += 8
        if flags == 2:
            rc = word - (1 << 32) if word & 0x80000000 else word
            return cls(seq, t_us, sensor, tuple(values), model_error=rc)
        _need(p, off + out_n, "SAMPLE")
        return cls(seq, t_us, sensor, tuple(values), bytes(p[off:off + out_n]), word)


@dataclass(frozen=True)
class StreamStopped:
    """STREAM_STOP reply: the device's own counts."""

    sent: int
    skipped: int

    @classmethod
    def decode(cls, p: bytes) -> StreamStopped:
        """Parse a STREAM_STOP reply payload (ProtocolError when it is too short)."""
        _need(p, 8, "STREAM_STOP")
        return cls(*struct.unpack_from("<II", p))


# ek_port_sensor_read's error codes (ek_port.h), sent as the NO_SUCH_SENSOR detail.
SENSOR_ERROR_TEXT = {
    -1: "the board has no such sensor", -2: "this port cannot read that sensor yet",
    -3: "the sensor gives more values than the buffer holds", -4: "the sensor does not acknowledge on its bus",
    -5: "the sensor bus timed out", -6: "bus error on the sensor bus",
    -7: "the chip on the bus is not the expected sensor",
}


@dataclass(frozen=True)
class DeviceErrorReply:
    """ERROR frame: which request failed and why."""

    code: int
    request: int
    detail: int
    text: str = field(default="")
    log: str = ""   # NOT_READY / MODEL: the tail of the model runtime's log (TFLM's messages)

    @classmethod
    def decode(cls, p: bytes) -> DeviceErrorReply:
        """Parse an ERROR reply payload (ProtocolError when it is too short)."""
        _need(p, 8, "ERROR")
        code, req, _, detail = struct.unpack_from("<BBHi", p)
        log = " ".join(p[8:].decode("utf-8", errors="replace").split())
        return cls(code, req, detail, ERROR_TEXT.get(code, f"unknown error code {code}"), log)

    def describe(self) -> str:
        """Human-readable one-liner, e.g. 'INFER failed: BAD_LENGTH (...), detail 16'."""
        req = next((m.name for m in Msg if m == self.request), f"command 0x{self.request:02x}")
        code = next((c.name for c in ErrorCode if c == self.code), f"0x{self.code:02x}")
        if self.code == ErrorCode.NO_SUCH_SENSOR and self.detail in SENSOR_ERROR_TEXT:
            return f"{req} failed on the device: {code} ({SENSOR_ERROR_TEXT[self.detail]})"
        log = f"; device log: {self.log}" if self.log else ""
        return f"{req} failed on the device: {code} ({self.text}), detail {self.detail}{log}"


# --- Request payload builders ----------------------------------------------------------


def hello_request() -> bytes:
    """HELLO payload: the host's protocol version."""
    return bytes([PROTOCOL_VERSION])


def infer_chunk_request(offset: int, data: bytes) -> bytes:
    """INFER_CHUNK payload: u32 offset into the input tensor, then the bytes."""
    return struct.pack("<I", offset) + bytes(data)


def read_output_request(offset: int, length: int) -> bytes:
    """READ_OUTPUT payload: u32 offset, u16 length."""
    return struct.pack("<IH", offset, length)


def bench_request(warmup: int, runs: int) -> bytes:
    """BENCH payload: u16 warm-up invokes, u16 measured runs."""
    return struct.pack("<HH", warmup, runs)


def decode_bench(p: bytes) -> list[int]:
    """BENCH reply: per-run cycles."""
    _need(p, 4, "BENCH")
    (runs,) = struct.unpack_from("<H", p)
    _need(p, 4 + 4 * runs, "BENCH")
    return list(struct.unpack_from(f"<{runs}I", p, 4))


def bench_max_runs(max_payload: int) -> int:
    """Runs one BENCH reply can carry."""
    return (max_payload - 4) // 4


def stream_start_request(sensor: int, rate_hz: int, *, infer: bool = False, shift: int = 0,
                         infer_every: int = 1, input_per_unit: float | None = None,
                         keep_state: bool = False) -> bytes:
    """STREAM_START payload: sensor, flags (bit 0 infer, bit 1 scaled inputs, bit 2 keep the
    model's recurrent state from one window to the next), rate, shift, infer_every, and with
    ``input_per_unit`` (model input units per sensor unit) the f32 scale."""
    flags = (1 if infer else 0) | (2 if input_per_unit is not None else 0) | (4 if keep_state else 0)
    payload = struct.pack("<BBHBBH", sensor, flags, rate_hz, shift, 0, infer_every)
    return payload + (struct.pack("<f", input_per_unit) if input_per_unit is not None else b"")


def decode_stream_ack(p: bytes) -> tuple[int, int, int]:
    """STREAM_START reply: (sensor, values per sample, accepted rate Hz)."""
    _need(p, 4, "STREAM_START")
    sensor, n, rate = struct.unpack_from("<BBH", p)
    return sensor, n, rate


def reset_request(exit_firmware: bool = False, code: int = 0) -> bytes:
    """RESET payload: mode 0 soft reset, 1 leave the firmware (ek_port_exit(code))."""
    return bytes([1 if exit_firmware else 0, code & 0xFF])


def sensor_to_input(value: int, shift: int = 0, *, per_lsb: float | None = None, zero_point: int = 0) -> int:
    """How the device turns a sensor value into an int8 model input while streaming: scaled
    (``per_lsb`` = input_per_unit / model input scale, computed in float32 as the device does)
    with rounding half away from zero, else shifted toward zero; then saturated."""
    if per_lsb is not None:
        r = float(np.float32(value) * np.float32(per_lsb))
        r = max(-1000.0, min(1000.0, r))
        q = int(r + 0.5) if r >= 0 else -int(0.5 - r)
        q += zero_point
    else:
        q = abs(value) >> shift
        q = -q if value < 0 else q
    return max(-128, min(127, q))



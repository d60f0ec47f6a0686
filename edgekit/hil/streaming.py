"""A sensor stream from an edgekit board (docs/protocol.md 4.6), on top of a Session.

``Session.stream(...)`` returns a :class:`Stream`; iterating it yields the device's samples
and counts what was dropped, on the device or on the link.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from edgekit.errors import DataError, DeviceError, DeviceRefused
from edgekit.hil import protocol as P

T = TypeVar("T")


class StreamSession(Protocol):
    """What a Stream needs of its :class:`~edgekit.hil.session.Session` (the section "what a
    Stream needs" there), so this module does not import the session that imports it."""

    timeout: float
    url: str

    @property
    def connected(self) -> bool: ...

    @property
    def last_seq(self) -> int: ...

    def take_early_samples(self) -> list[P.Frame]: ...

    def read_frame(self, deadline: float) -> P.Frame | None: ...

    def request(self, cmd: P.Msg, payload: bytes = b"", *, timeout: float | None = None,
                retries: int | None = None) -> bytes: ...

    def decode(self, fn: Callable[[bytes], T], payload: bytes, what: str) -> T: ...


@dataclass
class StreamStats:
    """What a stream delivered. ``dropped`` counts sample numbers never received: the
    device's own overruns (``device_skipped``) plus frames lost or corrupted on the link."""

    received: int = 0
    dropped: int = 0
    device_sent: int | None = None
    device_skipped: int | None = None
    first_t_us: int | None = None
    last_t_us: int | None = None

    @property
    def lost_on_link(self) -> int | None:
        """Samples the device sent that never arrived intact."""
        if self.device_skipped is None:
            return None
        return max(0, self.dropped - self.device_skipped)

    @property
    def rate_hz(self) -> float | None:
        """Sample rate measured with the device's own timestamps."""
        if self.first_t_us is None or self.last_t_us is None or self.received < 2:
            return None
        span = self.last_t_us - self.first_t_us
        return None if span <= 0 else (self.received + self.dropped - 1) * 1e6 / span


class Stream:
    """Iterable of :class:`edgekit.hil.protocol.Sample`; stops the stream when done.

    Use as ``for s in session.stream(...)`` (or a ``with`` block, which guarantees
    STREAM_STOP even if the loop is left early); ``stats`` holds the counts.
    """

    def __init__(self, session: StreamSession, sensor: int, rate_hz: int, seconds: float | None, *,
                 infer: bool, shift: int, infer_every: int, input_per_unit: float | None = None,
                 keep_state: bool = False) -> None:
        if not 1 <= rate_hz <= 0xFFFF:  # the protocol's u16; each sensor's limit is its board file's
            raise DataError(f"stream rate {rate_hz} Hz out of range")
        self.session = session
        self.sensor = sensor
        self.rate_hz = rate_hz
        self.seconds = seconds
        self.infer = infer
        self.shift = shift
        self.infer_every = infer_every
        self.input_per_unit = input_per_unit
        self.keep_state = keep_state
        self.stats = StreamStats()
        self.values_per_sample: int | None = None
        self._seq: int | None = None
        self._next = 0
        self._started = False
        self._stopped = False

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Send STREAM_START (done by iteration if not called)."""
        if self._started:
            return
        s = self.session
        payload = P.stream_start_request(self.sensor, self.rate_hz, infer=self.infer,
                                         input_per_unit=self.input_per_unit,
                                         shift=self.shift, infer_every=self.infer_every,
                                         keep_state=self.keep_state)
        try:
            ack = s.request(P.Msg.STREAM_START, payload)
        except DeviceRefused as e:
            if self.keep_state and e.code == P.ErrorCode.BAD_ARG and e.detail == 0:
                raise DeviceError(f"{e.message}: the firmware does not know the keep-state flag",
                                  hint="regenerate and rebuild the project with this edgekit "
                                       "(edgekit generate, edgekit build), then flash it") from None
            raise
        self._seq = s.last_seq  # every SAMPLE of this stream carries it
        _, self.values_per_sample, _ = s.decode(P.decode_stream_ack, ack, "STREAM_START")
        self._started = True

    def __iter__(self) -> Iterator[P.Sample]:
        self.start()
        s = self.session
        # Silence longer than this means the device or link died mid-stream.
        stall_s = max(s.timeout, 5.0 / self.rate_hz)
        end = None if self.seconds is None else time.monotonic() + self.seconds
        try:
            pending = s.take_early_samples()
            while end is None or time.monotonic() < end:
                if pending:
                    f = pending.pop(0)
                else:
                    limit = time.monotonic() + stall_s
                    got = s.read_frame(limit if end is None else min(limit, end))
                    if got is None:
                        if end is not None and time.monotonic() >= end:
                            break
                        raise DeviceError(
                            f"stream from {s.url} stalled: no sample for {stall_s:g} s "
                            f"after {self.stats.received} samples",
                            hint="the board hung or the link was cut; reset it and retry")
                    f = got
                if f.type != P.Msg.SAMPLE or f.seq != self._seq:
                    continue
                sample = s.decode(P.Sample.decode, f.payload, "SAMPLE")
                self._count(sample)
                yield sample
        except DeviceError:
            self._stopped = True  # the board is gone or hung: do not wait on it again
            raise
        finally:
            self.stop()

    def _count(self, sample: P.Sample) -> None:
        st = self.stats
        if sample.seq < self._next:
            return  # duplicate or reordered: already counted
        st.dropped += sample.seq - self._next
        self._next = sample.seq + 1
        st.received += 1
        if st.first_t_us is None:
            st.first_t_us = sample.t_us
        st.last_t_us = sample.t_us

    def stop(self) -> StreamStats:
        """Send STREAM_STOP (idempotent) and record the device's totals."""
        if self._started and not self._stopped and self.session.connected:
            self._stopped = True
            done = self.session.decode(P.StreamStopped.decode,
                                       self.session.request(P.Msg.STREAM_STOP), "STREAM_STOP")
            self.stats.device_sent = done.sent
            self.stats.device_skipped = done.skipped
        return self.stats


__all__ = ["Stream", "StreamStats"]

"""The fault-injecting proxy itself: faults land where asked, and a seed replays them."""

from __future__ import annotations

import os
import select
import time

import pytest

from edgekit.hil import protocol as P
from edgekit.sim.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.timeout(20)


def _read_for(fd: int, seconds: float) -> bytes:
    out = bytearray()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            out += os.read(fd, 4096)
    return bytes(out)


def _through_proxy(faults: list[Fault], seed: int, data: bytes) -> tuple[bytes, list]:
    """Device -> host: write `data` on a fake device pty, read what the host end gets."""
    dev_master, dev_slave = os.openpty()
    try:
        with FaultProxy(os.ttyname(dev_slave), faults, seed=seed) as proxy:
            host = os.open(proxy.url, os.O_RDWR | os.O_NOCTTY)
            try:
                os.write(dev_master, data)
                got = _read_for(host, 0.5)
            finally:
                os.close(host)
            return got, list(proxy.applied)
    finally:
        os.close(dev_master)
        os.close(dev_slave)


FRAMES = b"".join(P.encode_frame(P.Msg.ECHO | P.Msg.REPLY, i, bytes(range(1, 40))) for i in range(10))


def test_no_fault_is_transparent() -> None:
    got, applied = _through_proxy([], 0, FRAMES)
    assert got == FRAMES and applied == []


def test_faults_land_where_asked_and_replay_with_the_seed() -> None:
    faults = [Fault("corrupt", "to_host", at_frame=2, count=3), Fault("drop", "to_host", at_byte=400, count=5),
              Fault("garbage", "to_host", at_frame=7, count=9)]
    got1, applied = _through_proxy(faults, 42, FRAMES)
    got2, _ = _through_proxy([Fault(**vars(f)) for f in faults], 42, FRAMES)
    got3, _ = _through_proxy([Fault(**vars(f)) for f in faults], 43, FRAMES)
    assert got1 == got2 and got1 != got3
    assert [(a.kind, a.frame_no) for a in applied][:1] == [("corrupt", 2)]
    assert len(got1) == len(FRAMES) - 5 + 9
    frames = P.FrameSplitter().feed(got1)
    seqs = {f.seq for f in frames}
    assert 2 not in seqs and {0, 1, 3, 4, 5, 6, 8, 9} <= seqs | {7}


def test_cut_stops_forwarding() -> None:
    got, _ = _through_proxy([Fault("cut", "to_host", at_frame=3)], 0, FRAMES)
    assert len(P.FrameSplitter().feed(got)) == 3

"""The protocol's pure functions (edgekit/hil/protocol.py) and their agreement, byte for
byte, with the device side (firmware_templates/common/ek_protocol.c) built with gcc."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from edgekit.hil import protocol as P

from .conftest import COMMON, WARN

pytestmark = pytest.mark.timeout(60)

MAX_PAYLOAD = 256
HERE = Path(__file__).resolve().parent


# --- pure Python ------------------------------------------------------------------------


def test_crc32_is_ieee_check_value() -> None:
    # The standard check value of CRC-32/ISO-HDLC.
    assert P.crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("data, encoded", [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
])
def test_cobs_known_vectors(data: bytes, encoded: bytes) -> None:
    # Vectors from the COBS paper / Wikipedia, incl. the 254-byte block boundary.
    assert P.cobs_encode(data) == encoded
    assert P.cobs_decode(encoded) == data


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 256, 507, 508, 509, 762, 1000, 4096])
@pytest.mark.parametrize("fill", ["zeros", "nonzero", "mixed"])
def test_cobs_round_trip_sizes(n: int, fill: str) -> None:
    rng = random.Random(n)
    if fill == "zeros":
        data = bytes(n)
    elif fill == "nonzero":
        data = bytes(rng.randrange(1, 256) for _ in range(n))
    else:
        data = bytes(rng.choice([0, rng.randrange(256)]) for _ in range(n))
    enc = P.cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= n + n // 254 + 1
    assert P.cobs_decode(enc) == data


@pytest.mark.parametrize("bad", [b"\x05\x11\x22", b"\x02\x00", b"\x00"])
def test_cobs_decode_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(P.ProtocolError):
        P.cobs_decode(bad)


def test_frame_layout_is_as_documented() -> None:
    wire = P.encode_frame(P.Msg.INFER, 0x1234, b"\x01\x02")
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    body = P.cobs_decode(wire[1:-1])
    assert body[:6] == bytes([P.PROTOCOL_VERSION, 0x03, 0x34, 0x12, 0x02, 0x00])
    assert body[6:8] == b"\x01\x02"
    assert body[8:] == struct.pack("<I", zlib.crc32(body[:8]))


def test_frame_round_trip_max_payload_of_zeros_and_ff() -> None:
    for payload in (bytes(MAX_PAYLOAD), b"\xff" * MAX_PAYLOAD, bytes(range(256))):
        wire = P.encode_frame(P.Msg.ECHO, 65535, payload)
        assert len(wire) <= P.max_wire_bytes(len(payload))
        f = P.decode_frame(wire[1:-1])
        assert (f.type, f.seq, f.payload, f.version) == (P.Msg.ECHO, 65535, payload, P.PROTOCOL_VERSION)


def test_decode_rejects_bad_crc_short_and_bad_length() -> None:
    body = bytearray(P.cobs_decode(P.encode_frame(P.Msg.HELLO, 7, b"abc")[1:-1]))
    body[7] ^= 0x40
    with pytest.raises(P.ProtocolError, match="CRC"):
        P.decode_frame(P.cobs_encode(bytes(body)))
    with pytest.raises(P.ProtocolError, match="shorter"):
        P.decode_frame(P.cobs_encode(b"\x01\x01\x00"))
    # Length field 5 with 3 payload bytes, CRC valid: rejected on length.
    hdr = struct.pack("<BBHH", 1, 1, 7, 5) + b"abc"
    with pytest.raises(P.ProtocolError, match="length"):
        P.decode_frame(P.cobs_encode(hdr + struct.pack("<I", zlib.crc32(hdr))))


def test_splitter_resyncs_after_garbage_and_counts_it() -> None:
    rng = random.Random(1)
    frames = [P.encode_frame(P.Msg.INFER | P.Msg.REPLY, i, bytes(rng.randrange(256) for _ in range(i)))
              for i in range(20)]
    stream = bytearray()
    for i, f in enumerate(frames):
        stream += bytes(rng.randrange(256) for _ in range(i * 3))  # garbage, zeros included
        stream += f
    sp = P.FrameSplitter()
    got: list[P.Frame] = []
    # Feed in random-size pieces: frames span reads.
    pos = 0
    while pos < len(stream):
        n = rng.randrange(1, 40)
        got += sp.feed(bytes(stream[pos:pos + n]))
        pos += n
    assert [f.seq for f in got] == list(range(20))
    assert sp.garbage_bytes > 0 and sp.bad_frames > 0


def test_splitter_survives_an_endless_frame() -> None:
    sp = P.FrameSplitter(max_frame=300)
    assert sp.feed(b"\x01" * 10_000) == []
    good = P.encode_frame(P.Msg.HELLO | P.Msg.REPLY, 9, b"x")
    assert [f.seq for f in sp.feed(good)] == [9]


def test_random_frames_property() -> None:
    rng = random.Random(20261123)
    for _ in range(2000):
        n = rng.choice([0, 1, 2, 253, 254, 255, MAX_PAYLOAD, rng.randrange(MAX_PAYLOAD + 1)])
        payload = bytes(rng.choice([0, 0, rng.randrange(256)]) for _ in range(n))
        t, seq = rng.randrange(256), rng.randrange(65536)
        wire = P.encode_frame(t, seq, payload)
        f = P.decode_frame(wire[1:-1])
        assert (f.type, f.seq, f.payload) == (t, seq, payload)
        # A single flipped bit anywhere in the body is always caught (CRC-32 guarantees it).
        body = bytearray(P.cobs_decode(wire[1:-1]))
        i = rng.randrange(len(body))
        body[i] ^= 1 << rng.randrange(8)
        with pytest.raises(P.ProtocolError):
            P.decode_frame(P.cobs_encode(bytes(body)))


def test_payload_decoders() -> None:
    hello = struct.pack("<BBHIiHH", 1, 3, 256, 1234, -5, 2, 1)
    h = P.Hello.decode(hello)
    assert (h.streaming, h.model_ready, h.max_payload, h.model_init_rc) == (True, True, 256, -5)
    s = P.Sample.decode(struct.pack("<IQBBBB3hII", 7, 99 + (1 << 40), 0, 1, 3, 0, 1, -2, 3, 55, 2) + b"\x05\xfb")
    assert (s.seq, s.t_us, s.values, s.prediction, s.cycles) == (7, 99 + (1 << 40), (1, -2, 3), b"\x05\xfb", 55)
    assert P.SAMPLE_HEADER == 16
    e = P.DeviceErrorReply.decode(struct.pack("<BBHi", P.ErrorCode.BUSY, P.Msg.INFER, 0, 0))
    assert "INFER failed on the device: BUSY" in e.describe()
    with pytest.raises(P.ProtocolError):
        P.Hello.decode(b"\x01")
    assert [P.sensor_to_input(v, 4) for v in (-17, -16, -15, 15, 16, 5000, -5000)] == \
        [-1, -1, 0, 0, 1, 127, -128]


# --- C and Python agree -----------------------------------------------------------------


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed: cannot build the C protocol driver")
    exe = tmp_path_factory.mktemp("proto") / "proto_driver"
    cmd = ["gcc", *WARN, "-O1", "-fsanitize=address,undefined", f"-I{COMMON}",
           str(HERE / "proto_driver.c"), str(COMMON / "ek_protocol.c"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return exe


def _run(exe: Path, mode: str, data: bytes) -> list[str]:
    r = subprocess.run([str(exe), mode], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode().splitlines()


def test_c_encoder_matches_python(driver: Path) -> None:
    rng = random.Random(3)
    cases = []
    for n in [0, 1, 2, 243, 244, 245, 246, 253, 254, 255, MAX_PAYLOAD] + \
            [rng.randrange(MAX_PAYLOAD + 1) for _ in range(300)]:
        payload = bytes(rng.choice([0, rng.randrange(256)]) for _ in range(n))
        cases.append((rng.randrange(256), rng.randrange(65536), payload))
    cases.append((1, 2, b"\xff" * MAX_PAYLOAD))
    stdin = "".join(f"{t:x} {s:x} {p.hex()}\n" for t, s, p in cases).encode()
    out = _run(driver, "encode", stdin)
    assert out == [P.encode_frame(t, s, p).hex() for t, s, p in cases]


def test_c_encoder_refuses_oversize_payload(driver: Path) -> None:
    out = _run(driver, "encode", f"1 1 {'aa' * (MAX_PAYLOAD + 1)}\n".encode())
    assert out == [""]


def test_c_cobs_matches_python(driver: Path) -> None:
    rng = random.Random(4)
    datas = [b"", b"\x00", bytes(254 * [7]), bytes(255 * [7]), bytes(508 * [7]), bytes(1000)]
    datas += [bytes(rng.choice([0, rng.randrange(256)]) for _ in range(rng.randrange(800)))
              for _ in range(100)]
    out = _run(driver, "cobs", "".join(d.hex() + "\n" for d in datas).encode())
    assert out == [P.cobs_encode(d).hex() for d in datas]


def test_c_parser_resyncs_and_rejects_what_python_rejects(driver: Path) -> None:
    rng = random.Random(5)
    stream = bytearray()
    expected = []
    for i in range(200):
        kind = rng.randrange(5)
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(MAX_PAYLOAD + 1)))
        wire = bytearray(P.encode_frame(rng.randrange(256), i, payload))
        if kind == 0:  # garbage first
            stream += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
        elif kind == 1:  # corrupt one byte of the body: never accepted
            j = rng.randrange(1, len(wire) - 1)
            wire[j] = (wire[j] + rng.randrange(1, 255)) % 256 or 1
            stream += wire
            continue
        elif kind == 2:  # oversized frame of a valid-looking header
            big = struct.pack("<BBHH", 1, 3, i, 400) + bytes(400)
            stream += b"\x00" + P.cobs_encode(big + struct.pack("<I", zlib.crc32(big))) + b"\x00"
        stream += wire
        expected.append((wire, i, payload))
    out = _run(driver, "parse", bytes(stream))
    frames = [ln.split() for ln in out if ln.startswith("FRAME")]
    # Every intact frame came through, in order, even right after garbage or overflow.
    got_seqs = [int(f[2], 16) for f in frames]
    for _, seq, payload in expected:
        assert seq in got_seqs
        f = frames[got_seqs.index(seq)]
        assert bytes.fromhex(f[3] if len(f) > 3 else "") == payload
    assert any(ln.startswith("ERR -3") for ln in out)  # TOO_LONG was reported
    stats = [ln for ln in out if ln.startswith("STATS")][0].split()
    assert int(stats[2]) >= 1

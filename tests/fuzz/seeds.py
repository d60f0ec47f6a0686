"""Write a seed corpus for tests/fuzz/fuzz_frame_parser.c: realistic request sequences
(record mode, see the target's header) so the fuzzer starts deep in the dispatcher.

    python tests/fuzz/seeds.py CORPUS_DIR
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path


def record(type_: int, seq: int, payload: bytes = b"", flags: int = 0) -> bytes:
    return bytes([type_, seq & 0xFF, flags, len(payload)]) + payload


def seeds() -> dict[str, bytes]:
    x = bytes(range(16))
    err_x = bytes([0x80, 0x7F, 0x80]) + bytes(13)
    start_infer = struct.pack("<BBHBBH", 0, 1, 100, 4, 0, 1)
    start_plain = struct.pack("<BBHBBH", 1, 0, 1000, 0, 0, 0)
    recs = {
        "session": [record(1, 1, b"\x01"), record(2, 2), record(3, 3, x), record(6, 4, b"\x02\x00\x05\x00"),
                    record(5, 5, struct.pack("<IH", 0, 4)), record(4, 6, struct.pack("<I", 8) + x[:8]),
                    record(3, 7), record(10, 8, b"\x00" * 200)],
        "stream": [record(7, 9, start_infer), record(3, 10, x), record(7, 9, start_infer),
                   record(7, 11, start_infer), record(1, 12), record(8, 13), record(8, 13)],
        "stream_bad": [record(7, 14, start_plain), record(6, 15, b"\x01\x00\x01\x00"), record(8, 16),
                       record(7, 17, struct.pack("<BBHBBH", 9, 0, 10, 0, 0, 0))],
        "errors": [record(3, 18, err_x), record(6, 19, b"\x00\x00\x01\x00"), record(3, 20, x[:5]),
                   record(0x42, 21), record(1, 22, b"", flags=1), record(1, 23, b"", flags=8),
                   record(10, 24, b"\x11", flags=4), record(9, 25, b"\x00"), record(9, 26, b"\x01\x03")],
    }
    out = {name: b"\x01" + b"".join(r) for name, r in recs.items()}
    out["raw_garbage"] = b"\x00" + bytes(range(1, 256)) * 3
    return out


def main(argv: list[str]) -> int:
    corpus = Path(argv[1])
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (corpus / f"seed_{name}").write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

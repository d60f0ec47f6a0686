"""Byte-level framing of the edgekit protocol: CRC-32 and canonical COBS (docs/protocol.md §1).

Pure functions, byte-identical with the firmware's firmware_templates/common/ek_protocol.c.
"""

from __future__ import annotations

import zlib


class ProtocolError(ValueError):
    """A frame or payload that does not follow the protocol (a pure-decoding error)."""


def crc32(data: bytes) -> int:
    """CRC-32/IEEE (reflected 0xEDB88320, init and xorout 0xFFFFFFFF)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """Canonical COBS encoding of ``data`` (no delimiter); the output has no 0x00.

    Same algorithm as the firmware's streaming encoder, so both give identical bytes.
    """
    out = bytearray([0])
    code_at = 0
    code = 1
    after_full = False
    for b in data:
        after_full = False
        if b == 0:
            out[code_at] = code
            code = 1
        else:
            out.append(b)
            code += 1
            if code != 0xFF:
                continue
            out[code_at] = code
            code = 1
            after_full = True
        code_at = len(out)
        out.append(0)  # reserve the next block's code byte
    if after_full and code == 1:
        out.pop()  # canonical: no empty block after a full one at the very end
    else:
        out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (no delimiter). Raises ProtocolError if malformed."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ProtocolError("COBS: zero byte inside a frame")
        end = i + code
        if end > n:
            raise ProtocolError("COBS: block runs past the end of the frame")
        chunk = data[i + 1:end]
        if 0 in chunk:
            raise ProtocolError("COBS: zero byte inside a frame")
        out += chunk
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)

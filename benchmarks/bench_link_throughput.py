#!/usr/bin/env python3
"""HIL link throughput: INFER round trips vs an ECHO baseline of the same size, over the
same pseudo-terminal, against the host-port firmware with the fake test model.

    python benchmarks/bench_link_throughput.py [--seconds 2] [--json out.json]

ECHO carries the same bytes as INFER through the same framing, CRC, parser and
dispatcher but runs no model, so INFER/ECHO isolates what the model call and the output
copy cost; the pty itself has no baud rate, so the table also gives the ceiling a
115200-baud UART would impose on the same wire bytes (10 bits per byte, counted on the link).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.hil import protocol as P  # noqa: E402
from edgekit.hil.session import Session  # noqa: E402
from tests.firmware_sources import host_firmware_sources  # noqa: E402

COMMON = REPO / "firmware_templates" / "common"
HOST = REPO / "firmware_templates" / "host"
FAKE = REPO / "tests" / "fixtures" / "fake_model"


def build(out: Path, defines: list[str]) -> Path:
    exe = out / ("fw" + "_".join(d.split("=")[-1] for d in defines))
    srcs = [*host_firmware_sources(), FAKE / "edgekit_model.c"]
    subprocess.run(["gcc", "-std=c99", "-O2", *(f"-D{d}" for d in defines), f"-I{COMMON}",
                    f"-I{HOST}", f"-I{FAKE}", *map(str, srcs), "-o", str(exe)], check=True)
    return exe


def rate(fn, seconds: float) -> tuple[float, int]:
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0), n


def bench(exe: Path, seconds: float) -> list[dict]:
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        path = proc.stdout.readline().strip()  # type: ignore[union-attr]
        with Session(path, timeout=1.0) as s:
            info = s.device
            assert info is not None
            x = np.random.default_rng(0).integers(-100, 100, info.input_bytes).astype(np.int8)
            out_bytes = 8 + min(info.output_bytes, s.max_payload - 8)
            up = min(info.input_bytes, s.max_payload)  # ECHO baseline: one frame of that size
            cases = [
                (f"ECHO {up} B", lambda: s.echo(bytes(up)), up, up),
                (f"INFER {info.input_bytes}->{info.output_bytes} B", lambda: s.infer(x), up, out_bytes),
                ("ECHO 256 B", lambda: s.echo(bytes(256)), 256, 256),
                ("ECHO 0 B", lambda: s.echo(b""), 0, 0),
            ]
            for name, fn, n_up, n_down in cases:
                link = s.link
                assert link is not None
                b0 = link.bytes_in + link.bytes_out
                per_s, n = rate(fn, seconds)
                wire_per_op = (link.bytes_in + link.bytes_out - b0) / n
                rows.append({"case": name, "ops_per_s": round(per_s, 1), "n": n,
                                 "payload_bytes_per_s": round(per_s * (n_up + n_down)),
                                 "wire_bytes_per_op": round(wire_per_op, 1),
                                 "uart_115200_ceiling_per_s": round(11520 / wire_per_op, 1)})
            st = s.stream(0, 1000, seconds)
            got = sum(1 for _ in st)
            rows.append({"case": "STREAM 3 values @1000 Hz", "ops_per_s": round(got / seconds, 1),
                             "n": got, "payload_bytes_per_s": round(got * 18 / seconds),
                             "wire_bytes_per_op": P.max_wire_bytes(18),
                             "uart_115200_ceiling_per_s": round(11520 / P.max_wire_bytes(18), 1),
                             "dropped": st.stats.dropped, "device_skipped": st.stats.device_skipped})
            assert s.resends == 0
    finally:
        proc.kill()
        proc.wait()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="duration of each case")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for defines in ([], ["FAKE_MODEL_INPUT_LEN=1000", "FAKE_MODEL_OUTPUT_LEN=300"]):
            exe = build(Path(tmp), defines)
            rows += bench(exe, args.seconds)
    print(f"{'case':<28} {'ops/s':>9} {'payload B/s':>12} {'wire B/op':>10} {'115200-baud ceiling ops/s':>26}")
    for r in rows:
        print(f"{r['case']:<28} {r['ops_per_s']:>9} {r['payload_bytes_per_s']:>12} "
              f"{r['wire_bytes_per_op']:>10} {r['uart_115200_ceiling_per_s']:>26}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

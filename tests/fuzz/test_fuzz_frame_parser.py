"""A bounded libFuzzer run of the device frame parser + dispatcher (tests/fuzz/
fuzz_frame_parser.c) under ASan and UBSan. benchmarks/fuzz_frame_parser.sh runs longer."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.firmware_sources import core_sources
from tests.tier_guard import edgekit_tier_guard as tier_guard

REPO = Path(__file__).resolve().parents[2]
COMMON = REPO / "firmware_templates" / "common"
FAKE_MODEL = REPO / "tests" / "fixtures" / "fake_model"
HERE = Path(__file__).resolve().parent
# Runs, bounded in time too so a slow machine keeps the suite fast.
RUNS = 200_000
MAX_SECONDS = 4 if tier_guard.active() else 12   # the fast tier's budget is a developer's wait


def _build(out: Path) -> Path:
    if shutil.which("clang") is None:
        pytest.skip("clang not installed: cannot build the libFuzzer target")
    exe = out / "fuzz_frame_parser"
    cmd = ["clang", "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
           "-fno-sanitize-recover=undefined", "-std=c99", "-Wall", "-Wextra", "-Werror",
           f"-I{COMMON}", f"-I{FAKE_MODEL}", str(HERE / "fuzz_frame_parser.c"),
           *map(str, core_sources()), str(FAKE_MODEL / "edgekit_model.c"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if r.returncode != 0 and ("libclang_rt.fuzzer" in r.stderr or "-lFuzzer" in r.stderr
                              or "cannot find" in r.stderr):
        pytest.skip("clang's libFuzzer runtime is missing (apt-get install libclang-rt-14-dev)")
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    return exe


@pytest.mark.timeout(120)
def test_fuzz_frame_parser_bounded_run(tmp_path: Path) -> None:
    exe = _build(tmp_path)
    corpus = tmp_path / "corpus"
    subprocess.run([sys.executable, str(HERE / "seeds.py"), str(corpus)], check=True)
    r = subprocess.run([str(exe), f"-runs={RUNS}", f"-max_total_time={MAX_SECONDS}", "-seed=1",
                        "-max_len=2048", "-timeout=10", "-print_final_stats=1", str(corpus)],
                       capture_output=True, text=True, timeout=90, cwd=tmp_path)
    tail = "\n".join(r.stderr.splitlines()[-30:])
    assert r.returncode == 0, f"fuzzer found a problem:\n{tail}"
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    assert m and int(m.group(1)) >= 5_000, tail
    print(f"fuzz_frame_parser: {m.group(1)} executions, no finding")

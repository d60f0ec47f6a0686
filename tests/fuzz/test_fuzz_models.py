"""Mutated and truncated benchmark models through parse, inspect, generate and evaluate:
every case ends in success or one clean EdgekitError — never a hang, a crash or a traceback.

A bounded, fixed-seed run; benchmarks/fuzz_models.py runs the same cases for longer.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error
from tests.fuzz.model_fuzz import check_case, make_data, mutants
from tests.tier_guard import edgekit_tier_guard as tier_guard

CASES = 100 if tier_guard.active() else 300   # per seed model; the fast tier's budget is a developer's wait
DEEP_EVERY = 10       # generate + evaluate on every DEEP_EVERY-th mutant that parses
CASE_LIMIT_S = 60     # one case (inspect, generate, evaluate) taking longer is a hang


class CaseTimeout(Exception):
    """Raised in the test by the per-case alarm."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def fire(signum, frame):
        raise CaseTimeout(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("name", ["sine", "ds_cnn_kws"])
def test_mutated_models_never_crash_the_readers(benchmark_model, tmp_path: Path, name: str) -> None:
    seed = benchmark_model(name)
    data = make_data(seed, tmp_path / "data.npz")
    rng = np.random.default_rng(9)
    findings, parsed = [], 0
    for i, mutant in enumerate(mutants(seed.read_bytes(), rng, CASES)):
        path = tmp_path / f"m{i}.tflite"
        path.write_bytes(mutant.data)
        deep = parsed % DEEP_EVERY == 0
        try:
            with deadline(CASE_LIMIT_S):
                ok, finding = check_case(path, data, tmp_path / "work",
                                         steps=("inspect", "generate", "evaluate") if deep else ("inspect",))
        except CaseTimeout as exc:
            ok, finding = True, f"hang: {exc}"
        parsed += ok
        if finding:
            findings.append(f"case {i} ({mutant.label}): {finding}")
        path.unlink()
    assert not findings, "\n".join(findings)
    print(f"{name}: {parsed} of {CASES} mutants parsed")
    assert 0 < parsed < CASES  # the mutations reach both the validator and the readers behind it


@pytest.mark.timeout(600)
def test_mutated_models_through_the_cli(cli, benchmark_model, tmp_path: Path) -> None:
    """A handful through the real `edgekit inspect` (TFLM arena search included) and `evaluate`."""
    seed = benchmark_model("sine")
    data = make_data(seed, tmp_path / "data.npz")
    rng = np.random.default_rng(3)
    for i, mutant in enumerate(mutants(seed.read_bytes(), rng, 6)):
        path = tmp_path / f"m{i}.tflite"
        path.write_bytes(mutant.data)
        for args in (("inspect", path, "--board", "nucleo-f446re"), ("evaluate", path, data)):
            r = cli(*args, timeout=300)
            assert r.returncode in (0, 2), (mutant.label, args[0], r.returncode, r.stderr)
            if r.returncode == 2:
                assert_clean_error(r, 2)
            else:
                assert "Traceback" not in r.stderr + r.stdout

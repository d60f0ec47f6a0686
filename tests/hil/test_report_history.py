"""Every hil run keeps its report (hil-report/runs/NNNN); the root's report and `latest` are the
last complete run's, so a failed run (a wrong port, a lost board) never replaces a good result,
and a plot the last complete run did not make does not linger beside its report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error, run_cli

pytestmark = [pytest.mark.toolchain, pytest.mark.qemu]


def test_a_failed_run_keeps_the_last_good_report(built_sine: Callable[[Path], Path], tmp_path: Path) -> None:
    project = built_sine(tmp_path / "fw")
    root = project / "hil-report"
    np.savez(tmp_path / "x.npz", x=np.linspace(0, 6.28, 12, dtype=np.float32).reshape(12, 1))
    hil = ("hil", project, "--data", tmp_path / "x.npz", "--runs", "5")

    r = run_cli(*hil, "--profile")
    assert r.returncode == 0, r.stderr
    good = (root / "report.json").read_text()
    assert json.loads(good)["status"] == "complete" and (root / "profile.png").is_file()
    assert os.readlink(root / "latest") == "runs/0001"

    # A run on a port with no board fails: its report is its own, the root's is untouched.
    assert_clean_error(run_cli(*hil, "--port", str(tmp_path / "no-such-tty")), 3, "no-such-tty")
    failed = json.loads((root / "runs" / "0002" / "report.json").read_text())
    assert failed["status"] == "failed" and failed["samples_measured"] == 0
    assert (root / "report.json").read_text() == good and os.readlink(root / "latest") == "runs/0001"

    # The next complete run replaces the root's report; the profile it did not make goes.
    r = run_cli(*hil, "--json")
    assert r.returncode == 0, r.stderr
    assert str(root / "report.json") in json.loads(r.stdout)["files"]
    assert os.readlink(root / "latest") == "runs/0003"
    assert not (root / "profile.png").exists() and (root / "runs" / "0001" / "profile.png").is_file()
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["0001", "0002", "0003"]

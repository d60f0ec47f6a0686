"""Static checks: pyflakes-class errors (undefined names, unused imports) fail the suite."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_no_undefined_names_or_unused_imports() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--output-format", "concise",
                        "edgekit", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

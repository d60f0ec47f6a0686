"""Static checks: the ruff rule set of pyproject.toml (pyflakes, pycodestyle, isort, bugbear,
pyupgrade) over the package, the tests and the benchmarks fails the suite."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_ruff_rule_set_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                        "edgekit", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

"""A long build reports how far it got: ninja's [n/m] steps, read from the build log while the
command runs, named by what is being built."""

from __future__ import annotations

import sys
from pathlib import Path

from edgekit.project.build import _run_watched


def test_ninja_steps_reach_the_progress_callback(tmp_path: Path) -> None:
    script = "import sys, time\nfor i in range(1, 5):\n    print(f'[{i}/4] Building CXX object k{i}.o', flush=True)\n" \
             "    time.sleep(0.4)\n"
    seen: list[tuple[str, int, int]] = []
    log = tmp_path / "build.log"
    res = _run_watched([sys.executable, "-c", script], tmp_path, log, lambda *a: seen.append(a))
    assert res.returncode == 0 and "[4/4]" in log.read_text()
    assert seen and all(what == "TFLM library" and total == 4 for what, _, total in seen)
    assert [n for _, n, _ in seen] == sorted(n for _, n, _ in seen)   # never backwards
    (tmp_path / "edgekit.json").write_text("{}")   # a project directory: the firmware's own build
    seen.clear()
    _run_watched([sys.executable, "-c", script], tmp_path, log, lambda *a: seen.append(a))
    assert seen and seen[0][0] == "firmware"

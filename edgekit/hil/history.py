"""Every hil run keeps its own report; a failed run never replaces a good one.

    REPORT_ROOT/                 (PROJECT/hil-report, or --report DIR)
      report.json report.md *.png   the last complete run's report (a copy)
      latest -> runs/0007           the last complete run
      runs/0001/ ... runs/0008/     every run, complete or not, partial reports included

A run writes into its own numbered directory as it goes. Only when it completes (every test
input measured, whatever its gates said) are its files copied to the root, replacing the
previous complete run's and removing report files that run had and this one has not (a plot it
did not make), and `latest` pointed at it. An interrupted or failed run stays in runs/ alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

RUNS = "runs"
LATEST = "latest"
# What a run puts at the root: report.json, report.md, its plots.
_REPORT_FILES = ("report.json", "report.md")
_PLOT_SUFFIX = ".png"


def new_run_dir(root: Path) -> Path:
    """root/runs/NNNN with the next number, created; two runs starting at once get two."""
    runs = root / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    n = max((int(p.name) for p in runs.iterdir() if p.name.isdigit()), default=0) + 1
    while True:
        run = runs / f"{n:04d}"
        try:
            run.mkdir()
            return run
        except FileExistsError:   # another run took this number meanwhile
            n += 1


def publish(run_dir: Path, root: Path, written: list[Path]) -> list[Path]:
    """Make the complete run in `run_dir` the root's report: its report files copied (each
    atomically), the root's other report files removed, `latest` pointed at it. Returns
    `written` with the run's report files replaced by their root copies."""
    mine = {p.name for p in written if p.parent == run_dir}
    for name in mine:
        tmp = root / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(run_dir / name, tmp)
        os.replace(tmp, root / name)
    for old in root.iterdir():
        if old.is_file() and (old.name in _REPORT_FILES or old.suffix == _PLOT_SUFFIX) and old.name not in mine:
            old.unlink()
    link, tmp_link = root / LATEST, root / f".{LATEST}.{os.getpid()}.tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(run_dir.relative_to(root))
    os.replace(tmp_link, link)
    return [root / p.name if p.parent == run_dir else p for p in written]


__all__ = ["LATEST", "RUNS", "new_run_dir", "publish"]

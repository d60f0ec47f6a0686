"""`edgekit doctor`: which toolchains, flashers and Python packages are present."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from edgekit.tools import TOOLS, Tool


@dataclass(frozen=True)
class Check:
    """One tool of the registry, looked for on this machine."""

    tool: Tool
    found: bool
    detail: str  # version line or path


def _version_line(program: str) -> str:
    try:
        proc = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0][:80] if text else ""


def check(tool: Tool) -> Check:
    """Look for one tool; programs also report their version line."""
    where = tool.find()
    if where is None:
        return Check(tool, False, "")
    return Check(tool, True, where if tool.kind == "python" else (_version_line(where) or where))


def run_checks() -> list[Check]:
    """Every tool edgekit knows, in the registry's order."""
    return [check(t) for t in TOOLS.values()]


def tflm_cache_line() -> str:
    """Where edgekit's TFLM library cache is, its entries and size (edgekit.project.tflm_lib)."""
    from edgekit.project.tflm_lib import cache_info

    info = cache_info()
    return (f"TFLM library cache: {info.root} ({info.entries} "
            f"entr{'y' if info.entries == 1 else 'ies'}, {info.bytes / 1e6:.1f} MB)")

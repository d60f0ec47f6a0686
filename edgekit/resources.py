"""Find edgekit's data directories (boards/, firmware_templates/, examples/).

In a wheel they are packaged under edgekit/_data/; in a source checkout or an editable
install they sit at the repository's top level, next to the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory holding edgekit's `name` data (e.g. "boards")."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"edgekit data directory '{name}' not found next to {_PACKAGE_DIR}; reinstall edgekit"
    )


def cache_dir(name: str) -> Path:
    """edgekit's cache for `name` (e.g. "tflm", "models"): ``${XDG_CACHE_HOME:-~/.cache}/edgekit/NAME``.

    Built things that are slow to make and safe to rebuild live here (TFLM libraries,
    benchmark models); nothing in it is needed to run a generated project.
    """
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgekit" / name

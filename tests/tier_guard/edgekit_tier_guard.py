"""The fast test tier's guard: in a process of the fast tier (EDGEKIT_TEST_TIER=fast), importing
TensorFlow or starting a firmware toolchain or an emulator is refused and recorded, so a test
that needs them and lacks its marker fails loudly instead of slowing the tier down.

Installed by tests/conftest.py in the pytest process and by sitecustomize.py (this directory is
put first on PYTHONPATH) in every Python process a test starts, such as `edgekit` itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

TIER_ENV = "EDGEKIT_TEST_TIER"
VIOLATIONS_ENV = "EDGEKIT_TIER_VIOLATIONS"   # a file each refused thing is appended to
# What each marker stands for: what the fast tier refuses.
MODULES = {"tensorflow": "tf", "keras": "tf", "tf_keras": "tf"}
PROGRAMS = {"cmake": "toolchain", "ninja": "toolchain", "idf.py": "toolchain"}
PROGRAM_PREFIXES = {"arm-none-eabi-": "toolchain", "riscv64-unknown-elf-": "toolchain", "qemu-system-": "qemu"}


class TierViolation(RuntimeError):
    """Something the fast tier does not do was asked for."""


def _refuse(what: str, marker: str) -> TierViolation:
    line = f"{what} in the fast tier: mark the test `{marker}`"
    log = os.environ.get(VIOLATIONS_ENV)
    if log:
        with open(log, "a") as fh:
            fh.write(line + "\n")
    return TierViolation(line)


class _RefusingLoader(Loader):
    def __init__(self, name: str, marker: str) -> None:
        self.name, self.marker = name, marker

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        raise _refuse(f"import {self.name}", self.marker)


class _RefuseModules(MetaPathFinder):
    """Finds a refused module as the other finders would (so `importlib.util.find_spec`, which
    `edgekit doctor` uses, still answers), with a loader that refuses to run it."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        marker = MODULES.get(fullname.partition(".")[0])
        if marker is None:
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(fullname, path, target)  # type: ignore[arg-type]
            if spec is not None:
                spec.loader = _RefusingLoader(fullname, marker)
                return spec
        return None


def _program_marker(argv: object) -> str | None:
    """The marker a process needs: None for any other program, and for `PROGRAM --version`
    (edgekit doctor asks every tool its version; that builds nothing)."""
    words = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv)  # type: ignore[call-overload]
    if not words or [os.fsdecode(w) for w in words[1:]] == ["--version"]:
        return None
    name = Path(os.fsdecode(words[0])).name.split()[0]
    if name in PROGRAMS:
        return PROGRAMS[name]
    return next((m for prefix, m in PROGRAM_PREFIXES.items() if name.startswith(prefix)), None)


def install() -> None:
    """Refuse TensorFlow imports and toolchain/emulator processes from now on in this process."""
    if any(isinstance(f, _RefuseModules) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _RefuseModules())
    original = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen, args: object, *rest: object, **kwargs: object) -> None:
        marker = _program_marker(args)
        if marker:
            raise _refuse(f"running {args!r}", marker)
        original(self, args, *rest, **kwargs)  # type: ignore[arg-type]

    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]


def active() -> bool:
    """Whether this process is part of the fast tier."""
    return os.environ.get(TIER_ENV) == "fast"

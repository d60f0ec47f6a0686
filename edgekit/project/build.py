"""Build a generated firmware project and check that the image fits the board.

    result = build_project(project, jobs=2)   # project: edgekit.project.manifest.Project
    result.elf, result.size.flash_used, result.size.ram_used, result.size.table()

The project's runtime prepares what its build needs (:meth:`Runtime.prepare_build`: the
cached TFLM library); the board family (:mod:`edgekit.project.families`) says which tools the
build needs, the commands (STM32: ``cmake -G Ninja`` with the project's toolchain file, then
``cmake --build``; ESP32: ``idf.py build``), where the image lands and how to read its size.
A missing tool is a :class:`~edgekit.errors.MissingToolError` with the install command
(:func:`edgekit.tools.require`). The image must fit: flash = text + rodata + data, RAM =
data + bss + stack reserve, else :class:`~edgekit.errors.FitError`; a link that fails
because a region overflowed is reported as a FitError too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import BuildError, EdgekitError, FitError, InputFileError
from edgekit.project.families import family_of
from edgekit.project.manifest import BuildStamp, Project
from edgekit.project.size import SizeReport, check_fit
from edgekit.runtimes.base import CachedLibrary, RunCommand, RuntimeOptions
from edgekit.runtimes.registry import get_runtime
from edgekit.tools import require

BUILD_LOG = "edgekit-build.log"


@dataclass(frozen=True)
class BuildResult:
    """A successful build: the image, where it was built, its size, the full log."""

    elf: Path
    build_dir: Path
    size: SizeReport
    log: Path
    library: CachedLibrary | None = None   # a cached library the runtime linked (TFLM from a tree)


# Progress of a build: (what is being built, steps done, steps in all), from ninja's "[n/m]".
BuildProgress = Callable[[str, int, int], None]
_NINJA_STEP = re.compile(rb"\[(\d+)/(\d+)\]")


def _run(argv: Sequence[str], cwd: Path, log: Path) -> subprocess.CompletedProcess:
    return _run_watched(argv, cwd, log, None)


def _runner(on_progress: BuildProgress | None) -> RunCommand:
    """A RunCommand that reports ninja's progress (the first TFLM library build takes minutes)."""
    return lambda argv, cwd, log: _run_watched(argv, cwd, log, on_progress)


def _run_watched(argv: Sequence[str], cwd: Path, log: Path,
                 on_progress: BuildProgress | None) -> subprocess.CompletedProcess:
    """Run `argv` in `cwd` with its output appended to `log`; while it runs, the last "[n/m]"
    in the log goes to `on_progress`, naming the project's build "firmware" and any other
    (the cached TFLM library's) "TFLM library"."""
    what = "firmware" if (Path(cwd) / "edgekit.json").is_file() else "TFLM library"
    with open(log, "ab") as fh:
        fh.write(("$ " + " ".join(argv) + "\n").encode())
        fh.flush()
        start = fh.tell()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
        while True:
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if on_progress is not None:
                    with open(log, "rb") as rd:
                        rd.seek(start)
                        steps = _NINJA_STEP.findall(rd.read())
                    if steps:
                        on_progress(what, int(steps[-1][0]), int(steps[-1][1]))
            except BaseException:   # Ctrl-C: no compiler left running
                proc.kill()
                proc.wait()
                raise
        return subprocess.CompletedProcess(list(argv), proc.returncode)


_OVERFLOW = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")
_ASSERT = re.compile(r"edgekit: [^\n]*")
_COMPILER_ERROR = re.compile(r": (fatal )?error: |undefined reference to")
_CMAKE_ERROR = re.compile(r"^CMake Error")
_NINJA_FAILED = re.compile(r"^FAILED: ")


def _fail_from_log(log: Path, project_dir: Path, board: Board) -> EdgekitError:
    """The one-line error a failed build log comes down to."""
    text = log.read_text(errors="replace")
    m = _OVERFLOW.search(text)
    if m:
        region, over = m.group(1), int(m.group(2))
        size = board.ram.size if region.upper() == "RAM" else board.flash.size
        return FitError(f"firmware for {board.id} does not fit: {region} overflowed by "
                        f"{over:,} bytes ({size:,} bytes available)",
                        hint="use a smaller model, a smaller stack, or a bigger board")
    m = _ASSERT.search(text)
    if m:   # the linker script's ASSERTs say "edgekit: ..."
        return FitError(f"firmware for {board.id} does not fit: {m.group(0)}",
                        hint="use a smaller model, a smaller stack, or a bigger board")
    lines = text.splitlines()
    first = "see the log"
    for pattern in (_COMPILER_ERROR, _CMAKE_ERROR, _NINJA_FAILED):
        hit = next((i for i, ln in enumerate(lines) if pattern.search(ln)), None)
        if hit is not None:
            first = lines[hit].strip()
            if pattern is _CMAKE_ERROR:  # CMake puts the message itself on the indented lines after
                detail = [ln.strip() for ln in lines[hit + 1:hit + 4] if ln.startswith("  ") and ln.strip()]
                first = " ".join([first.rstrip(":")] + detail)
            break
    return BuildError(f"firmware build failed in {project_dir}: {first}",
                      hint=f"full log: {log}")


_CACHE_DIRS = re.compile(r"^(CMAKE_HOME_DIRECTORY|CMAKE_CACHEFILE_DIR):INTERNAL=(.*)$", re.M)


def reset_moved_build_dir(project_dir: Path, build_dir: Path) -> bool:
    """Empty `build_dir` when CMake configured it for another source or build directory (the
    project was copied or moved with its build); CMake would refuse it. True when reset."""
    try:
        text = (build_dir / "CMakeCache.txt").read_text(errors="replace")
    except OSError:
        return False
    want = {"CMAKE_HOME_DIRECTORY": project_dir.resolve(), "CMAKE_CACHEFILE_DIR": build_dir.resolve()}
    if all(Path(value.strip()).resolve() == want[key] for key, value in _CACHE_DIRS.findall(text)):
        return False
    shutil.rmtree(build_dir)   # nothing of the other configuration may survive
    build_dir.mkdir(parents=True)
    return True


def _touch_changed(project: Project, sources: dict[str, str], build_dir: Path) -> None:
    """Give a fresh timestamp to every source whose content changed since the last recorded
    build, so the build tool recompiles it even when an edit kept the old timestamp."""
    old = BuildStamp.read(project.stamp_path(build_dir))
    if old is None:
        return
    for rel, sha in sources.items():
        path = project.root / rel
        if old.files.get(rel) != sha and path.is_file():
            os.utime(path)


def read_size(elf: Path, board: Board) -> SizeReport:
    """Memory use of `elf` on `board`, as the board's family classifies the sections."""
    return family_of(board).read_size(elf, board)


def build_project(project: Project, *, jobs: int = 2, options: RuntimeOptions = RuntimeOptions(),
                  build_dir: Path | None = None, run: RunCommand | None = None,
                  on_progress: BuildProgress | None = None) -> BuildResult:
    """Build `project` for its board; return the image and its size report (fit checked).

    `build_dir` defaults to the project's; the project's runtime prepares what its build needs
    first (tflm from a source tree: the library built once into edgekit's cache, from
    `options`' tree, else $TFLM_DIR, else the one given to generate); `run` runs each command
    (tests capture the argv with it); else each runs with its progress going to `on_progress`.
    """
    run = run or _runner(on_progress)
    board = project.board
    family = family_of(board)
    project_dir = Path(project.root).resolve()
    if not (project_dir / "CMakeLists.txt").is_file():
        raise InputFileError(f"{project_dir} has no CMakeLists.txt",
                             hint="render the project first: edgekit generate")
    project.check_model()
    require(*family.tools, needed_for=f"build {family.title} firmware")
    build_dir = Path(build_dir).resolve() if build_dir else project.build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    reset_moved_build_dir(project_dir, build_dir)
    sources = project.source_hashes()    # what this build compiles
    _touch_changed(project, sources, build_dir)
    project.forget_build(build_dir)      # no image is current until this build succeeds
    log = build_dir / BUILD_LOG
    log.write_text("")
    setup = get_runtime(project.runtime).prepare_build(project, build_dir, options, run=run, log=log, jobs=jobs)
    for argv in family.build_commands(project_dir, build_dir, jobs=jobs, defines=setup.defines):
        proc = run(argv, project_dir, log)
        if proc.returncode != 0:
            raise _fail_from_log(log, project_dir, board)
    elf = family.elf_path(build_dir)
    if not elf.is_file():
        raise BuildError(f"the build in {build_dir} produced no {elf.name}", hint=f"log: {log}")
    size = family.read_size(elf, board)
    check_fit(size)
    project.record_build(elf, sources, build_dir)
    return BuildResult(elf=elf, build_dir=build_dir, size=size, log=log, library=setup.library)


__all__ = ["build_project", "reset_moved_build_dir", "read_size", "check_fit", "SizeReport", "BuildResult",
           "BuildError"]

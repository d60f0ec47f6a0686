"""The contract every inference runtime follows, and the records it hands over.

A runtime turns an int8 model graph into a firmware project's model code, says what that
needs of memory (its :class:`ModelFootprint`, from which :mod:`edgekit.runtimes.fit` computes
the fit on a board), which ops or boards it cannot take, what the family's templates need to
know of it, what a build must prepare for it (a library, CMake cache entries), and which
variants `edgekit compare` runs.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.boards import Board
from edgekit.model.tflite_graph import Graph

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.project.manifest import Project

# (argv, cwd, log) -> completed process: how a build runs each command (tests capture the argv).
RunCommand = Callable[[Sequence[str], Path, Path], subprocess.CompletedProcess]


# generate --optimize: faster kernels on more weight flash, or today's smallest code.
OPTIMIZE = ("speed", "size")


@dataclass(frozen=True)
class RuntimeOptions:
    """What the command line tells the runtimes: the TFLM source trees of --tflm-dir (generate and
    build use the first; compare runs tflm once per tree)."""

    tflm_dirs: tuple[Path, ...] = ()
    optimize: str | None = None   # --optimize: "speed", "size", None: chosen against the board's flash

    @property
    def tflm_dir(self) -> Path | None:
        """The first TFLM tree given, if any."""
        return self.tflm_dirs[0] if self.tflm_dirs else None


@dataclass(frozen=True)
class ModelFootprint:
    """What a model needs with one runtime: constant data in flash (edgekit-rt's tables, or the
    whole .tflite for tflm), the arena, and recurrent state kept outside the arena."""

    model_flash_bytes: int
    arena_bytes: int
    state_bytes: int = 0
    code_flash_bytes: int = 0   # the runtime's code this model links (kernels, interpreter, per-op glue), estimated


@dataclass(frozen=True)
class ModelCode:
    """A runtime's code for one model (file name -> C/C++ text) and what it needs."""

    sources: dict[str, str]
    footprint: ModelFootprint
    optimize: str = ""          # "speed" or "size" when the runtime has the trade (edgekit-rt), else ""
    optimize_reason: str = ""   # why, in one line


@dataclass(frozen=True)
class Lack:
    """What a runtime needs on a board and was not given, and how to give it."""

    why: str
    hint: str | None = None


@dataclass(frozen=True)
class CachedLibrary:
    """A library a build links from edgekit's cache: where it is, its cache key, how many sources
    it holds and how many this build compiled into it (0: it came from the cache)."""

    path: Path
    key: str
    sources: int
    compiled: int


@dataclass(frozen=True)
class BuildSetup:
    """What a runtime prepared for one build: CMake cache entries for the family's configure step
    and the cached library it links, if any."""

    defines: dict[str, str] = field(default_factory=dict)
    library: CachedLibrary | None = None


@dataclass(frozen=True)
class Variant:
    """One row of `edgekit compare`: a runtime with its options, the row's label, the directory name
    of its project, and the kernel set it runs where a runtime has several ("ref", "cmsis_nn")."""

    runtime: str
    label: str
    slug: str
    options: RuntimeOptions = RuntimeOptions()
    kernels: str | None = None

    @property
    def tflm_dir(self) -> Path | None:
        """The TFLM tree this variant builds with, if any."""
        return self.options.tflm_dir


class Runtime(ABC):
    """An inference runtime a firmware project can be generated for."""

    name: ClassVar[str]                  # --runtime's value
    summary: ClassVar[str]               # one line for --help
    # Latency screening (edgekit compress): instructions ~ per_mac x MACs + per invoke, a line
    # through models measured on the virtual board with benchmarks/bench_edgekit_rt.py.
    instructions_per_mac: ClassVar[float]
    invoke_instructions: ClassVar[int]

    def gaps(self, graph: Graph) -> tuple[str, ...]:
        """Why this runtime cannot run `graph`: the ops it lacks or a one-line reason; empty when it can."""
        return ()

    def refuses(self, board: Board) -> str | None:
        """Why this runtime can never build firmware for `board` (its family), or None."""
        return None

    def missing(self, board: Board, options: RuntimeOptions) -> Lack | None:
        """What this runtime needs for `board` that was not given (e.g. a source tree), or None;
        an error when what was given is broken."""
        return None

    @abstractmethod
    def footprint(self, graph: Graph, model_bytes: bytes, where: str) -> ModelFootprint:
        """What the model needs with this runtime, without writing code; ModelError when it cannot run it."""

    @abstractmethod
    def model_code(self, graph: Graph, model_bytes: bytes, where: str, board: Board,
                   options: RuntimeOptions) -> ModelCode:
        """The model's code for a project on `board`; ModelError naming what it cannot run."""

    def template_context(self, board: Board, options: RuntimeOptions) -> dict[str, Any]:
        """What the family's templates need to know of this runtime beyond its name."""
        return {}

    def prepare_build(self, project: Project, build_dir: Path, options: RuntimeOptions, *, run: RunCommand,
                      log: Path, jobs: int) -> BuildSetup:
        """Whatever must exist before the family's build commands run (a cached library)."""
        return BuildSetup()

    def variants(self, board: Board, options: RuntimeOptions) -> tuple[list[Variant], list[str]]:
        """The `edgekit compare` rows of this runtime on `board`, and notes on what was left out."""
        return [Variant(self.name, self.name, self.name, RuntimeOptions(optimize=options.optimize))], []

    def fine_tune_flash_margin(self, graph: Graph) -> int:
        """Flash bytes fine-tuning may add to a candidate sized before it (edgekit compress)."""
        return 0


__all__ = ["OPTIMIZE", "BuildSetup", "CachedLibrary", "Lack", "ModelCode", "ModelFootprint", "RunCommand", "Runtime",
           "RuntimeOptions", "Variant"]

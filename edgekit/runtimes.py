"""The inference runtimes a firmware project can use: one registry.

Each runtime turns an int8 model graph into the model code of a firmware project (C sources,
arena size, constant bytes in flash) and states what its code adds to the firmware's flash.
The CLI's --runtime choices, generate, inspect's fit check and the footprint estimate all
read this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgekit.errors import ModelError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.model.tflite_graph import Graph

EDGEKIT_RT = "edgekit-rt"
TFLM = "tflm"
AUTO = "auto"   # not a runtime: edgekit-rt when it runs every op of the model, else tflm
TFLM_TREE_HOWTO = ("pass --tflm-dir DIR or set TFLM_DIR to a tree made by TFLM's "
                   "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py "
                   "(OPTIMIZED_KERNEL_DIR=cmsis_nn in its --makefile_options for CMSIS-NN kernels)")


@dataclass(frozen=True)
class ModelCode:
    """A runtime's code for one model."""

    sources: dict[str, str]     # file name -> C/C++ text
    arena_bytes: int
    model_flash_bytes: int      # constant data (edgekit-rt) or the whole .tflite (tflm)
    state_bytes: int = 0        # recurrent state outside the arena (edgekit-rt; TFLM keeps it in the arena)


@dataclass(frozen=True)
class Runtime:
    """A registered runtime: its --runtime name, help line, code flash overhead and model code generator."""

    name: str
    summary: str                # one line for --help
    code_flash_bytes: int       # kernels/interpreter beyond the model's data (upper end measured)
    model_code: Callable[[Graph, bytes, str], ModelCode]   # (graph, .tflite bytes, where) -> code


def _edgekit_rt_code(graph: Graph, model_bytes: bytes, where: str) -> ModelCode:
    from edgekit.codegen import compile_model

    compiled = compile_model(graph)  # ModelError names an unsupported op and points to tflm
    summary = compiled.summary
    return ModelCode(compiled.sources(), summary.arena_bytes, summary.const_bytes, summary.state_bytes)


def _tflm_code(graph: Graph, model_bytes: bytes, where: str) -> ModelCode:
    from edgekit.codegen.tflm_array import generate_tflm_code
    from edgekit.model.reference import device_arena_bytes, measure_tflm_arena

    host_arena = measure_tflm_arena(where, graph)
    if host_arena is None:
        raise ModelError(f"{where}: cannot size the TFLM arena (tflite_micro is missing or the model "
                         "does not allocate)",
                         hint=f"install tflite-micro (Linux x86_64), or use --runtime {EDGEKIT_RT}")
    arena = device_arena_bytes(host_arena)
    return ModelCode(generate_tflm_code(graph, model_bytes, arena), arena, len(model_bytes))


RUNTIMES: dict[str, Runtime] = {r.name: r for r in (
    # edgekit-rt kernels and per-model glue: under 8 KB measured on Cortex-M4F.
    Runtime(EDGEKIT_RT, "ahead-of-time C, no interpreter", 8 * 1024, _edgekit_rt_code),
    # TFLM interpreter + reference kernels beyond the .tflite: 22-43 KB for the MLPerf Tiny benchmark models.
    Runtime(TFLM, "TensorFlow Lite Micro", 48 * 1024, _tflm_code),
)}
DEFAULT_RUNTIME = EDGEKIT_RT          # what a project renders with when nobody chose
RUNTIME_CHOICES: tuple[str, ...] = (AUTO, *RUNTIMES)   # --runtime's values
DEFAULT_CHOICE = AUTO                  # --runtime's default (generate, deploy)


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime a model will use, and why (empty when it was asked for by name)."""

    name: str
    reason: str = ""


def edgekit_rt_gaps(graph: Graph) -> tuple[str, ...]:
    """Why edgekit-rt cannot run `graph`: its unsupported ops, or the compiler's one-line reason;
    empty when it can."""
    from edgekit.codegen import SUPPORTED_OPS, compile_model

    missing = tuple(op for op in graph.op_names() if op not in SUPPORTED_OPS)
    if missing:
        return missing
    try:
        compile_model(graph)
    except ModelError as exc:
        return (exc.message,)
    return ()


def choose_runtime(graph: Graph, requested: str, *, tflm_available: bool) -> RuntimeChoice:
    """`requested` (a runtime name or "auto") resolved for `graph`.

    auto: edgekit-rt when it supports every op, else tflm with a one-line reason naming the ops;
    ModelError (exit 2) naming them when tflm is needed but `tflm_available` is False.
    """
    if requested != AUTO:
        return RuntimeChoice(get_runtime(requested).name)
    gaps = edgekit_rt_gaps(graph)
    if not gaps:
        return RuntimeChoice(EDGEKIT_RT)
    why = f"{EDGEKIT_RT} does not support {', '.join(gaps)}"
    if not tflm_available:
        raise ModelError(f"this model needs runtime {TFLM}: {why}, and there is no TFLM tree",
                         hint=TFLM_TREE_HOWTO)
    return RuntimeChoice(TFLM, f"runtime {TFLM} (auto): {why}")


def get_runtime(name: str) -> Runtime:
    """The runtime called `name` (not "auto": see choose_runtime); UsageError listing the known ones otherwise."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise UsageError(f"unknown runtime '{name}'", hint=f"use one of: {', '.join(RUNTIMES)}") from None


__all__ = ["Runtime", "ModelCode", "RUNTIMES", "DEFAULT_RUNTIME", "EDGEKIT_RT", "TFLM", "get_runtime", "AUTO",
           "RUNTIME_CHOICES", "DEFAULT_CHOICE", "RuntimeChoice", "choose_runtime", "edgekit_rt_gaps",
           "TFLM_TREE_HOWTO"]

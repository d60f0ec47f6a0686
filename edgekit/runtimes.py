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


@dataclass(frozen=True)
class ModelCode:
    """A runtime's code for one model."""

    sources: dict[str, str]     # file name -> C/C++ text
    arena_bytes: int
    model_flash_bytes: int      # constant data (edgekit-rt) or the whole .tflite (tflm)


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
    return ModelCode(compiled.sources(), summary.arena_bytes, summary.const_bytes)


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
DEFAULT_RUNTIME = EDGEKIT_RT


def get_runtime(name: str) -> Runtime:
    """The runtime called `name`; UsageError listing the known ones otherwise."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise UsageError(f"unknown runtime '{name}'", hint=f"use one of: {', '.join(RUNTIMES)}") from None


__all__ = ["Runtime", "ModelCode", "RUNTIMES", "DEFAULT_RUNTIME", "EDGEKIT_RT", "TFLM", "get_runtime"]

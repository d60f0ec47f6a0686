"""edgekit-rt: ahead-of-time C for int8 TFLite models (no interpreter, no malloc).

Public API:
    compile_model(graph) -> CompiledModel   lower + plan once (ModelError if unsupported)
        .summary -> PlanSummary             arena bytes, constant bytes, lower bounds, ops
        .sources(prefix="edgekit_model")    {filename: C text}
    SUPPORTED_OPS                           the operators with a lowering
    kernel_sources() -> [Path]      kernel library .c files a firmware build must compile
    kernel_headers() -> [Path]      kernel library header(s) (ekrt_kernels.h), to copy along
    kernel_include_dir() -> Path    directory holding them (firmware_templates/common)
"""

from __future__ import annotations

from pathlib import Path

from edgekit.codegen.compiled import CompiledModel, PlanSummary, compile_model
from edgekit.codegen.lower import SUPPORTED_OPS
from edgekit.resources import data_dir

__all__ = ["compile_model", "CompiledModel", "PlanSummary", "SUPPORTED_OPS", "kernel_sources", "kernel_headers",
           "kernel_include_dir"]

KERNEL_FILES = ("ekrt_kernels.h", "ekrt_nn.h", "ekrt_dsp.h", "ekrt_transformer.h", "ekrt_kernels16.h",
                "ekrt_nn.c", "ekrt_fc.c", "ekrt_dwconv.c", "ekrt_math.c", "ekrt_elementwise.c", "ekrt_recurrent.c",
                "ekrt_select.c", "ekrt_resample.c", "ekrt_transformer.c", "ekrt_nn16.c", "ekrt_elementwise16.c")


def kernel_include_dir() -> Path:
    """The directory holding the kernel library (firmware_templates/common)."""
    return data_dir("firmware_templates") / "common"


def kernel_sources() -> list[Path]:
    """The edgekit-rt kernel library .c files (C99, freestanding) a firmware must compile,
    with kernel_include_dir() on the include path. Link with --gc-sections: generated code
    references only the kernels (and requantization routines) the model needs."""
    d = kernel_include_dir()
    return [d / name for name in KERNEL_FILES if name.endswith(".c")]


def kernel_headers() -> list[Path]:
    """The kernel library header(s), for projects that copy the sources."""
    d = kernel_include_dir()
    return [d / name for name in KERNEL_FILES if name.endswith(".h")]

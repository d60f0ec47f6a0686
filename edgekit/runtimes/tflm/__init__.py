"""The tflm runtime: TensorFlow Lite Micro running the .tflite as it is, with an op resolver of
exactly the model's ops and an arena sized by trying AllocateTensors on the host.

How TFLM reaches a board is its family's answer (`BoardFamily.tflm`): built from a source tree
the user gives (tree.py; the library is built once and cached, library.py), brought by the
family's build system (ESP-IDF's esp-tflite-micro component), or not at all.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.boards import Board
from edgekit.errors import ModelError
from edgekit.model.reference import device_arena_bytes, measure_tflm_arena, tflm_lacks
from edgekit.model.tflite_graph import Graph
from edgekit.project.families import family_of
from edgekit.project.manifest import Project
from edgekit.runtimes import EDGEKIT_RT, TFLM
from edgekit.runtimes.base import (
    BuildSetup,
    Lack,
    ModelCode,
    ModelFootprint,
    RunCommand,
    Runtime,
    RuntimeOptions,
    Variant,
)
from edgekit.runtimes.tflm.code import resolver_method, state_bytes, tflm_sources
from edgekit.runtimes.tflm.library import ensure_library
from edgekit.runtimes.tflm.tree import TFLM_TREE_HOWTO, check_tree_ops, find_tree, given_dirs, recorded_dir

KERNEL_SETS = {"ref": "reference", "cmsis_nn": "CMSIS-NN"}   # TflmTree.kind -> label

# Code flash of TFLM for a model: the interpreter, then each op type's kernel once (every kernel
# carries its float, int8 and int16 paths; CMSIS-NN's several variants). Upper ends measured with
# the CMSIS-NN tree on the Cortex-M4F virtual board (arm-none-eabi-gcc 12, -O2) over sine,
# DS-CNN, person_detect, an LSTM and an unrolled GRU (benchmarks/bench_fit_estimates.py).
INTERPRETER_BYTES = 36 * 1024
KERNEL_BYTES = {
    "FULLY_CONNECTED": 15_000, "CONV_2D": 26_000, "DEPTHWISE_CONV_2D": 20_000, "AVERAGE_POOL_2D": 5_000,
    "MAX_POOL_2D": 5_000, "SOFTMAX": 6_000, "RESHAPE": 1_000, "ADD": 12_000, "SUB": 9_000, "MUL": 9_000,
    "LOGISTIC": 5_000, "TANH": 5_000, "UNPACK": 2_000, "UNIDIRECTIONAL_SEQUENCE_LSTM": 28_000,
    "GATHER": 3_000, "STRIDED_SLICE": 4_000, "QUANTIZE": 4_000, "DEQUANTIZE": 3_000,
}
KERNEL_DEFAULT_BYTES = 8_000
SIGNAL_KERNEL_BYTES = 3_000   # a signal-library op (CUSTOM:Signal*): one int16/int32 path each


def cmsis_nn_scratch_bytes(graph: Graph) -> int:
    """The largest scratch buffer a CMSIS-NN kernel of the model asks TFLM for on a core with
    the DSP extension (the ..._get_buffer_size functions of CMSIS-NN), plus alignment: the
    host measures the arena with the reference kernels, which ask for none."""
    need = 0
    for op in graph.operators:
        if len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
        if len(w.shape) != 4 or not x.shape:
            continue
        kh, kw, cin = w.shape[1], w.shape[2], x.shape[-1]
        cols = kh * kw * cin
        if op.op == "CONV_2D":   # two im2col columns of int16
            size = 2 * ((cols + 3) // 4 * 4 if x.dtype == "int8" else cols) * 2
        elif op.op == "DEPTHWISE_CONV_2D":
            size = cols * 2
        elif op.op == "TRANSPOSE_CONV":   # its input is input 2; the larger of CMSIS-NN's two ways
            x = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else x
            cin, cout = x.shape[-1], w.shape[0]
            size = max(2 * ((kh * kw * cin + 3) // 4 * 4) * 2,
                       ((x.shape[-2] - 1) * 2 + max(kw, 2)) * cout * max(kh, 2) * 4)
        else:
            continue
        need = max(need, size)
    for op in graph.operators:
        if op.op == "AVERAGE_POOL_2D":
            need = max(need, graph.tensors[op.inputs[0]].shape[-1] * 4)
    return need + 16 if need else 0


def _tflm_custom(op: str) -> bool:
    """Whether a custom op is one of TFLM's own (its resolver has a method for it)."""
    try:
        resolver_method(op)
    except ModelError:
        return False
    return True


def code_flash_bytes(graph: Graph) -> int:
    """TFLM's code for `graph`, estimated (see KERNEL_BYTES)."""
    return INTERPRETER_BYTES + sum(KERNEL_BYTES.get(op, SIGNAL_KERNEL_BYTES if op.startswith("CUSTOM:Signal")
                                                    else KERNEL_DEFAULT_BYTES) for op in graph.op_names())


class Tflm(Runtime):
    """TensorFlow Lite Micro."""

    name = TFLM
    summary = "TensorFlow Lite Micro"
    # TFLM's reference kernels ran ds_cnn_kws in 43,084,499 instructions and sine in 5,094.
    instructions_per_mac = 16.22
    invoke_instructions = 423

    def gaps(self, graph: Graph) -> tuple[str, ...]:
        """The op the TFLM of the tflite_micro package has no kernel for (it names the first only;
        of custom ops it names none: those that are not TFLM's own are the suspects)."""
        lacking = tflm_lacks(graph)
        foreign = tuple(op for op in lacking if op.startswith("CUSTOM:") and not _tflm_custom(op))
        return foreign or lacking

    def refuses(self, board: Board) -> str | None:
        """Families TFLM cannot reach (no C++ library in their toolchain)."""
        support = family_of(board).tflm
        return f"{TFLM} cannot build for {board.id}: {support.why_not}" if support.source == "none" else None

    def missing(self, board: Board, options: RuntimeOptions) -> Lack | None:
        """A family that builds TFLM from a source tree needs one (MissingToolError when the one given is broken)."""
        if family_of(board).tflm.source != "tree":
            return None
        dirs = given_dirs(options.tflm_dirs)
        if not dirs:
            return Lack("there is no TFLM tree", TFLM_TREE_HOWTO)
        find_tree(dirs[0])
        return None

    def footprint(self, graph: Graph, model_bytes: bytes, where: str) -> ModelFootprint:
        """The whole .tflite in flash and the arena TFLM needs (measured on the host, plus a margin)."""
        lacking = self.gaps(graph)
        if lacking:
            raise ModelError(f"{where}: {TFLM} has no kernel for {', '.join(lacking)}",
                             hint=f"use --runtime {EDGEKIT_RT} if it runs the model, else replace the "
                                  "layer that makes the op")
        host_arena = measure_tflm_arena(model_bytes, graph)
        if host_arena is not None:
            # Measured with the reference kernels; CMSIS-NN's kernels ask for scratch besides.
            host_arena += cmsis_nn_scratch_bytes(graph)
        if host_arena is None:
            raise ModelError(f"{where}: cannot size the TFLM arena (tflite_micro is missing or the model "
                             "does not allocate)",
                             hint=f"install tflite-micro (Linux x86_64), or use --runtime {EDGEKIT_RT}")
        return ModelFootprint(len(model_bytes), device_arena_bytes(host_arena), state_bytes(graph),
                              code_flash_bytes(graph))

    def model_code(self, graph: Graph, model_bytes: bytes, where: str, board: Board,
                   options: RuntimeOptions) -> ModelCode:
        """edgekit_model.h and edgekit_model_tflm.cc; the tree given checked for the model's kernels
        now, not by the linker minutes into the build."""
        need = self.footprint(graph, model_bytes, where)
        dirs = given_dirs(options.tflm_dirs) if family_of(board).tflm.source == "tree" else []
        if dirs:
            check_tree_ops(find_tree(dirs[0]), graph.op_names())
        return ModelCode(tflm_sources(graph, model_bytes, need.arena_bytes), need)

    def template_context(self, board: Board, options: RuntimeOptions) -> dict[str, str]:
        """`tflm_dir`: the tree a family that builds TFLM from source records ("" when none was given yet:
        `edgekit build --tflm-dir` can still name one)."""
        if family_of(board).tflm.source != "tree":
            return {}
        dirs = given_dirs(options.tflm_dirs)
        return {"tflm_dir": str(find_tree(dirs[0]).root) if dirs else ""}

    def prepare_build(self, project: Project, build_dir: Path, options: RuntimeOptions, *, run: RunCommand,
                      log: Path, jobs: int) -> BuildSetup:
        """From a source tree (--tflm-dir, else $TFLM_DIR, else the project's): the cached library
        with the model's kernels, and the CMake entries that link it."""
        family = family_of(project.board)
        if family.tflm.source != "tree":
            return BuildSetup()
        dirs = given_dirs(options.tflm_dirs) or [d for d in (recorded_dir(project.root),) if d]
        tree = find_tree(dirs[0] if dirs else None)
        model = project.manifest.model   # no model record: every kernel
        if model:
            check_tree_ops(tree, model.ops)
        lib = ensure_library(tree, family.cross_build(project.board), model.ops if model else None,
                             project_dir=Path(project.root).resolve(), run=run, log=log, jobs=jobs)
        return BuildSetup({"TFLM_DIR": str(tree.root), "EK_TFLM_LIB": str(lib.path.resolve())}, lib)

    def variants(self, board: Board, options: RuntimeOptions) -> tuple[list[Variant], list[str]]:
        """One row per TFLM tree (a broken one: MissingToolError), labelled by its kernels; one for a
        family's TFLM component; none, with a note, when TFLM cannot be had."""
        support = family_of(board).tflm
        if support.source == "component":
            return [Variant(TFLM, f"{TFLM} ({support.label})", TFLM)], []
        if support.source == "none":
            return [], [f"{TFLM} left out: {support.why_not}"]
        dirs = given_dirs(options.tflm_dirs)
        if not dirs:
            return [], [f"{TFLM} left out: no TFLM tree (pass --tflm-dir DIR, repeatable, or set TFLM_DIR)"]
        trees = list({t.root: t for t in (find_tree(d) for d in dirs)}.values())   # a tree given twice runs once
        variants = []
        for tree in trees:
            kernels = KERNEL_SETS[tree.kind]
            same_kind = [t for t in trees if t.kind == tree.kind]
            label, slug = f"{TFLM} ({kernels})", f"{TFLM}-{tree.kind}"
            if len(same_kind) > 1:   # two trees with the same kernels: told apart by directory name
                label = f"{TFLM} ({kernels}, {tree.root.name})"
                slug += f"-{same_kind.index(tree) + 1}"
            variants.append(Variant(TFLM, label, slug, RuntimeOptions((tree.root,)), tree.kind))
        return variants, []


__all__ = ["KERNEL_SETS", "Tflm", "cmsis_nn_scratch_bytes", "code_flash_bytes"]

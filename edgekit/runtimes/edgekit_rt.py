"""edgekit-rt: model-specific C generated ahead of time (edgekit.codegen), plus the kernel library
in firmware_templates/common/ekrt_*.c; a static memory plan, no interpreter, no malloc,
bit-exact with TFLM's reference kernels. It builds for every family (plain C99)."""

from __future__ import annotations

from edgekit.boards import Board
from edgekit.codegen import CompiledModel, PlanSummary, compile_model
from edgekit.codegen.lower import SUPPORTED_OPS
from edgekit.codegen.lower_nn import FC_WIDEN_MIN_MACS
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import EDGEKIT_RT
from edgekit.runtimes.base import ModelCode, ModelFootprint, Runtime, RuntimeOptions
from edgekit.runtimes.fit import board_fit

# Code flash of edgekit-rt for a model: its fixed part (init, reset, the profiler hook), each op
# type's kernels once (the linker drops the others), and each op's call with its hook and its
# parameter struct (counted as 4 bytes per initializer field: an upper end, some are narrower).
# Measured on the Cortex-M4F virtual board (arm-none-eabi-gcc 12, -O2) over the zoo, MLPerf Tiny,
# TFLM's person_detect, an LSTM, an unrolled GRU of 317 ops and a SimpleRNN of 176
# (benchmarks/bench_fit_estimates.py); an op type not measured counts KERNEL_DEFAULT_BYTES.
FIXED_CODE_BYTES = 512
CALL_BYTES = 28
# CONV_2D, DEPTHWISE_CONV_2D and ADD re-measured with the fused DSP kernels (issue 19): +1,500, +900,
# +400 bytes of arm-none-eabi-gcc -O2 text, then CONV_2D -1,100 (one fused mac2_rq), DEPTHWISE_CONV_2D
# +1,000 (the 3x3 plane path), AVERAGE_POOL_2D +600 (its DSP path); a pruned 1x1 conv, the widened one-row
# FC and the tabulated ADD link EXTRA_BYTES.
KERNEL_BYTES = {
    "FULLY_CONNECTED": 800, "CONV_2D": 4_500, "DEPTHWISE_CONV_2D": 3_700, "AVERAGE_POOL_2D": 1_000,
    "MAX_POOL_2D": 400, "MEAN": 500, "SOFTMAX": 500, "ADD": 1_600, "SUB": 1_200, "MUL": 1_200,
    "LOGISTIC": 300, "TANH": 300, "UNIDIRECTIONAL_SEQUENCE_LSTM": 2_400, "GATHER": 200,
    "RESHAPE": 0, "SQUEEZE": 0, "EXPAND_DIMS": 0,
}
# The transformer ops (ekrt_transformer.c; GELU and RSQRT are ekrt_lut over a table counted
# with the constants), arm-none-eabi-gcc 12 -O2 function sizes rounded up.
KERNEL_BYTES.update({"BATCH_MATMUL": 450, "SELECT": 260, "SELECT_V2": 260, "GELU": 32, "RSQRT": 32,
                     "NEG": 32, "SQUARE": 32})
KERNEL_DEFAULT_BYTES = 600
# Cores whose kernels take the DSP paths (__ARM_FEATURE_DSP): where --optimize speed pays.
DSP_CORES = ("cortex-m4", "cortex-m4f", "cortex-m7f", "cortex-m7fd", "cortex-m33f")
# The default --optimize is speed when the firmware with int16 weights needs at most this share of flash.
SPEED_FLASH_SHARE = 0.75
EXTRA_BYTES = {"ekrt_conv2d_1x1_pruned": 650, "ekrt_fully_connected_w": 1_850,   # by the call's kernel
               "ekrt_fully_connected_h": 2_100,   # arm-none-eabi-gcc -O2 text: 1,998 + its row helper 74
               "ekrt_add_lut": 450}
# 16x8 models' int16 kernels (ekrt_nn16.c, ekrt_elementwise16.c: plain C, no DSP variants), their
# symbol sizes with the same compiler and flags, rounded up; an op not listed: KERNEL_BYTES.
KERNEL16_BYTES = {
    "CONV_2D": 800, "DEPTHWISE_CONV_2D": 700, "FULLY_CONNECTED": 450, "TRANSPOSE_CONV": 800,
    "ADD": 1_200, "SUB": 1_200, "MUL": 750, "AVERAGE_POOL_2D": 500, "MAX_POOL_2D": 500, "MEAN": 350,
    "SUM": 350, "LEAKY_RELU": 250, "RELU": 200, "RELU6": 200, "PAD": 250, "PADV2": 250,
    "STRIDED_SLICE": 300, "CONCATENATION": 150, "LOGISTIC": 700, "TANH": 700,
    "SOFTMAX": 650,
}


def code_flash_bytes(compiled: CompiledModel) -> int:
    """edgekit-rt's code for a compiled model, estimated (see KERNEL_BYTES, KERNEL16_BYTES, EXTRA_BYTES)."""
    kinds = {(st.op.op, "_s16(" in st.call) for st in compiled.steps}
    kernels = sum(KERNEL16_BYTES.get(op, KERNEL_BYTES.get(op, KERNEL_DEFAULT_BYTES)) if int16
                  else KERNEL_BYTES.get(op, KERNEL_DEFAULT_BYTES) for op, int16 in kinds)
    calls = {st.call.split("(")[0] for st in compiled.steps}
    kernels += sum(n for fn, n in EXTRA_BYTES.items() if fn in calls)
    steps = sum(CALL_BYTES + 4 * _fields(st.params_init) for st in compiled.steps if st.alias_of is None)
    return FIXED_CODE_BYTES + kernels + steps


def _has_wide_fc(graph: Graph) -> bool:
    """Whether some FULLY_CONNECTED layer is big enough for --optimize speed's int16 weights."""
    return any(op.op == "FULLY_CONNECTED" and len(op.inputs) > 1 and op.inputs[1] >= 0
               and graph.tensors[op.inputs[1]].is_constant and graph.tensors[op.inputs[1]].size >= FC_WIDEN_MIN_MACS
               for op in graph.operators)


def _fields(initializer: str) -> int:
    """Scalar fields of a C initializer ("{1, {2, 3}, x}" has 4)."""
    return initializer.count(",") + 1 if initializer.strip() else 0


def plan_summary(graph: Graph) -> tuple[PlanSummary | None, str]:
    """edgekit-rt's plan of `graph` (arena, constants, lower bounds), or None and why it cannot run it
    (in a few words when it lacks ops: a report's cell, not the compiler's full message)."""
    lacking = [op for op in graph.op_names() if op not in SUPPORTED_OPS]
    if lacking:
        return None, f"no kernel for {', '.join(lacking)}"
    try:
        return compile_model(graph).summary, ""
    except ModelError as exc:
        return None, exc.message


class EdgekitRt(Runtime):
    """Ahead-of-time C for int8 models."""

    name = EDGEKIT_RT
    summary = "ahead-of-time C, no interpreter"
    # ds_cnn_kws (2,656,768 MACs) in 7,459,524 instructions and sine (288 MACs) in 2,074 on the
    # virtual board (Cortex-M4 DSP kernels); ad_autoencoder falls below this line, so it is the
    # pessimistic one.
    instructions_per_mac = 2.807
    invoke_instructions = 1_266

    def gaps(self, graph: Graph) -> tuple[str, ...]:
        """The ops edgekit-rt has no lowering for, else the compiler's one-line reason, else empty."""
        missing = tuple(op for op in graph.op_names() if op not in SUPPORTED_OPS)
        if missing:
            return missing
        _, why = plan_summary(graph)
        return (why,) if why else ()

    def footprint(self, graph: Graph, model_bytes: bytes, where: str) -> ModelFootprint:
        """Constant tables, arena, recurrent state and code of edgekit-rt's plan (ModelError names
        an unsupported op and points to tflm)."""
        return self._footprint(compile_model(graph))

    def model_code(self, graph: Graph, model_bytes: bytes, where: str, board: Board,
                   options: RuntimeOptions) -> ModelCode:
        """edgekit_model.h and edgekit_model.c, optimized for speed or size (options.optimize, else
        chosen against the board: choose_optimize)."""
        compiled, optimize, why = self.choose_optimize(graph, board, options.optimize)
        return ModelCode(compiled.sources(), self._footprint(compiled), optimize, why)

    def choose_optimize(self, graph: Graph, board: Board, asked: str | None) -> tuple[CompiledModel, str, str]:
        """The compiled model for --optimize `asked` ("speed", "size"; None: speed on a DSP core when the
        firmware with int16 weights still fits SPEED_FLASH_SHARE of the board's flash, else size), the
        choice and why in one line. Speed on a core without the DSP extension is the int8 code (size):
        the portable kernels load an int16 weight as they load an int8 one."""
        if asked == "size":
            return compile_model(graph), "size", "size: asked (--optimize size)"
        wide = _has_wide_fc(graph)
        if wide and board.core not in DSP_CORES:   # int16 weights there: as many loads, twice the bytes
            return compile_model(graph), "size", (f"size: {board.core or 'the core'} runs the portable kernels "
                                                  "(no Arm DSP extension): int16 weights gain nothing"
                                                  + (" (--optimize speed asked: the int8 code is the fastest)"
                                                     if asked else ""))
        # Lowered once where speed changes nothing or is taken (speed only adds the _h calls).
        speed = compile_model(graph, speed=wide)
        if not any("_fully_connected_h(" in st.call for st in speed.steps):
            return speed, asked or "size", f"{asked or 'size'}: no layer has a faster form (the same code)"
        flash = board_fit(self, self._footprint(speed), graph, board).flash_needed
        if asked == "speed":
            return speed, "speed", f"speed: asked (--optimize speed; int16 weights, flash ~{flash:,} B)"
        if flash > int(SPEED_FLASH_SHARE * board.flash.size):
            return compile_model(graph), "size", (f"size: int16 weights would take flash to ~{flash:,} B, over "
                                                  f"{SPEED_FLASH_SHARE:.0%} of {board.id}'s {board.flash.size:,} B")
        return speed, "speed", (f"speed: int16 weights (flash ~{flash:,} B) fit {SPEED_FLASH_SHARE:.0%} of "
                                f"{board.id}'s {board.flash.size:,} B")

    def code_flash(self, compiled: CompiledModel) -> int:
        """The code this runtime links for a compiled model, estimated (code_flash_bytes)."""
        return code_flash_bytes(compiled)

    def _footprint(self, compiled: CompiledModel) -> ModelFootprint:
        s = compiled.summary
        return ModelFootprint(s.const_bytes, s.arena_bytes, s.state_bytes, self.code_flash(compiled))

    def fine_tune_flash_margin(self, graph: Graph) -> int:
        """Each layer's per-channel shifts are packed into its multipliers or stored as one byte per
        channel, depending on the weight scales (Lowerer.requant_init in edgekit/codegen), so new
        weights can add a byte per output channel of every per-channel quantized convolution or
        dense layer."""
        margin = 0
        for op in graph.operators:
            if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
                w = graph.tensors[op.inputs[1]]
                if w.quant is not None and w.quant.per_channel:
                    margin += int(w.quant.scale.size)
        return margin


__all__ = ["EdgekitRt", "plan_summary"]

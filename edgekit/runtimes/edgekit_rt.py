"""edgekit-rt: model-specific C generated ahead of time (edgekit.codegen), plus the kernel library
in firmware_templates/common/ekrt_*.c; a static memory plan, no interpreter, no malloc,
bit-exact with TFLM's reference kernels. It builds for every family (plain C99)."""

from __future__ import annotations

from edgekit.boards import Board
from edgekit.codegen import PlanSummary, compile_model
from edgekit.codegen.lower import SUPPORTED_OPS
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import Graph
from edgekit.runtimes import EDGEKIT_RT
from edgekit.runtimes.base import ModelCode, ModelFootprint, Runtime, RuntimeOptions


def _footprint(summary: PlanSummary) -> ModelFootprint:
    return ModelFootprint(summary.const_bytes, summary.arena_bytes, summary.state_bytes)


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
    code_flash_bytes = 8 * 1024      # kernels and per-model glue: under 8 KB measured on Cortex-M4F
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
        """Constant tables, arena and recurrent state of edgekit-rt's plan."""
        return _footprint(compile_model(graph).summary)   # ModelError names an unsupported op, points to tflm

    def model_code(self, graph: Graph, model_bytes: bytes, where: str, board: Board,
                   options: RuntimeOptions) -> ModelCode:
        """edgekit_model.h and edgekit_model.c."""
        compiled = compile_model(graph)
        return ModelCode(compiled.sources(), _footprint(compiled.summary))

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

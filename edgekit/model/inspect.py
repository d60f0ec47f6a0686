"""`edgekit inspect`: what a .tflite model is made of and whether it fits each board."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit.boards import Board
from edgekit.errors import ModelError
from edgekit.footprint import estimate
from edgekit.model.quantize import verify_int8
from edgekit.model.reference import ARENA_MARGIN_BYTES, ARENA_MARGIN_FRACTION, device_arena_bytes, measure_tflm_arena
from edgekit.model.tflite_graph import Graph, Operator, load_graph
from edgekit.runtimes import EDGEKIT_RT, TFLM

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.codegen import PlanSummary


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: shape, type and (per-tensor) quantization."""

    name: str
    shape: list[int]
    dtype: str
    scale: float | None
    zero_point: int | None


@dataclass
class LayerInfo:
    """One operator of the model: its output tensor, MACs, parameter count and weight bytes."""

    index: int
    op: str
    output: str
    output_shape: list[int]
    macs: int
    params: int
    weight_bytes: int


@dataclass
class BoardFit:
    """Estimated flash and RAM (bytes) a model needs on one board with one runtime, and the board's sizes."""

    board: str
    runtime: str
    flash_needed: int
    flash_size: int
    ram_needed: int
    ram_size: int
    chosen: bool = False    # the runtime `--runtime auto` uses for this model

    @property
    def fits(self) -> bool:
        """Whether both the flash and the RAM needed fit the board."""
        return self.flash_needed <= self.flash_size and self.ram_needed <= self.ram_size

    def to_dict(self) -> dict[str, Any]:
        """The fit as a JSON-ready dict, with the computed `fits`."""
        return {**asdict(self), "fits": self.fits}


@dataclass
class InspectReport:
    """What `edgekit inspect` reports on a .tflite: I/O, operators, totals, arena sizes and fit per board."""

    model: str
    sha256: str
    file_bytes: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    layers: list[LayerInfo]
    total_macs: int
    total_params: int
    weight_bytes: int
    tflm_arena_host: int | None
    tflm_arena_device: int | None
    arena_note: str
    edgekit_rt: PlanSummary | None = None  # the edgekit-rt plan, None if it cannot run the model
    edgekit_rt_unsupported: str = ""        # why not, when edgekit_rt is None
    fits: list[BoardFit] = field(default_factory=list)
    runtime: str = EDGEKIT_RT               # what `--runtime auto` picks: edgekit-rt if it can, else tflm
    not_deployable: str = ""                # why no runtime can take it (a float model), else ""

    def to_dict(self) -> dict[str, Any]:
        """The `edgekit inspect --json` report ("edgekit_rt": plan figures or {"unsupported": why})."""
        d = asdict(self)
        d["edgekit_rt"] = self.edgekit_rt.to_dict() if self.edgekit_rt is not None else \
            {"unsupported": self.edgekit_rt_unsupported}
        del d["edgekit_rt_unsupported"]
        d["fits"] = [f.to_dict() for f in self.fits]
        if not self.not_deployable:
            del d["not_deployable"]
        return d


def _tensor_info(graph: Graph, index: int) -> TensorInfo:
    t = graph.tensors[index]
    quantized = t.quant is not None
    return TensorInfo(t.name, list(t.shape), t.dtype, t.scale if quantized else None,
                      t.zero_point if quantized else None)


def op_macs(graph: Graph, op: Operator) -> int:
    """Multiply-accumulates of one operator (0 for ops without a weight tensor or elementwise math)."""
    out = graph.tensors[op.outputs[0]]
    if op.op == "FULLY_CONNECTED":
        return out.size * graph.tensors[op.inputs[1]].shape[-1]
    if op.op == "CONV_2D":
        _, kh, kw, cin = graph.tensors[op.inputs[1]].shape
        return out.size * kh * kw * cin
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = graph.tensors[op.inputs[1]].shape
        return out.size * kh * kw
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return out.size * op.options.get("filter_height", 1) * op.options.get("filter_width", 1)
    if op.op in ("ADD", "MUL", "SUB"):
        return out.size
    if op.op == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        # Per step and unit, each gate present (CIFG drops one) multiplies the input (weights
        # 1-4, [units, features]) and the previous hidden state (weights 5-8, [units, units]).
        per_output = sum(graph.tensors[i].shape[-1] for i in op.inputs[1:9] if i >= 0)
        return out.size * per_output
    return 0


def layers(graph: Graph) -> list[LayerInfo]:
    """One row per operator: output, MACs, constant parameters and their bytes."""
    result = []
    for op in graph.operators:
        consts = [graph.tensors[i] for i in op.inputs if i >= 0 and graph.tensors[i].is_constant]
        out = graph.tensors[op.outputs[0]]
        result.append(LayerInfo(
            index=op.index, op=op.op, output=out.name, output_shape=list(out.shape),
            macs=op_macs(graph, op), params=sum(t.size for t in consts),
            weight_bytes=sum(t.nbytes for t in consts)))
    return result


def board_fits(board: Board, report: InspectReport, io_bytes: int) -> list[BoardFit]:
    """Estimated fit of the firmware on `board` for each runtime that can run the model; the
    one `--runtime auto` would use (report.runtime) is marked `chosen`."""
    fits = []
    rt = report.edgekit_rt
    if rt is not None:
        need = estimate(EDGEKIT_RT, model_flash=rt.const_bytes, arena=rt.arena_bytes, io_bytes=io_bytes,
                        state_bytes=rt.state_bytes)
        fits.append(BoardFit(board.id, EDGEKIT_RT, need.flash, board.flash.size, need.ram, board.ram.size,
                             chosen=report.runtime == EDGEKIT_RT))
    if report.tflm_arena_device is not None:
        need = estimate(TFLM, model_flash=report.file_bytes, arena=report.tflm_arena_device, io_bytes=io_bytes)
        fits.append(BoardFit(board.id, TFLM, need.flash, board.flash.size, need.ram, board.ram.size,
                             chosen=report.runtime == TFLM))
    return fits


def edgekit_rt_plan(graph: Graph) -> tuple[PlanSummary | None, str]:
    """The edgekit-rt plan summary, or None and why edgekit-rt cannot run the model."""
    from edgekit.codegen import compile_model

    try:
        return compile_model(graph).summary, ""
    except ModelError as exc:
        return None, exc.message


def inspect_model(path: Path, boards: Iterable[Board] = (), *, measure_arena: bool = True) -> InspectReport:
    """Structure, MACs, weights, TFLM arena (measured unless measure_arena is False), the
    edgekit-rt plan and the estimated fit on each of `boards`."""
    graph = load_graph(path)
    infos = layers(graph)
    host_arena = measure_tflm_arena(str(path), graph) if measure_arena else None
    device_arena = device_arena_bytes(host_arena) if host_arena else None
    note = (f"TFLM arena measured on this 64-bit host by trying AllocateTensors; device figure adds "
            f"{ARENA_MARGIN_FRACTION:.0%} + {ARENA_MARGIN_BYTES} bytes for a 32-bit MCU" if host_arena
            else "TFLM arena not measured (tflite_micro unavailable or the model did not allocate)")
    const_bytes = sum(t.nbytes for t in graph.tensors if t.is_constant)
    report = InspectReport(
        model=str(path), sha256=graph.sha256, file_bytes=path.stat().st_size,
        inputs=[_tensor_info(graph, i) for i in graph.inputs],
        outputs=[_tensor_info(graph, i) for i in graph.outputs],
        layers=infos, total_macs=int(np.sum([i.macs for i in infos])),
        total_params=sum(i.params for i in infos), weight_bytes=const_bytes,
        tflm_arena_host=host_arena, tflm_arena_device=device_arena, arena_note=note,
    )
    report.edgekit_rt, report.edgekit_rt_unsupported = edgekit_rt_plan(graph)
    report.runtime = EDGEKIT_RT if report.edgekit_rt is not None else TFLM
    try:
        verify_int8(graph, str(path))   # what generate checks first: no fit for what it refuses
    except ModelError as exc:
        report.not_deployable = str(exc)
        return report
    io_bytes = graph.input_tensors[0].nbytes + graph.output_tensors[0].nbytes  # the firmware's I/O buffers
    report.fits = [fit for b in boards for fit in board_fits(b, report, io_bytes)]
    return report

"""`edgekit inspect`: what a .tflite model is made of and whether it fits each board."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from edgekit.boards import Board
from edgekit.errors import ModelError
from edgekit.footprint import estimate
from edgekit.model.reference import ARENA_MARGIN_BYTES, ARENA_MARGIN_FRACTION, device_arena_bytes, measure_tflm_arena
from edgekit.model.tflite_graph import Graph, Operator, load_graph

@dataclass
class LayerInfo:
    index: int
    op: str
    output: str
    output_shape: list[int]
    macs: int
    params: int
    weight_bytes: int


@dataclass
class BoardFit:
    board: str
    runtime: str
    flash_needed: int
    flash_size: int
    ram_needed: int
    ram_size: int

    @property
    def fits(self) -> bool:
        return self.flash_needed <= self.flash_size and self.ram_needed <= self.ram_size

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits}


@dataclass
class InspectReport:
    model: str
    sha256: str
    file_bytes: int
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    layers: list[LayerInfo]
    total_macs: int
    total_params: int
    weight_bytes: int
    tflm_arena_host: int | None
    tflm_arena_device: int | None
    arena_note: str
    edgekit_rt: dict[str, Any] = field(default_factory=dict)  # plan figures, or {"unsupported": why}
    fits: list[BoardFit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fits"] = [f.to_dict() for f in self.fits]
        return d


def _tensor_info(graph: Graph, index: int) -> dict[str, Any]:
    t = graph.tensors[index]
    q = t.quant
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
            "scale": float(q.scale[0]) if q else None, "zero_point": int(q.zero_point[0]) if q else None}


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
    return 0


def layers(graph: Graph) -> list[LayerInfo]:
    result = []
    for op in graph.operators:
        consts = [graph.tensors[i] for i in op.inputs if i >= 0 and graph.tensors[i].is_constant]
        out = graph.tensors[op.outputs[0]]
        result.append(LayerInfo(
            index=op.index, op=op.op, output=out.name, output_shape=list(out.shape),
            macs=op_macs(graph, op), params=sum(t.size for t in consts),
            weight_bytes=sum(t.nbytes for t in consts)))
    return result


def board_fits(board: Board, report: "InspectReport", io_bytes: int) -> list[BoardFit]:
    """Estimated fit of the firmware on `board` for each runtime that can run the model."""
    fits = []
    rt = report.edgekit_rt
    if "arena_bytes" in rt:
        need = estimate("edgekit-rt", model_flash=rt["const_bytes"], arena=rt["arena_bytes"], io_bytes=io_bytes)
        fits.append(BoardFit(board.id, "edgekit-rt", need.flash, board.flash.size, need.ram, board.ram.size))
    if report.tflm_arena_device is not None:
        need = estimate("tflm", model_flash=report.file_bytes, arena=report.tflm_arena_device, io_bytes=io_bytes)
        fits.append(BoardFit(board.id, "tflm", need.flash, board.flash.size, need.ram, board.ram.size))
    return fits


def edgekit_rt_plan(graph: Graph) -> dict[str, Any]:
    """The edgekit-rt memory plan, or why edgekit-rt cannot run the model."""
    from edgekit.codegen import plan_summary

    try:
        return plan_summary(graph)
    except ModelError as exc:
        return {"unsupported": exc.message}


def inspect_model(path: Path, boards: Iterable[Board] = (), *, measure_arena: bool = True) -> InspectReport:
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
    report.edgekit_rt = edgekit_rt_plan(graph)
    io_bytes = graph.input_tensors[0].size + graph.output_tensors[0].size
    report.fits = [fit for b in boards for fit in board_fits(b, report, io_bytes)]
    return report

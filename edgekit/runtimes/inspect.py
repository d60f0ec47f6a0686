"""`edgekit inspect`: what a .tflite model is made of (edgekit.model.inspect), what each runtime
needs for it, and whether it fits each board (edgekit.runtimes.fit, the fit generate checks)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.boards import Board
from edgekit.codegen import PlanSummary
from edgekit.errors import ModelError
from edgekit.model.inspect import LayerInfo, TensorInfo, layers, tensor_info
from edgekit.model.quantize import verify_int8
from edgekit.model.reference import ARENA_MARGIN_BYTES, ARENA_MARGIN_FRACTION, device_arena_bytes, measure_tflm_arena
from edgekit.model.tflite_graph import load_graph
from edgekit.runtimes import EDGEKIT_RT, TFLM
from edgekit.runtimes.base import ModelFootprint
from edgekit.runtimes.edgekit_rt import plan_summary
from edgekit.runtimes.fit import BoardFit, board_fit
from edgekit.runtimes.registry import RUNTIMES, first_runtime, get_runtime


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
    runtime: str = EDGEKIT_RT               # what `--runtime auto` picks where every runtime builds
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


def inspect_model(path: Path, boards: Iterable[Board] = (), *, runtimes: Sequence[str] | None = None) -> InspectReport:
    """Structure, MACs, weights, the measured TFLM arena, the edgekit-rt plan and the estimated fit
    on each of `boards` of every runtime in `runtimes` (default: all registered) that can run the
    model and build for that board. Leaving tflm out skips the arena measurement (a second per try)."""
    path = Path(path)
    graph = load_graph(path)
    model_bytes = path.read_bytes()
    infos = layers(graph)
    sized = {name: get_runtime(name) for name in (RUNTIMES if runtimes is None else runtimes)}
    host_arena = measure_tflm_arena(model_bytes, graph) if TFLM in sized else None
    tflm_gaps = sized[TFLM].gaps(graph) if TFLM in sized and host_arena is None else ()
    note = (f"TFLM arena measured on this 64-bit host by trying AllocateTensors; device figure adds "
            f"{ARENA_MARGIN_FRACTION:.0%} + {ARENA_MARGIN_BYTES} bytes for a 32-bit MCU" if host_arena
            else f"TFLM arena not measured: TFLM has no kernel for {', '.join(tflm_gaps)}" if tflm_gaps
            else "TFLM arena not measured (tflite_micro unavailable or the model did not allocate)")
    plan, unsupported = plan_summary(graph)
    report = InspectReport(
        model=str(path), sha256=graph.sha256, file_bytes=len(model_bytes),
        inputs=[tensor_info(graph, i) for i in graph.inputs],
        outputs=[tensor_info(graph, i) for i in graph.outputs],
        layers=infos, total_macs=int(np.sum([i.macs for i in infos])),
        total_params=sum(i.params for i in infos),
        weight_bytes=sum(t.nbytes for t in graph.tensors if t.is_constant),
        tflm_arena_host=host_arena, tflm_arena_device=device_arena_bytes(host_arena) if host_arena else None,
        arena_note=note, edgekit_rt=plan, edgekit_rt_unsupported=unsupported, runtime=first_runtime(graph).name)
    try:
        verify_int8(graph, str(path))   # what generate checks first: no fit for what it refuses
    except ModelError as exc:
        report.not_deployable = str(exc)
        return report
    needs: dict[str, ModelFootprint] = {}
    for name, rt in sized.items():
        try:
            needs[name] = rt.footprint(graph, model_bytes, str(path))
        except ModelError:
            continue   # this runtime cannot run the model: no fit row
    report.fits = [board_fit(sized[name], need, graph, board, chosen=name == report.runtime)
                   for board in boards for name, need in needs.items()
                   if not sized[name].refuses(board)]   # no fit where the runtime can never build
    return report


__all__ = ["InspectReport", "inspect_model"]

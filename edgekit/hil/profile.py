"""Per-layer profile of one inference on the device: where the time of an invoke goes.

The firmware times each op of one invoke (edgekit-rt: the EKRT_OP_HOOK after each kernel
call; TFLM: its MicroProfilerInterface; both through the model's op hook, ek_profile.c) and
sends the counts back with PROFILE; the host joins them with each op's MACs from the model
graph. Counts are cycles on a real board and instructions on the virtual board (QEMU with
-icount shift=0). Each op is charged the count since the previous op ended, so the per-op
counts add up to the whole invoke timed in the same run (`coverage`).

Rendering (tables, Markdown, PNG) is :mod:`edgekit.hil.profile_report`.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.errors import DeviceError
from edgekit.hil import protocol as P
from edgekit.hil.session import Session
from edgekit.model.inspect import op_macs
from edgekit.model.tflite_graph import Graph

#: PROFILE reply header: u32 invoke, u16 ops, u16 first, u16 n, u16 marks (then u32 count[n]).
REPLY_HEADER = 12
NO_PROFILER = "the firmware on the board has no per-op profiler"
REGENERATE = "regenerate, build and flash the project with this edgekit (edgekit generate / build / flash)"


@dataclass(frozen=True)
class OpCost:
    """One op of the model: what it is, how much work it does, and what it cost."""

    index: int      # the op's index in the model's subgraph (execution order)
    op: str         # builtin name, e.g. "CONV_2D"
    macs: int       # multiply-accumulates (0 for ops that do none)
    cycles: int     # cycles on a board, instructions on the virtual board
    layer: str = ""  # the Keras layer that made it, read from its output tensor's name ("" unknown)

    @property
    def cycles_per_mac(self) -> float | None:
        """Cost per MAC, or None for an op that does no MACs."""
        return self.cycles / self.macs if self.macs else None

    @property
    def label(self) -> str:
        """How tables and plots name the op: "#3 CONV_2D"."""
        return f"#{self.index} {self.op}"


@dataclass(frozen=True)
class OpGroup:
    """The ops of one type (or of one Keras layer) summed."""

    name: str
    ops: int
    macs: int
    cycles: int

    @property
    def cycles_per_mac(self) -> float | None:
        """Cost per MAC, or None for a group that does no MACs."""
        return self.cycles / self.macs if self.macs else None


def keras_layer(tensor_name: str) -> str:
    """The Keras layer in a converter's tensor name: "functional_1/dense_2/MatMul;..." ->
    "dense_2"; "" when the name has no layer path (graph inputs, fused names)."""
    parts = [p for p in tensor_name.split(";")[0].split("/") if p]
    return parts[1] if len(parts) >= 3 else ""


@dataclass(frozen=True)
class LayerProfile:
    """Every op of one invoke, in execution order, and the whole invoke timed in the same run."""

    runtime: str            # "edgekit-rt" or "tflm"
    unit: str               # "cycles" or "instructions"
    ops: tuple[OpCost, ...]
    invoke_cycles: int      # the whole invoke, timed around it in the same run

    @property
    def total(self) -> int:
        """The sum of the per-op counts."""
        return sum(o.cycles for o in self.ops)

    @property
    def coverage(self) -> float:
        """Sum of the per-op counts over the whole invoke (1.0 = every cycle accounted for)."""
        return self.total / self.invoke_cycles if self.invoke_cycles else 0.0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole invoke."""
        return sum(o.macs for o in self.ops)

    def share(self, op: OpCost | OpGroup) -> float:
        """The op's (or group's) part of the whole invoke."""
        return op.cycles / self.invoke_cycles if self.invoke_cycles else 0.0

    def groups(self, by: str) -> list[OpGroup]:
        """The ops summed per op type (by="op") or per Keras layer (by="layer"; ops of no known
        layer under "?"), costliest first."""
        sums: dict[str, list[int]] = {}
        for o in self.ops:
            g = sums.setdefault((o.op if by == "op" else o.layer) or "?", [0, 0, 0])
            g[0], g[1], g[2] = g[0] + 1, g[1] + o.macs, g[2] + o.cycles
        return sorted((OpGroup(name, *v) for name, v in sums.items()), key=lambda g: -g.cycles)

    @property
    def layers_known(self) -> bool:
        """Whether grouping by Keras layer says more than the per-op table: most ops have a layer,
        and a layer makes two ops or more on average (an unrolled recurrent layer: hundreds)."""
        named = [o for o in self.ops if o.layer]
        return 2 * len(named) >= len(self.ops) and 2 * len({o.layer for o in named}) <= len(self.ops)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (report.json's "profile")."""
        return {
            "runtime": self.runtime, "unit": self.unit, "invoke": self.invoke_cycles,
            "total": self.total, "coverage": self.coverage, "macs": self.macs,
            "ops": [{"index": o.index, "op": o.op, "layer": o.layer, "macs": o.macs, "count": o.cycles,
                     "per_mac": o.cycles_per_mac, "share": self.share(o)} for o in self.ops],
            **{f"by_{by}": [{"name": g.name, "ops": g.ops, "macs": g.macs, "count": g.cycles,
                             "per_mac": g.cycles_per_mac, "share": self.share(g)} for g in self.groups(by)]
               for by in ("op", "layer")},
        }


@dataclass(frozen=True)
class ProfilePage:
    """One PROFILE reply: the invoke's count and the op counts from op `first` on."""

    invoke: int
    ops: int        # the model's op count, as the firmware knows it
    first: int
    marks: int      # op hooks called during the invoke
    counts: tuple[int, ...]

    @classmethod
    def decode(cls, p: bytes) -> ProfilePage:
        """Parse a PROFILE reply payload (ProtocolError when it is short)."""
        if len(p) < REPLY_HEADER:
            raise P.ProtocolError(f"PROFILE payload of {len(p)} bytes, need {REPLY_HEADER}")
        invoke, ops, first, n, marks = struct.unpack_from("<IHHHH", p)
        if len(p) < REPLY_HEADER + 4 * n:
            raise P.ProtocolError(f"PROFILE payload of {len(p)} bytes, need {REPLY_HEADER + 4 * n}")
        return cls(invoke, ops, first, marks, struct.unpack_from(f"<{n}I", p, REPLY_HEADER))


def require_profiler(info: P.DeviceInfo) -> None:
    """DeviceError (exit 3) unless the firmware answers PROFILE (INFO's profiler flag)."""
    if not info.has_profiler:
        raise DeviceError(f"{NO_PROFILER} ({info.runtime} firmware {info.firmware_version})", hint=REGENERATE)


def profile_request(run: bool, first: int) -> bytes:
    """PROFILE payload: u8 run (1: one invoke on the staged input first), u8 0, u16 first op."""
    return struct.pack("<BBH", 1 if run else 0, 0, first)


def read_profile(session: Session, x: np.ndarray | bytes) -> tuple[int, list[int]]:
    """Run one profiled invoke of ``x`` on the device; (whole-invoke count, count per op index).

    ``x`` is staged with an INFER (so it is converted and chunked as any input), then PROFILE
    runs the model once more with every op timed and the counts come back in pages of what
    one reply carries (models of hundreds of ops take several). A firmware without the
    profiler (an older edgekit, INFO flag clear) is refused with a DeviceError saying so.
    """
    require_profiler(session.device or session.info())
    t0 = time.monotonic()
    session.infer(x)
    wait = session.timeout + 4.0 * (time.monotonic() - t0)  # the reply waits for one invoke
    counts: list[int] = []
    page = session.decode(ProfilePage.decode, session.request(P.Msg.PROFILE, profile_request(True, 0), timeout=wait),
                          "PROFILE")
    invoke, total = page.invoke, page.ops
    if total and not page.marks:
        raise DeviceError(f"the model runtime on {session.url} reported none of its {total} ops to the profiler",
                          hint="a TFLM built with TF_LITE_STRIP_ERROR_STRINGS sends no profiler events: "
                               "build TFLM without it")
    while True:
        if page.first != len(counts) or page.ops != total or (not page.counts and len(counts) < total):
            raise DeviceError(f"device on {session.url} sent a PROFILE page for op {page.first} of {page.ops}, "
                              f"expected op {len(counts)} of {total}", hint="firmware and host disagree; reflash")
        counts += page.counts
        if len(counts) >= total:
            return invoke, counts
        page = session.decode(ProfilePage.decode, session.request(P.Msg.PROFILE, profile_request(False, len(counts))),
                              "PROFILE")


def layer_profile(graph: Graph, invoke: int, counts: list[int], *, runtime: str, unit: str) -> LayerProfile:
    """The device's counts joined with the graph: op names and MACs (edgekit.model.inspect)."""
    if len(counts) != len(graph.operators):
        raise DeviceError(f"the board profiled {len(counts)} ops but the project's model has "
                          f"{len(graph.operators)}", hint=REGENERATE)
    ops = tuple(OpCost(op.index, op.op, op_macs(graph, op), int(c),
                       keras_layer(graph.tensors[op.outputs[0]].name) if op.outputs else "")
                for op, c in zip(graph.operators, counts))
    return LayerProfile(runtime, unit, ops, int(invoke))


def profile_on_device(session: Session, graph: Graph, x: np.ndarray | bytes, *, unit: str) -> LayerProfile:
    """The per-layer profile of one invoke of ``x`` on the connected board (see read_profile)."""
    invoke, counts = read_profile(session, x)
    info = session.device
    return layer_profile(graph, invoke, counts, runtime=info.runtime if info else "?", unit=unit)


__all__ = ["LayerProfile", "NO_PROFILER", "OpCost", "OpGroup", "ProfilePage", "keras_layer", "layer_profile",
           "profile_on_device", "profile_request", "read_profile", "require_profiler"]

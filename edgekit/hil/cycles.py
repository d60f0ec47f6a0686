"""Estimated Cortex-M4 cycles per invoke and per op: one profiled invoke on a traced virtual board.

The firmware runs on its virtual board with QEMU's execution log on (``-d in_asm,exec,nochain``
into a FIFO this process reads as QEMU writes it, so nothing lands on disk); the host stages
an input and asks for one PROFILE (:func:`edgekit.hil.profile.read_profile`), exactly as
``hil --profile`` does. The log is cut where the firmware's profiler cuts the invoke: it starts
when ``edgekit_model_invoke`` is entered from the profiler, and each entry of the profiler's op
hook (``on_op``, ek_profile.c) ends one op. Each stretch is costed by
:class:`edgekit.sim.cycles.TraceCounter` (Cortex-M4 TRM timings; see there for the assumptions
and the expected error). The traced instruction counts must equal the profiler's own (QEMU
counts the same instructions), which :attr:`CycleProfile.agrees` checks.

QEMU logs every executed block, so a traced invoke runs several times slower than an untraced
one: this is a separate run, never part of a timed one.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from edgekit.boards import Board
from edgekit.errors import DeviceError, UsageError
from edgekit.hil.profile import LayerProfile, layer_profile, read_profile
from edgekit.hil.session import Session
from edgekit.model.decode import POSITION, decode_context, is_decode_step
from edgekit.model.modelio import ModelIO
from edgekit.model.tensor_data import int32_input
from edgekit.model.tflite_graph import Graph
from edgekit.project.families import family_of
from edgekit.sim.cycles import Segment, Timing, TraceCounter
from edgekit.sim.qemu import VirtualBoard

TRACE_FLAGS = ("-d", "in_asm,exec,nochain")
#: Where the profiler's invoke starts and ends, and its op hook (ek_profile.c).
PROFILER = ("ek_profile_run", "ek_profile_request")
INVOKE = "edgekit_model_invoke"
OP_HOOK = "on_op"


@dataclass(frozen=True)
class CycleProfile:
    """One invoke: the profiler's instruction counts and, per op, the traced estimate."""

    timing: Timing
    instructions: LayerProfile   # what the firmware's profiler measured (instructions on QEMU)
    op_instructions: tuple[int, ...]  # per op, counted from the trace
    op_cycles: tuple[int, ...]        # per op, estimated
    invoke_cycles: int                # the whole invoke, estimated (ops + the invoke's tail)
    invoke_instructions: int          # the whole invoke, counted from the trace
    invoke_refills: int = 0           # changes of flow in the invoke (each costs Timing.refill)

    @property
    def label(self) -> str:
        """How the estimate is labelled wherever it is shown."""
        return self.timing.label

    @property
    def agrees(self) -> bool:
        """The trace saw the instructions the profiler counted, within 0.1 %: the trace counts
        whole a block QEMU abandons and runs again shorter (icount does so before an I/O access
        that is not a block's last instruction, such as the profiler's counter reads)."""
        return abs(self.invoke_instructions - self.instructions.invoke_cycles) <= 64 + self.invoke_instructions / 1000

    @property
    def cycles_per_instruction(self) -> float:
        """Estimated cycles per executed instruction over the invoke."""
        return self.invoke_cycles / self.invoke_instructions if self.invoke_instructions else 0.0

    @property
    def refill_range(self) -> tuple[int, int]:
        """The invoke's estimate with a refill of 1 and of 3 (the TRM's range) instead of
        Timing.refill: the spread the refill alone leaves."""
        return (self.invoke_cycles - (self.timing.refill - 1) * self.invoke_refills,
                self.invoke_cycles + (3 - self.timing.refill) * self.invoke_refills)

    def by_op(self) -> dict[str, tuple[int, int]]:
        """(instructions, estimated cycles) per op type, from the trace."""
        sums: dict[str, tuple[int, int]] = {}
        for o, n, c in zip(self.instructions.ops, self.op_instructions, self.op_cycles):
            i0, c0 = sums.get(o.op, (0, 0))
            sums[o.op] = (i0 + n, c0 + c)
        return dict(sorted(sums.items(), key=lambda kv: -kv[1][1]))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape."""
        return {"label": self.label, "refill": self.timing.refill,
                "flash_wait_states": self.timing.flash_wait_states, "divide": self.timing.divide,
                "invoke_instructions": self.invoke_instructions, "invoke_cycles": self.invoke_cycles,
                "invoke_refills": self.invoke_refills, "refill_range": list(self.refill_range),
                "profiler_instructions": self.instructions.invoke_cycles,
                "ops": [{"index": o.index, "op": o.op, "macs": o.macs, "instructions": n, "cycles": c}
                        for o, n, c in zip(self.instructions.ops, self.op_instructions, self.op_cycles)],
                "by_op": {k: {"instructions": n, "cycles": c} for k, (n, c) in self.by_op().items()}}


class InvokeSplitter:
    """Cuts a TraceCounter's log into the profiled invoke's ops (see the module docstring)."""

    def __init__(self) -> None:
        self.state = "idle"
        self.ops = 0
        self._last = ""
        self._entry: dict[str, int] = {}  # a function's first block ever run is its entry

    def __call__(self, counter: TraceCounter, pc: int, symbol: str) -> None:
        """Split `counter` before the block at `pc` (in function `symbol`) when it starts an op."""
        entered = symbol != self._last
        self._last = symbol
        at_entry = self._entry.setdefault(symbol, pc) == pc  # not back in it from a callee
        if not entered:
            return
        if self.state == "invoke" and symbol in PROFILER:  # the invoke returned
            self.state = "done"
            counter.split("after")
        elif not at_entry:
            return
        elif self.state == "idle" and symbol in PROFILER:
            self.state = "armed"
        elif self.state == "armed" and symbol == INVOKE:
            self.state = "invoke"
            counter.split("op 0")
        elif self.state == "invoke" and symbol == OP_HOOK:
            self.ops += 1
            counter.split(f"op {self.ops}")


def _ops(counter: TraceCounter, counts: list[int]) -> tuple[list[Segment], Segment]:
    """One segment per op and the whole invoke (the tail after the last hook included). An op
    the runtime elides (a RESHAPE in place) calls no hook and has a profiler count of 0: its
    segment is empty."""
    segs = [s for s in counter.segments if s.name.startswith("op ")]
    hooked = [i for i, c in enumerate(counts) if c]
    if len(segs) != len(hooked) + 1:
        raise DeviceError(f"the trace cut the invoke into {len(segs) - 1} ops, the profiler timed {len(hooked)}",
                          hint="the firmware's profiler or symbols are not what edgekit expects")
    per_op = [Segment(f"op {i}") for i in range(len(counts))]
    for i, s in zip(hooked, segs):
        per_op[i] = s
    whole = Segment("invoke", sum(s.instructions for s in segs), sum(s.cycles for s in segs),
                    sum(s.refills for s in segs))
    return per_op, whole


def random_input(graph: Graph, seed: int = 0) -> bytes:
    """A random input block of the model as the device takes it: every input in its own element
    type, int32 inputs as their ops accept them (token ids within their table). The estimate
    depends on the data only where a kernel branches on it. A decode step's position is the middle
    of its context: a step's cost may grow with its position, and the middle is the average."""
    rng = np.random.default_rng(seed)
    io = ModelIO.of(graph)
    arrays = []
    for port, idx in zip(io.inputs, graph.inputs):
        t = port.tensor
        dtype = np.dtype(t.dtype)
        if port.name == POSITION and is_decode_step(graph):
            a = np.full(t.size, decode_context(graph) // 2)
        elif dtype.kind == "f":
            a = rng.standard_normal(t.size)
        elif dtype == np.int32:
            a = int32_input(graph, idx, (t.size,), rng)
        else:
            info = np.iinfo(dtype)
            a = rng.integers(info.min, info.max, t.size, endpoint=True)
        arrays.append(a.astype(dtype).reshape(1, -1))
    return io.pack(arrays)[0].tobytes()


def require_estimable(board: Board) -> None:
    """UsageError unless `board` is a virtual Cortex-M4 (the only core the timings are for)."""
    if not board.virtual or not board.core.startswith("cortex-m4"):
        raise UsageError(f"cycles are estimated with Cortex-M4 timings on a virtual board; {board.id} is "
                         f"{'a virtual' if board.virtual else 'a physical'} {board.core}",
                         hint="use qemu-netduinoplus2 (a physical board's counter gives real cycles)")


def estimate_invoke(board: Board, elf: Path, graph: Graph, x: np.ndarray | bytes, *,
                    timing: Timing = Timing(), unit: str = "instructions") -> CycleProfile:
    """One profiled invoke of `x` on the traced virtual `board` running `elf`."""
    require_estimable(board)
    argv = family_of(board).virtual_board_argv(board, elf)
    with tempfile.TemporaryDirectory(prefix="edgekit-trace-") as tmp:
        fifo = Path(tmp) / "qemu.log"
        os.mkfifo(fifo)
        counter = TraceCounter(timing)
        splitter = InvokeSplitter()
        counter.on_block.append(splitter)
        failed: list[BaseException] = []

        def read() -> None:
            try:
                with open(fifo, errors="replace") as f:
                    for line in f:
                        counter.feed(line)
            except BaseException as e:  # re-raised by the caller's thread
                failed.append(e)

        reader = threading.Thread(target=read, name="qemu-trace", daemon=True)
        reader.start()
        traced = [*argv[:-2], *TRACE_FLAGS, "-D", str(fifo), *argv[-2:]]
        with VirtualBoard(traced, elf=elf, pty_line=family_of(board).pty_line, startup_timeout=60.0) as vb:
            assert vb.pty is not None
            with Session(vb.pty, baudrate=board.baud, timeout=600.0, handshake_timeout=60.0) as session:
                invoke, counts = read_profile(session, x)
                runtime = session.device.runtime if session.device else "?"
        reader.join(60.0)
        if failed:
            raise failed[0]
        if reader.is_alive() or counter.unknown_blocks:
            raise DeviceError(f"QEMU's execution log of {elf} could not be read whole "
                              f"({counter.unknown_blocks} blocks without their instructions)",
                              hint="the estimate needs a QEMU that disassembles Thumb (-d in_asm; Debian's does)")
    profile = layer_profile(graph, invoke, counts, runtime=runtime, unit=unit)
    ops, whole = _ops(counter, counts)
    return CycleProfile(timing, profile, tuple(s.instructions for s in ops), tuple(s.cycles for s in ops),
                        whole.cycles, whole.instructions, whole.refills)


def cycles_table(cp: CycleProfile, *, mhz: float | None = None) -> Table:
    """Instructions beside estimated cycles per op type (and `mhz`: the estimated ms), labelled."""
    t = Table(title=f"{cp.label}, one invoke ({cp.instructions.runtime})")
    for col in ("op", "ops", "MACs", "instructions", "est. cycles", "est. cycles/MAC", "est. cycles/instr"):
        t.add_column(col, justify="left" if col == "op" else "right")
    groups = {g.name: g for g in cp.instructions.groups("op")}
    for op, (n, c) in cp.by_op().items():
        g = groups[op]
        t.add_row(op, str(g.ops), f"{g.macs:,}", f"{n:,}", f"{c:,}", f"{c / g.macs:.2f}" if g.macs else "-",
                  f"{c / n:.2f}" if n else "-")
    ms = f" = {cp.invoke_cycles / (mhz * 1000):.2f} ms at {mhz:g} MHz" if mhz else ""
    t.caption = (f"whole invoke: {cp.invoke_instructions:,} instructions "
                 f"(profiler: {cp.instructions.invoke_cycles:,}), "
                 f"{cp.invoke_cycles:,} estimated cycles{ms} (refill {cp.timing.refill}; with the TRM's 1-3: "
                 f"{cp.refill_range[0]:,}-{cp.refill_range[1]:,}); SDIV/UDIV {cp.timing.divide}")
    return t


__all__ = ["CycleProfile", "InvokeSplitter", "TRACE_FLAGS", "cycles_table", "estimate_invoke", "random_input",
           "require_estimable"]

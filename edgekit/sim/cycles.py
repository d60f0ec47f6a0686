"""Estimated Cortex-M4 cycles from the instructions a virtual board executed.

The virtual board counts instructions (QEMU, -icount shift=0), a lower bound on cycles. This
module turns QEMU's execution log (``-d in_asm,exec,nochain``: every translated block's
instructions once, then one ``Trace`` line per block executed; ``nochain`` so that no block
runs unlogged) into an estimate of Cortex-M4 cycles, using the instruction timings of the
Cortex-M4 Technical Reference Manual (ARM DDI 0439B, section 3.3):

- data processing, multiplies and MACs (MUL, MLA, SMLAD, SMLABB, SMULL, SMLAL ...), IT, NOP: 1
- SDIV/UDIV: 2-12 cycles (operand dependent): :attr:`Timing.divide` (default 7)
- LDR/STR of one register (and VLDR/VSTR): 2, but 1 when it directly follows another load or
  store of one register (the TRM: neighbouring loads and stores pipeline); LDRD/STRD: 3
- LDM/STM/PUSH/POP/VLDM/VSTM/VPUSH/VPOP of N registers: 1 + N (a D register counts 2)
- a change of flow (a taken branch, a BX/BLX, a POP or LDR into PC, an exception) adds the
  pipeline refill P: :attr:`Timing.refill` (the TRM says 1-3 by alignment and width of the
  target; default 2, so a taken B costs 3); a conditional branch not taken costs 1
- every refill also waits :attr:`Timing.flash_wait_states` (default 0): the STM32F4's ART
  accelerator (and the L4's) keeps loop bodies in its instruction cache and prefetches
  sequential code, so a model's hot loops mostly see none; set 5 for the worst case at
  168 MHz (every refill a cache miss)
- VFP: VADD/VSUB/VMUL/VABS/VNEG/VCVT/VCMP/VMOV 1, VMLA/VMLS/VFMA/VFMS/VNMLA 3, VDIV/VSQRT 14

Not modelled: bus contention, the extra cycle when a load's address depends on the load just
before it, flash wait states on sequential fetches, exception entry (12 cycles), and the 1-3
spread of the refill. Expected error: none on straight-line loops (the micro-kernels of
tests/sim/kernels.S — ALU ops, LDRs back to back and apart, SMLADs, taken branches, LDM, VFP —
agree to the cycle with their hand counts, tests/sim/test_cycles_qemu.py; the hand counts use
the same TRM rules, so this checks the join — block edges, taken branches, pipelined loads —
not the rules against silicon, which no board here can do). On the MLPerf Tiny
models (both runtimes) changes of flow are 3-5 % of the instructions, so the refill's 1-3
spread moves an invoke by +-2-4 %, and a miss of the flash cache on every refill at 5 wait
states would add 12-20 %; the unmodelled stalls only add. Read the estimate as about -4 %/+25 %.
Always label the figures as an estimate: :data:`LABEL`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: How every table and JSON names these figures (format with the Timing's flash_wait_states).
LABEL = "estimated cycles (Cortex-M4 TRM timings, {ws} flash wait states)"

_INSN = re.compile(r"^0x([0-9a-f]+):\s+((?:[0-9a-f]{4} ?){1,2})\s+(\S+)\s*(.*)$")
_CC = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")
_VFP3 = ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms")
_SINGLE_MEM = re.compile(r"^v?(ldr|str)(ex)?(b|h|sb|sh|t|bt|ht|sbt|sht)?$")
_MULTI_MEM = re.compile(r"^(ldm|stm|push|pop|vldm|vstm|vpush|vpop)(ia|db|fd|ea)?$")


@dataclass(frozen=True)
class Timing:
    """The assumptions of an estimate (see the module docstring)."""

    refill: int = 2              # pipeline refill after a change of flow (TRM: 1-3)
    flash_wait_states: int = 0   # added to each refill (an ART cache miss); 0: loops run from the cache
    divide: int = 7              # SDIV/UDIV (TRM: 2-12)

    @property
    def label(self) -> str:
        """The label figures made with this timing carry."""
        return LABEL.format(ws=self.flash_wait_states)


@dataclass(frozen=True)
class Insn:
    """One instruction as QEMU's in_asm printed it."""

    addr: int
    size: int        # bytes: 2 or 4
    mnemonic: str    # lower case, e.g. "ldr.w", "smlad", "bne"
    operands: str


_KNOWN = frozenset({"b", "bl", "bx", "blx", "cbz", "cbnz", "tbb", "tbh", "svc", "bkpt", "sdiv", "udiv", "vdiv",
                    "vsqrt", "ldrd", "strd", *_VFP3})


def _known(m: str) -> bool:
    return m in _KNOWN or bool(_SINGLE_MEM.match(m) or _MULTI_MEM.match(m))


def _base(mnemonic: str) -> str:
    """The mnemonic without width qualifier or data type ("ldr.w" -> "ldr") and, for the ones
    costed apart from data processing, without condition code ("bne" -> "b", "popeq" -> "pop")."""
    m = mnemonic.lower().split(".")[0]
    if _known(m):
        return m
    for cc in _CC:
        if m.endswith(cc) and _known(m[: -len(cc)]):
            return m[: -len(cc)]
    return m


def _registers(operands: str) -> int:
    """Registers in a register list {r1, r2, r4-r7} (a D register counts as two words)."""
    inner = operands[operands.find("{") + 1: operands.find("}")] if "{" in operands else ""
    n = 0
    for part in filter(None, (p.strip() for p in inner.split(","))):
        lo, _, hi = part.partition("-")
        width = 2 if lo.startswith("d") else 1
        n += width * ((int(hi[1:]) - int(lo[1:]) + 1) if hi else 1)
    return n


def is_single_memory(insn: Insn) -> bool:
    """A load or store of one register (LDR, STRB, VLDR ...), the kind that pipelines."""
    b = _base(insn.mnemonic)
    return bool(_SINGLE_MEM.match(b)) and not (b[0] == "v" and insn.operands.startswith("d"))


def writes_pc(insn: Insn) -> bool:
    """Whether the instruction can change the flow (a branch, or PC written by a load or move)."""
    b = _base(insn.mnemonic)
    if b in ("b", "bl", "bx", "blx", "cbz", "cbnz", "tbb", "tbh", "svc", "bkpt"):
        return True
    ops = insn.operands.replace(" ", "")
    return ("pc" in ops.split("{")[-1] if b in ("pop", "ldm") else ops.startswith("pc,")) and b != "cmp"


def cost(insn: Insn, timing: Timing, *, after_memory: bool = False) -> int:
    """Cycles of one instruction before any refill; `after_memory`: the instruction before it
    was a single load or store (so a single load or store pipelines to 1 cycle)."""
    b = _base(insn.mnemonic)
    if is_single_memory(insn):
        return 1 if after_memory else 2
    if b in ("ldrd", "strd", "vldr", "vstr"):  # two words (a VLDR of one word is a single load above)
        return 3
    if _MULTI_MEM.match(b):
        return 1 + _registers(insn.operands)
    if b in ("sdiv", "udiv"):
        return timing.divide
    if b in ("vdiv", "vsqrt"):
        return 14
    if b in _VFP3:
        return 3
    if b in ("tbb", "tbh"):
        return 2
    return 1


@dataclass(frozen=True)
class Block:
    """One translated block: its instructions and their cycles when it falls through."""

    insns: tuple[Insn, ...]
    cycles: int
    ends_flow: bool  # its last instruction can change the flow (so a refill follows when taken)

    @property
    def pc(self) -> int:
        """Where the block starts."""
        return self.insns[0].addr

    @property
    def fallthrough(self) -> int:
        """Where the next block starts when the last instruction does not change the flow."""
        last = self.insns[-1]
        return last.addr + last.size

    @staticmethod
    def of(insns: Iterable[Insn], timing: Timing) -> Block:
        """A block from its instructions, each costed after the one before it."""
        seq = tuple(insns)
        total, prev_mem = 0, False
        for i in seq:
            total += cost(i, timing, after_memory=prev_mem)
            prev_mem = is_single_memory(i)
        return Block(seq, total, bool(seq) and writes_pc(seq[-1]))


def parse_insn(line: str) -> Insn | None:
    """An in_asm line "0x0800002e:  3101       adds     r1, #1" (None for any other line)."""
    m = _INSN.match(line.strip())
    if m is None:
        return None
    return Insn(int(m.group(1), 16), 2 * len(m.group(2).split()), m.group(3).lower(), m.group(4).strip())


@dataclass
class Segment:
    """What ran in one stretch of the trace (an op, or a whole run)."""

    name: str
    instructions: int = 0
    cycles: int = 0
    refills: int = 0
    mix: Counter[str] = field(default_factory=Counter)  # executed instructions by base mnemonic


class TraceCounter:
    """Feeds on QEMU's ``-d in_asm,exec,nochain`` log, line by line, and charges each executed
    block to the current segment; :meth:`split` starts the next one. A block's refill is charged
    when the block after it does not start where it falls through (a taken branch)."""

    def __init__(self, timing: Timing = Timing(), *, mix: bool = False) -> None:
        self.timing = timing
        self.segments: list[Segment] = [Segment("start")]
        self._mix = mix
        self._by_host: dict[str, Block] = {}
        self._pending: list[Insn] | None = None   # an IN: block being read
        self._unbound: Block | None = None        # read, not yet executed (its host pointer unknown)
        self._prev: Block | None = None
        #: blocks run whose instructions the log never showed (a QEMU without a disassembler
        #: prints "OBJD-T:" hex instead): uncosted, so a caller refuses an estimate that has any
        self.unknown_blocks = 0
        #: called with (counter, pc, symbol) before each executed block is charged
        self.on_block: list[Callable[[TraceCounter, int, str], None]] = []

    @property
    def current(self) -> Segment:
        """The segment blocks are charged to now."""
        return self.segments[-1]

    def split(self, name: str) -> Segment:
        """Close the current segment and open `name`."""
        self.segments.append(Segment(name))
        return self.current

    def feed(self, line: str) -> None:
        """One line of the log."""
        if line.startswith("Trace "):
            self._trace(line)
        elif line.startswith("IN:"):
            self._pending = []
        elif self._pending is not None:
            insn = parse_insn(line)
            if insn is not None:
                self._pending.append(insn)
            elif not line.strip() and self._pending:
                self._unbound, self._pending = Block.of(self._pending, self.timing), None

    def _trace(self, line: str) -> None:
        # "Trace 0: 0x7f07c00003c0 [00800408/0800002e/00000110/ff020200] k_alu"
        parts = line.split(None, 4)
        host = parts[2]
        if self._pending:
            self._unbound, self._pending = Block.of(self._pending, self.timing), None
        if self._unbound is not None:       # a block runs first right after QEMU translated it
            self._by_host[host] = self._unbound
            self._unbound = None
        block = self._by_host.get(host)
        if block is None:
            self.unknown_blocks += 1
            return
        pc = int(parts[3].split("/")[1], 16)
        prev = self._prev
        for hook in self.on_block:
            hook(self, pc, parts[4].strip() if len(parts) > 4 else "")
        seg = self.current
        if prev is not None and pc != prev.fallthrough:
            seg.cycles += self.timing.refill + self.timing.flash_wait_states
            seg.refills += 1
        seg.cycles += block.cycles
        seg.instructions += len(block.insns)
        if self._mix:
            seg.mix.update(_base(i.mnemonic) for i in block.insns)
        self._prev = block


def count_by_function(lines: Iterable[str], timing: Timing = Timing()) -> dict[str, Segment]:
    """Each function's cycles, summed over its calls (a function is charged the refill into
    it, not the one out of it); micro-kernels and tests."""
    counter = TraceCounter(timing)

    def by_symbol(c: TraceCounter, pc: int, symbol: str) -> None:
        if symbol != c.current.name:
            c.split(symbol)

    counter.on_block.append(by_symbol)
    for line in lines:
        counter.feed(line)
    out: dict[str, Segment] = {}
    for s in counter.segments:
        t = out.setdefault(s.name, Segment(s.name))
        t.instructions += s.instructions
        t.cycles += s.cycles
        t.refills += s.refills
    return out


def count_trace(lines: Iterable[str], timing: Timing = Timing(), *, mix: bool = False) -> Segment:
    """The whole log as one segment (micro-kernels, tests)."""
    counter = TraceCounter(timing, mix=mix)
    for line in lines:
        counter.feed(line)
    total = Segment("all", mix=Counter())
    for s in counter.segments:
        total.instructions += s.instructions
        total.cycles += s.cycles
        total.refills += s.refills
        total.mix.update(s.mix)
    return total


__all__ = ["Block", "Insn", "LABEL", "Segment", "Timing", "TraceCounter", "cost", "count_by_function", "count_trace",
           "is_single_memory", "parse_insn", "writes_pc"]

"""The cycle estimator's timing table and its join of QEMU's log, with no QEMU (edgekit.sim.cycles)."""

from __future__ import annotations

import pytest

from edgekit.sim.cycles import Insn, Timing, TraceCounter, cost, count_by_function, count_trace, parse_insn, writes_pc

T = Timing()


def insn(text: str) -> Insn:
    mnemonic, _, operands = text.partition(" ")
    return Insn(0x8000000, 2, mnemonic, operands.strip())


def test_parse_insn_reads_address_width_mnemonic_and_operands() -> None:
    assert parse_insn("0x0800002e:  3101       adds     r1, #1") == Insn(0x800002E, 2, "adds", "r1, #1")
    wide = Insn(0x8000008, 4, "mov.w", "r5, #0x20000000")
    assert parse_insn("0x08000008:  f04f 5500  mov.w    r5, #0x20000000") == wide
    assert parse_insn("IN: k_alu") is None
    assert parse_insn("Trace 0: 0x7f07c00003c0 [00800408/0800002e/00000110/ff020200] k_alu") is None


@pytest.mark.parametrize(("text", "cycles"), [
    ("adds r1, #1", 1), ("smlad r1, r2, r3, r1", 1), ("smlabb r1, r2, r3, r1", 1), ("umull r0, r1, r2, r3", 1),
    ("sxtb16 r1, r2", 1), ("bne #0x800002e", 1), ("it eq", 1), ("addeq r1, r1, #1", 1),
    ("ldr r1, [r5]", 2), ("ldr.w r1, [r5, #4]", 2), ("strb r1, [r5]", 2), ("ldrsh r1, [r5]", 2),
    ("ldrd r0, r1, [r5]", 3), ("ldm r5, {r1, r2, r3, r4}", 5), ("ldm.w r5!, {r1-r4}", 5),
    ("push {r4, r5, r6, lr}", 5), ("pop {r4, pc}", 3), ("vpush {d8, d9}", 5), ("vpop {s16-s17}", 3),
    ("sdiv r0, r1, r2", T.divide), ("udiv r0, r1, r2", T.divide), ("vadd.f32 s0, s1, s2", 1),
    ("vmul.f32 s0, s1, s2", 1), ("vmla.f32 s0, s1, s2", 3), ("vfma.f32 s0, s1, s2", 3), ("vdiv.f32 s0, s1, s2", 14),
    ("vsqrt.f32 s0, s1", 14), ("vldr s0, [r0]", 2), ("vldr d0, [r0]", 3), ("tbb [pc, r0]", 2),
])
def test_cost_follows_the_cortex_m4_trm(text: str, cycles: int) -> None:
    assert cost(insn(text), T) == cycles


def test_a_single_load_or_store_after_another_pipelines_to_one_cycle() -> None:
    assert cost(insn("ldr r2, [r5, #4]"), T, after_memory=True) == 1
    assert cost(insn("str r2, [r5, #4]"), T, after_memory=True) == 1
    assert cost(insn("ldm r5, {r1, r2}"), T, after_memory=True) == 3   # LDM never pipelines
    assert cost(insn("adds r1, #1"), T, after_memory=True) == 1


@pytest.mark.parametrize(("text", "flow"), [
    ("b #0x8000000", True), ("bne #0x8000000", True), ("bl #0x8000000", True), ("bx lr", True),
    ("cbz r0, #0x8000000", True), ("pop {r4, pc}", True), ("popeq {r4, pc}", True), ("ldr pc, [sp], #4", True),
    ("pop {r4, r5}", False), ("adds r1, #1", False), ("cmp r0, r1", False), ("ldr r0, [pc, #8]", False),
])
def test_writes_pc(text: str, flow: bool) -> None:
    assert writes_pc(insn(text)) is flow


# k_alu of tests/sim/kernels.S, three passes, as QEMU 7.2 logs it (-d in_asm,exec,nochain)
LOG = """----------------
IN: k_alu
0x0800002c:  2003       movs     r0, #3
0x0800002e:  3101       adds     r1, #1
0x08000030:  3801       subs     r0, #1
0x08000032:  d1fc       bne      #0x800002e

Trace 0: 0x7f0000000100 [00800408/0800002c/00000110/ff020200] k_alu
----------------
IN: k_alu
0x0800002e:  3101       adds     r1, #1
0x08000030:  3801       subs     r0, #1
0x08000032:  d1fc       bne      #0x800002e

Trace 0: 0x7f0000000200 [00800408/0800002e/00000110/ff020200] k_alu
Trace 0: 0x7f0000000200 [00800408/0800002e/00000110/ff020200] k_alu
----------------
IN: k_alu
0x08000034:  4770       bx       lr

Trace 0: 0x7f0000000300 [00800408/08000034/00000110/ff020200] k_alu
"""


def test_trace_join_charges_a_refill_to_each_taken_branch_only() -> None:
    seg = count_trace(LOG.splitlines(), mix=True)
    # 3 passes of ADDS, SUBS, BNE; the first two taken (+2 each), the last falls through to BX
    assert seg.instructions == 1 + 9 + 1
    assert seg.refills == 2
    assert seg.cycles == 1 + 3 * 3 + 2 * 2 + 1
    assert seg.mix["adds"] == 3 and seg.mix["b"] == 3   # BNE counts as B
    slow = count_trace(LOG.splitlines(), Timing(refill=3, flash_wait_states=5))
    assert slow.cycles == seg.cycles + 2 * (1 + 5)


def test_blocks_are_keyed_by_their_translation_not_their_address() -> None:
    # QEMU may translate a shorter block at the same address (icount); the host pointer tells them apart
    log = LOG + """----------------
IN: k_alu
0x0800002e:  3101       adds     r1, #1

Trace 0: 0x7f0000000500 [00800408/0800002e/00000110/ff020200] k_alu
Trace 0: 0x7f0000000200 [00800408/0800002e/00000110/ff020200] k_alu
"""
    assert count_trace(log.splitlines()).instructions == 11 + 1 + 3


def test_by_function_and_split() -> None:
    per = count_by_function(LOG.splitlines())
    assert per["k_alu"].instructions == 11
    counter = TraceCounter()
    counter.on_block.append(lambda c, pc, sym: c.split("loop") if pc == 0x800002E and c.current.name != "loop"
                            else None)
    for line in LOG.splitlines():
        counter.feed(line)
    assert [s.name for s in counter.segments] == ["start", "loop"]
    assert counter.segments[1].instructions == 7   # the second and third pass and BX


def test_label_names_the_assumption() -> None:
    assert Timing(flash_wait_states=5).label == "estimated cycles (Cortex-M4 TRM timings, 5 flash wait states)"


def test_blocks_whose_instructions_the_log_never_showed_are_counted_as_unknown() -> None:
    # a QEMU built without a disassembler prints the block's bytes only
    counter = TraceCounter()
    for line in ["----------------", "IN: k_alu", "OBJD-T: 0320013101388fd1", "",
                 "Trace 0: 0x7f0000000100 [00800408/0800002c/00000110/ff020200] k_alu"]:
        counter.feed(line)
    assert counter.unknown_blocks == 1 and counter.current.instructions == 0


@pytest.mark.parametrize(("board", "refused"), [("qemu-netduinoplus2", False), ("qemu-riscv32", True),
                                                ("nucleo-l4r5zi", True)])
def test_only_a_virtual_cortex_m4_is_estimated(board: str, refused: bool) -> None:
    from edgekit.boards import load_board
    from edgekit.errors import UsageError
    from edgekit.hil.cycles import require_estimable

    if refused:
        with pytest.raises(UsageError, match="Cortex-M4 timings on a virtual board"):
            require_estimable(load_board(board))
    else:
        require_estimable(load_board(board))


def test_cycles_table_is_labelled_and_sums_per_op_type() -> None:
    from rich.console import Console

    from edgekit.hil.cycles import CycleProfile, cycles_table
    from edgekit.hil.profile import LayerProfile, OpCost

    ops = (OpCost(0, "CONV_2D", 1000, 1500), OpCost(1, "CONV_2D", 1000, 1400), OpCost(2, "SOFTMAX", 0, 300))
    cp = CycleProfile(Timing(), LayerProfile("edgekit-rt", "instructions", ops, 3300), (1500, 1400, 300),
                      (2000, 1900, 500), 4500, 3300, invoke_refills=100)
    assert cp.by_op() == {"CONV_2D": (2900, 3900), "SOFTMAX": (300, 500)}
    assert cp.refill_range == (4400, 4600) and cp.agrees
    console = Console(width=200, record=True)
    console.print(cycles_table(cp, mhz=120))
    text = console.export_text()
    assert "estimated cycles (Cortex-M4 TRM timings, 0 flash wait states)" in text
    assert "3,900" in text and "1.95" in text   # CONV_2D: 3,900 cycles over 2,000 MACs
    assert "0.04 ms at 120" in text and "4,400-4,600" in text

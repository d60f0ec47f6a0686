"""Static memory plan for edgekit-rt: every activation at a fixed offset in one arena.

- RESHAPE/SQUEEZE/EXPAND_DIMS outputs alias their input (no copy).
- The graph inputs are read in place from the caller's input block and the graph outputs are
  written straight into the caller's output block (iotypes.io_offsets), so none takes arena
  space.
- Ops that are exact in place (row-buffered depthwise conv, 1x1 conv with out_c <= in_c,
  elementwise ops) write over an input that dies at that op.
- Buffers are placed greedily (several orders tried, the smallest arena kept).
- Variable tensors (an LSTM's hidden and cell state) are not planned: they persist across
  invokes, so each lowering that owns one declares it as a static array of its own
  (`Step.state`), outside the arena, reset by {prefix}_reset().
- A state port (Graph.state: a KV cache) is a static array too: its input reads it, and its
  output is computed in it in place (the input's last reader writing the output over it) or
  placed in the arena and copied into it after the ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgekit.codegen.lower_base import StateArray, Step
from edgekit.errors import ModelError
from edgekit.model.iotypes import io_type
from edgekit.model.tflite_graph import Graph

ALIGN = 4          # activations: word-aligned for the DSP kernels' word loads
SCRATCH_ALIGN = 8  # scratch may hold int32 sums or pointer tables (8 bytes on 64-bit hosts)


def _align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass
class Buffer:
    """One arena allocation: a tensor or a step's scratch, `size` bytes live from step `first` to `last`."""

    key: str                 # "t<root>" for tensors, "s<step>" for scratch
    size: int
    first: int
    last: int
    offset: int = -1
    align: int = ALIGN


@dataclass
class Plan:
    """The memory plan: arena size, the C address of each tensor and scratch, and the steps run in place."""

    arena_bytes: int
    lower_bound: int          # largest total of activation tensors alive at one op (TFLM view)
    plan_lower_bound: int     # same for this plan (in place, external I/O, scratch included)
    buffers: list[Buffer]
    tensor_expr: dict[int, str]
    scratch_expr: dict[int, str]
    inplace_steps: list[int] = field(default_factory=list)
    # (destination, source, bytes) copied after the ops: a graph output that is (an alias of) a
    # graph input or of an earlier output
    io_copies: list[tuple[str, str, int]] = field(default_factory=list)
    # The state ports' static arrays, and (source, array, bytes) copied into them after the
    # ops (and io_copies) for an output not computed in its array
    state: list[StateArray] = field(default_factory=list)
    state_copies: list[tuple[str, str, int]] = field(default_factory=list)


def _intervals_peak(buffers: list[Buffer], n_steps: int) -> int:
    peak = 0
    for s in range(n_steps):
        peak = max(peak, sum(b.size for b in buffers if b.first <= s <= b.last))
    return peak


def _place(buffers: list[Buffer], order: list[Buffer]) -> int:
    placed: list[Buffer] = []
    for b in order:
        conflicts = sorted((p for p in placed if not (p.last < b.first or b.last < p.first)),
                           key=lambda p: p.offset)
        off = 0
        for p in conflicts:
            if off + b.size <= p.offset:
                break
            off = max(off, _align(p.offset + p.size, b.align))
        b.offset = off
        placed.append(b)
    return max((_align(b.offset + b.size, SCRATCH_ALIGN) for b in buffers), default=0)


def _greedy(buffers: list[Buffer], n_steps: int) -> int:
    """First-fit placement over several orders (greedy by size, by lifetime, by first use,
    then seeded random orders); stops early when the peak of live bytes is reached."""
    import random

    floor = _align(_intervals_peak(buffers, n_steps), SCRATCH_ALIGN)
    orders = [
        sorted(buffers, key=lambda b: (-b.size, b.first)),
        sorted(buffers, key=lambda b: (-(b.last - b.first + 1) * b.size, b.first)),
        sorted(buffers, key=lambda b: (b.first, -b.size)),
        sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size)),
    ]
    rng = random.Random(0)
    tries = 200 if len(buffers) <= 64 else 20
    best, best_offsets = None, None
    for k in range(len(orders) + tries):
        if k < len(orders):
            order = orders[k]
        else:
            order = sorted(buffers, key=lambda b: (-b.size, b.first))
            rng.shuffle(order)
        total = _place(buffers, order)
        if best is None or total < best:
            best, best_offsets = total, [b.offset for b in buffers]
        if best <= floor:
            break
    for b, off in zip(buffers, best_offsets or []):
        b.offset = off
    return best or 0


def tflm_lower_bound(graph: Graph, steps: list[Step]) -> int:
    """Largest total of activation tensors alive at one op, aliases merged, no in place."""
    uf = _UnionFind()
    for st in steps:
        if st.alias_of is not None:
            uf.union(st.alias_of, st.output)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    size: dict[int, int] = {}
    for t in graph.inputs:
        r = uf.find(t)
        first[r], last[r], size[r] = 0, 0, graph.tensors[t].nbytes
    for i, st in enumerate(steps):
        for t in st.inputs + ([st.output] if st.output >= 0 else []) + st.extra_outputs:
            r = uf.find(t)
            size[r] = max(size.get(r, 0), graph.tensors[t].nbytes)
            first.setdefault(r, i)
            last[r] = max(last.get(r, i), i)
    for t in graph.outputs:
        r_out = uf.find(t)
        if r_out in last:
            last[r_out] = len(steps) - 1
    bufs = [Buffer(f"t{r}", size[r], first[r], last[r]) for r in size]
    return _intervals_peak(bufs, max(len(steps), 1))


def plan_memory(graph: Graph, steps: list[Step]) -> Plan:
    """Place every activation and scratch buffer of `steps` in one arena; marks the steps
    chosen to run in place (`Step.inplace`, `Step.inplace_input`)."""
    uf = _UnionFind()
    for st in steps:
        if st.alias_of is not None:
            uf.union(st.alias_of, st.output)
    def io_roots() -> set[int]:   # the graph's inputs and outputs live in the caller's blocks
        return {uf.find(t) for t in (*graph.inputs, *graph.outputs)}

    def last_use(root: int) -> int:
        last = -1
        for i, st in enumerate(steps):
            if st.alias_of is None and not st.unread and any(uf.find(t) == root for t in st.inputs):
                last = i
        return last

    def state_blocks(r_in: int, r_out: int) -> bool:
        # A state's memory is overwritten only by its own next value: the array by the
        # output, and an output waiting in the arena to be copied not at all.
        ports = [(uf.find(sp.input), uf.find(sp.output)) for sp in graph.state]
        return any(r_in in pair for pair in ports) and (r_in, r_out) not in ports

    inplace_steps = []
    for i, st in enumerate(steps):
        if st.inplace_call is None or st.alias_of is not None or st.unread:
            continue
        for k in st.inplace_inputs:
            cand = st.inputs[k]
            r_in, r_out = uf.find(cand), uf.find(st.output)
            others = [uf.find(t) for j, t in enumerate(st.inputs) if j != k]
            if r_in in io_roots() or r_out in io_roots() or r_in in others or state_blocks(r_in, r_out):
                continue
            if last_use(r_in) != i:
                continue
            uf.union(cand, st.output)
            st.inplace = True
            st.inplace_input = k
            inplace_steps.append(i)
            break
    state_roots = [uf.find(sp.input) for sp in graph.state]
    external = io_roots() | set(state_roots)

    # Lifetimes of arena groups.
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    size: dict[int, int] = {}
    for i, st in enumerate(steps):
        if st.alias_of is not None or st.unread:
            continue
        for t in st.inputs + [st.output] + st.extra_outputs:
            r = uf.find(t)
            if r in external:
                continue
            size[r] = max(size.get(r, 0), graph.tensors[t].nbytes)
            first.setdefault(r, i)
            last[r] = max(last.get(r, i), i)
    for sp in graph.state:   # copied into its array after the last op
        r = uf.find(sp.output)
        if r in last:
            last[r] = max(len(steps) - 1, 0)
    buffers = [Buffer(f"t{r}", _align(size[r]), first[r], last[r]) for r in size]
    for i, st in enumerate(steps):
        need = st.inplace_scratch if st.inplace else st.scratch
        if need and not st.unread:
            buffers.append(Buffer(f"s{i}", _align(need, SCRATCH_ALIGN), i, i,
                                  align=SCRATCH_ALIGN))
    arena = _greedy(buffers, max(len(steps), 1))
    by_key = {b.key: b for b in buffers}

    # Each graph input and output at its offset in the caller's block; an output that is an
    # input (or an earlier output) again is copied there after the ops.
    root_expr: dict[int, str] = {}
    state = state_arrays(graph)
    for r, arr in zip(state_roots, state):
        root_expr[r] = f"((int8_t *){arr.name})"
    for t, off in zip(graph.inputs, graph.io_block("input")[0]):
        root_expr.setdefault(uf.find(t), "input" if off == 0 else f"(input + {off})")
    io_copies = []
    for t, off in zip(graph.outputs, graph.io_block("output")[0]):
        where = "output" if off == 0 else f"(output + {off})"
        r = uf.find(t)
        if r in root_expr:
            io_copies.append((where, root_expr[r], graph.tensors[t].nbytes))
        else:
            root_expr[r] = where
    tensor_expr: dict[int, str] = {}
    for t in range(len(graph.tensors)):
        if graph.tensors[t].is_constant:
            continue
        r = uf.find(t)
        if r in root_expr:
            tensor_expr[t] = root_expr[r]
        elif f"t{r}" in by_key:
            tensor_expr[t] = f"(ekrt_arena + {by_key[f't{r}'].offset})"
    scratch_expr = {int(b.key[1:]): f"(ekrt_arena + {b.offset})" for b in buffers
                    if b.key.startswith("s")}
    state_copies = []
    for sp, r in zip(graph.state, state_roots):
        if uf.find(sp.output) == r:
            continue
        if sp.output not in tensor_expr:
            raise ModelError(f"state output '{graph.io_name(sp.output)}' is a constant, not a value "
                             "the model computes", hint="carry state only in computed outputs")
        state_copies.append((tensor_expr[sp.output], root_expr[r], graph.tensors[sp.output].nbytes))
    return Plan(
        arena_bytes=arena,
        lower_bound=tflm_lower_bound(graph, steps),
        plan_lower_bound=_intervals_peak(buffers, max(len(steps), 1)),
        buffers=buffers,
        tensor_expr=tensor_expr,
        scratch_expr=scratch_expr,
        inplace_steps=inplace_steps,
        io_copies=io_copies,
        state=state,
        state_copies=state_copies,
    )


def state_arrays(graph: Graph) -> list[StateArray]:
    """One word-aligned static array per state port, reset to the tensor's zero point (real 0.0,
    as the host references start a sequence)."""
    out = []
    for k, sp in enumerate(graph.state):
        t = graph.tensors[sp.input]
        ctype = io_type(t.dtype, what=f"state '{sp.name}'").ctype
        zp = 0 if t.quant is None else t.zero_point
        name = f"ekrt_state{k}"
        fill = (f"{{ int32_t i; for (i = 0; i < {t.size}; i++) {{ (({ctype} *)(void *){name})[i] = "
                f"({ctype}){zp}; }} }} /* {_comment(sp.name)} */")
        out.append(StateArray(name, "int32_t", (t.nbytes + 3) // 4, fill))
    return out


def _comment(name: str) -> str:
    return "".join(ch if " " <= ch <= "~" else "?" for ch in name).replace("*/", "* /")[:48]

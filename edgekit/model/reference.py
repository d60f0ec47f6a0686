"""Host int8 reference interpreters.

TFLM's reference kernels (the `tflite_micro` package) compute exactly what TFLM computes on a
device, so they are the reference for on-device agreement. LiteRT (with its reference op
resolver) is a fallback for task metrics where tflite_micro has no wheel: it can differ from
TFLM by a few LSB on fully-connected models, so it never judges on-device exactness.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.console import quiet_native_stderr
from edgekit.errors import MissingToolError, ModelError
from edgekit.model.state import CarriedState
from edgekit.model.table_twin import TABLE_OPS, table_twin
from edgekit.model.tflite_graph import Graph, parse_graph


def tflm_available() -> bool:
    """Whether the tflite_micro package (TFLM's reference kernels) can be imported."""
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Int8Interpreter:
    """Runs an integer model one sample at a time: each input's array -> each output's array."""

    backend: str  # "tflm" or "litert"
    run_sample: Callable[[list[np.ndarray]], list[np.ndarray]]   # one sample, graph order
    input_shapes: list[tuple[int, ...]]          # each input tensor's shape (batch 1)
    output_sample_shapes: list[tuple[int, ...]]  # each output's, one sample (Tensor.sample_shape)
    why: str = ""  # why LiteRT judges where TFLM would (TFLM has no kernel for an op)
    # A model with state ports (a decode step): each run_sample is one step of a sequence that
    # reset_state starts; run_all is then one sequence. Otherwise every sample is independent.
    reset_state: Callable[[], None] = lambda: None
    stepped: bool = False

    @property
    def label(self) -> str:
        """The reference as reports name it: "tflm", or "litert: TFLM has no kernel for TILE"."""
        return f"{self.backend}: {self.why}" if self.why else self.backend

    def run(self, xq: np.ndarray) -> np.ndarray:
        """Run every sample of xq (leading sample axis) through a single-input model and stack
        its first output."""
        return self.run_all([xq])[0]

    def run_all(self, xqs: list[np.ndarray]) -> list[np.ndarray]:
        """Run every sample (one array per input, leading sample axis) and stack each output."""
        outs = [self.run_sample([x[k].reshape(shape) for x, shape in zip(xqs, self.input_shapes)])
                for k in range(len(xqs[0]))]
        return [np.stack([o[j] for o in outs]).reshape((len(outs),) + shape)
                for j, shape in enumerate(self.output_sample_shapes)]


def _interpreter(backend: str, run_sample: Callable[[list[np.ndarray]], list[np.ndarray]],
                 graph: Graph, reset_state: Callable[[], None]) -> Int8Interpreter:
    return Int8Interpreter(backend, run_sample, [t.shape for t in graph.input_tensors],
                           [t.sample_shape for t in graph.output_tensors], reset_state=reset_state,
                           stepped=bool(graph.state))


def _host_arena(graph: Graph) -> int:
    # Generous on the host, where memory is free; the device arena is sized separately.
    # TFLM's bookkeeping takes ~300 bytes per op on a 64-bit host: an unrolled GRU has hundreds.
    return max(64 * 1024, 4 * sum(t.nbytes for t in graph.tensors if not t.is_constant)) \
        + 512 * len(graph.operators)


def _tflm(model: bytes, graph: Graph) -> Int8Interpreter:
    from tflite_micro.python.tflite_micro import runtime

    arena = _host_arena(graph)
    where = str(graph.path) if graph.path else "this model"
    _tflm_preflight(model, arena, where, invoke_inputs=len(graph.subgraph_inputs), graph_ops=tuple(graph.op_names()))
    with quiet_native_stderr():
        try:
            it = runtime.Interpreter.from_bytes(model, arena_size=arena)
        except Exception as exc:  # RuntimeError from TFLM, struct.error from its flatbuffer reads
            raise ModelError(f"TFLM cannot prepare {where}: {_one_line(exc)}",
                             hint="the model uses an op, shape or quantization TFLM does not support") from None

    state = CarriedState(graph)
    pos_in = {idx: k for k, idx in enumerate(graph.subgraph_inputs)}
    pos_out = {idx: k for k, idx in enumerate(graph.subgraph_outputs)}

    def run_sample(xs: list[np.ndarray]) -> list[np.ndarray]:
        # Without state ports each sample is an independent sequence: variable tensors (LSTM
        # state) back to their initial values, as the firmware's edgekit_model_reset() before
        # every INFER. With them, a sample is one step and reset_state starts a sequence.
        if not graph.state:
            it.reset()
        for idx, x in zip(graph.inputs, xs):
            it.set_input(x, pos_in[idx])  # TFLM reuses input memory: set it before every invoke
        for sp in graph.state:
            it.set_input(state.values[sp.input], pos_in[sp.input])
        it.invoke()
        state.carry(lambda idx: np.array(it.get_output(pos_out[idx]), copy=True))
        return [np.array(it.get_output(pos_out[idx]), copy=True) for idx in graph.outputs]

    def reset_state() -> None:
        it.reset()
        state.reset()

    return _interpreter("tflm", run_sample, graph, reset_state)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


# TFLM trusts the model: a corrupt one can abort or crash it. Before edgekit loads a model into
# its own process, a child prepares it and runs it once on zeros; a crash there is an error here.
_PREFLIGHT = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
try:
    it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))
    if len(sys.argv) > 3:
        for k in range(int(sys.argv[3])):  # the input count
            d = it.get_input_details(k)
            it.set_input(np.zeros(d['shape'], dtype=d['dtype']), k)
        it.invoke()
except Exception as exc:
    print(' '.join(str(exc).split())[:300] or type(exc).__name__)
    sys.exit(1)
"""
PREFLIGHT_TIMEOUT_S = 120.0


def _tflm_preflight(model: bytes, arena: int, where: str, *, invoke_inputs: int = 0,
                    graph_ops: tuple[str, ...] = ()) -> None:
    """Prepare the model in a child (and invoke it on zeros when `invoke_inputs`, its input
    count, is given); a crash or failure there is a ModelError here."""
    import signal
    import tempfile

    with tempfile.TemporaryDirectory(prefix="edgekit-tflm-") as tmp:
        path = f"{tmp}/model.tflite"
        with open(path, "wb") as f:
            f.write(model)
        try:
            invoke = [str(invoke_inputs)] if invoke_inputs else []
            proc = subprocess.run([sys.executable, "-c", _PREFLIGHT, path, str(arena), *invoke],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=PREFLIGHT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ModelError(f"TFLM did not finish preparing and running {where} within "
                             f"{PREFLIGHT_TIMEOUT_S:g} s", hint="the model file is probably corrupt") from None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise ModelError(f"TFLM crashed ({name}) preparing or running {where}",
                         hint="the model file is probably corrupt; re-export it with `edgekit quantize`")
    if proc.returncode != 0:
        text = proc.stderr + proc.stdout
        lacking = tuple(dict.fromkeys(_NO_KERNEL.findall(text)))
        if not lacking and _NO_CUSTOM in text:   # TFLM names no custom op it lacks: the model's
            lacking = tuple(n for n in graph_ops if n.startswith("CUSTOM:"))
        if lacking:
            raise TflmLacksOp(lacking, where)
        why = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else f"exit {proc.returncode}"
        raise ModelError(f"TFLM cannot prepare {where}: {why}",
                         hint="the model uses an op, shape or quantization TFLM does not support")


# What TFLM prints (on stderr) for an op its resolver has no kernel for; it stops at the first.
_NO_KERNEL = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
_NO_CUSTOM = "Failed to get registration from op code CUSTOM"


class TflmLacksOp(ModelError):
    """TFLM (the tflite_micro package) has no kernel for an op of the model."""

    def __init__(self, ops: tuple[str, ...], where: str) -> None:
        self.ops = ops
        super().__init__(f"TFLM has no kernel for {', '.join(ops)} ({where})",
                         hint="use runtime edgekit-rt if it runs the model, else replace the layer "
                              "that makes the op")


_LACKS: dict[str, tuple[str, ...]] = {}   # model sha256 -> ops TFLM lacks, per process


def tflm_lacks(graph: Graph) -> tuple[str, ...]:
    """The op TFLM has no kernel for that stops it preparing the model (TFLM names the first
    only), else (); () too when tflite_micro is missing. Measured once per model and process."""
    if graph.sha256 not in _LACKS:
        lacks: tuple[str, ...] = ()
        if tflm_available():
            try:
                _tflm_preflight(graph.data, _host_arena(graph), str(graph.path) if graph.path else "this model",
                                graph_ops=tuple(graph.op_names()))
            except TflmLacksOp as exc:
                lacks = exc.ops
            except ModelError:
                pass  # not about a missing kernel: whoever runs the model reports it
        _LACKS[graph.sha256] = lacks
    return _LACKS[graph.sha256]


def _litert(model: bytes, graph: Graph) -> Int8Interpreter:
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF}
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
            kwargs = {}
        except ImportError:
            raise MissingToolError(
                "no int8 interpreter available (neither tflite_micro nor ai_edge_litert imports)",
                hint="pip install ai-edge-litert, or tflite-micro on Linux x86_64") from None
    try:
        it = Interpreter(model_content=model, **kwargs)
        it.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        if not kwargs:
            raise ModelError(f"LiteRT cannot load this model: {_one_line(exc)}") from None
        try:  # the reference resolver lacks some op versions (TILE v3): LiteRT's built-in kernels
            with quiet_native_stderr():  # its XNNPACK delegate announces itself on stderr
                it = Interpreter(model_content=model)
                it.allocate_tensors()
        except (RuntimeError, ValueError) as exc2:
            raise ModelError(f"LiteRT cannot load this model: {_one_line(exc2)}") from None
    # The graph's input/output tensor indices, in graph order (get_*_details may list them otherwise).
    state = CarriedState(graph)

    def run_sample(xs: list[np.ndarray]) -> list[np.ndarray]:
        for idx, x in zip(graph.inputs, xs):
            it.set_tensor(idx, x)
        for sp in graph.state:
            it.set_tensor(sp.input, state.values[sp.input])
        it.invoke()
        state.carry(lambda idx: np.array(it.get_tensor(idx), copy=True))
        return [np.array(it.get_tensor(idx), copy=True) for idx in graph.outputs]

    return _interpreter("litert", run_sample, graph, state.reset)


def int8_interpreter(model: bytes, graph: Graph, backend: str = "auto") -> Int8Interpreter:
    """The most exact interpreter available: TFLM reference kernels, else LiteRT reference
    (also for auto when TFLM has no kernel for an op of the model, e.g. TILE: the interpreter's
    `why` says so). An op TFLM lacks that is a table of one int8 value (GELU) is LiteRT's
    kernel inside TFLM's run (edgekit.model.table_twin)."""
    if backend == "tflm" or (backend == "auto" and tflm_available()):
        try:
            return _tflm(model, graph)
        except TflmLacksOp as exc:
            if backend == "tflm":
                raise
            lacking = ", ".join(exc.ops)
            if set(exc.ops) <= set(TABLE_OPS) and (twin := table_twin(model)) is not None:
                # TFLM judges every op it has, LiteRT's kernel the rest (edgekit.model.table_twin).
                interp = _tflm(twin, parse_graph(twin))
                interp.why = f"{lacking} by LiteRT's reference kernel (TFLM has none)"
                return interp
            lite = _litert(model, graph)
            lite.why = f"TFLM has no kernel for {lacking}"
            return lite
    return _litert(model, graph)


# Each arena probe runs _PREFLIGHT (prepare only) in its own child process: TFLM crashes
# (SIGSEGV, abort) on some arenas too small for its bookkeeping, and a crash must neither take
# edgekit down nor poison later probes.
ARENA_PROBE_TIMEOUT_S = 60.0
MAX_ARENA_PROBES = 32  # the bisection from 16 bytes to 64 MiB needs 22


def _arena_ok(model_path: str, size: int) -> bool:
    try:
        proc = subprocess.run([sys.executable, "-c", _PREFLIGHT, model_path, str(size)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=ARENA_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False  # a probe that hangs is a size that does not work
    return proc.returncode == 0


_ARENAS: dict[tuple[str, int], int | None] = {}   # (model sha256, limit) -> measured, per process


def measure_tflm_arena(model: bytes, graph: Graph, *, limit: int = 64 * 1024 * 1024) -> int | None:
    """Smallest TFLM arena (to 16 bytes) with which AllocateTensors succeeds on this host.

    A 64-bit host figure (see ARENA_MARGIN for the device). None when tflite_micro is
    missing or the model does not allocate within `limit` bytes. Bounded: at most
    MAX_ARENA_PROBES probes, each in a child process with a timeout; measured once per model
    and process (inspect, generate and compress ask for the same model again).
    """
    key = (graph.sha256, limit)
    if key not in _ARENAS:
        _ARENAS[key] = _measure_arena(model, graph, limit) if tflm_available() else None
    return _ARENAS[key]


def _measure_arena(model: bytes, graph: Graph, limit: int) -> int | None:
    import tempfile

    activations = sum(t.nbytes for t in graph.tensors if not t.is_constant)
    limit = limit // 16 * 16
    hi = min(limit, max(16, (activations + 4096 + 15) // 16 * 16))
    lo = 0
    probes = 1
    with tempfile.TemporaryDirectory(prefix="edgekit-arena-") as tmp:
        model_path = f"{tmp}/model.tflite"
        Path(model_path).write_bytes(model)
        ok = _arena_ok(model_path, hi)
        if not ok and tflm_lacks(graph):
            return None   # no arena helps a missing kernel
        while not ok:  # double until it allocates; hi >= 16, so this ends
            if hi >= limit:
                return None
            lo, hi = hi, min(hi * 2, limit)
            probes += 1
            ok = _arena_ok(model_path, hi)
        while hi - lo > 16 and probes < MAX_ARENA_PROBES:
            mid = (lo + hi) // 2 // 16 * 16
            probes += 1
            if _arena_ok(model_path, mid):
                hi = mid
            else:
                lo = mid
    return hi


# The host arena is measured on a 64-bit machine where TFLM's bookkeeping structs hold 8-byte
# pointers, so it over-covers a 32-bit MCU's needs; the margin covers differences in alignment
# of the arena start and kernel scratch buffers between builds (e.g. CMSIS-NN's larger scratch).
ARENA_MARGIN_FRACTION = 0.10
ARENA_MARGIN_BYTES = 256


def device_arena_bytes(host_arena: int) -> int:
    """Arena to reserve on a 32-bit MCU for a model measured at `host_arena` on the host."""
    size = int(host_arena * (1 + ARENA_MARGIN_FRACTION)) + ARENA_MARGIN_BYTES
    return (size + 15) // 16 * 16

"""Data as a model's tensors take it: real values quantized onto an int8/int16 grid and back,
integer inputs (token ids) checked against what their ops accept, and random inputs for a model
that came without test data."""

from __future__ import annotations

import numpy as np

from edgekit.errors import DataError, UsageError
from edgekit.model.decode import SampleShapes
from edgekit.model.iotypes import io_type
from edgekit.model.tflite_graph import Graph, Tensor


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """Float to int8 (or uint8, int16) as a device should: round half away from zero, then
    clamp to the type's range (never truncate)."""
    q = np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point
    info = np.iinfo(np.dtype(dtype))
    return np.clip(q, info.min, info.max).astype(dtype)


def model_input(x: np.ndarray, tensor: Tensor, *, where: str = "the data") -> np.ndarray:
    """Data as the model's input tensor takes it: quantized for int8/uint8/int16 inputs, as they
    are for int32 (token ids: DataError unless whole numbers in range) and float32 inputs."""
    t = io_type(tensor.dtype)
    if t.quantized and tensor.quant is not None:
        return quantize(x, tensor.scale, tensor.zero_point, t.name)
    if t.name == "float32":
        return np.asarray(x, dtype=np.float32)
    # Integers taken as they are: token ids (int32), raw samples (an unquantized int16 audio frame).
    arr = np.asarray(x)
    lo, hi = t.bounds()
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))
                     or arr.min() < lo or arr.max() > hi):
        raise DataError(f"{where}: the model takes {t.name} values as they are (token ids, raw samples), "
                        "the data has values that are not whole numbers in range",
                        hint="pass the integers, not floats")
    return arr.astype(np.dtype(t.name))


def model_inputs(graph: Graph, xs: list[np.ndarray], *, where: str = "the data") -> list[np.ndarray]:
    """Each of `xs` as its graph input takes it (model_input). Token ids must also index the table
    their GATHER reads (DataError otherwise): the reference refuses such a lookup mid-run and a
    device would read past the table."""
    out = []
    for x, idx in zip(xs, graph.inputs):
        arr = model_input(x, graph.tensors[idx], where=where)
        rows = token_rows(graph, idx)
        if rows is not None and arr.size and (arr.min() < 0 or arr.max() >= rows):
            raise DataError(f"{where}: token ids {int(arr.min())}..{int(arr.max())} for input "
                            f"'{graph.io_name(idx)}', whose table has ids 0..{rows - 1}",
                            hint="encode the text with the model's own vocabulary (vocab.json)")
        out.append(arr)
    return out


def random_inputs(graph: Graph, samples: int, seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """`samples` random real inputs over the whole range of each quantized model input (for a
    float32 input, the range of the QUANTIZE it goes through), as the arrays of a data file (x,
    or x_<input name> for each of several inputs), and a line saying so: test data for a model
    that came without any. int32 inputs are integers: a TRANSPOSE_CONV's output shape its shape,
    token ids below their table's size, others over +-2^15. UsageError when an input has no
    quantization to draw over."""
    rng = np.random.default_rng(seed)
    if graph.state:  # a decode step's sample is a sequence of token ids, as its window model's
        shapes = SampleShapes.of(graph, str(graph.path or "the model"))
        tokens = int32_input(graph, graph.inputs[0], (samples, *shapes.inputs[0]), rng)
        return {"x": tokens}, f"{samples} random sequences of {shapes.steps} token ids"
    arrays: dict[str, np.ndarray] = {}
    what = ""
    for idx in graph.inputs:
        tin, q_in = graph.tensors[idx], graph.edge_quantized(idx)
        key = "x" if len(graph.inputs) == 1 else f"x_{graph.io_name(idx)}"
        shape = (samples, *tin.sample_shape)
        if tin.dtype == "int32":
            arrays[key] = int32_input(graph, idx, shape, rng)
            what = f"{samples} random inputs"
            continue
        if q_in is None and tin.dtype in ("int8", "uint8", "int16"):   # raw samples: their whole range
            lo, hi = io_type(tin.dtype).bounds()
            arrays[key] = rng.integers(lo, hi + 1, size=shape).astype(np.float32)
            what = f"{samples} random {tin.dtype} inputs over the type's range"
            continue
        if q_in is None or q_in.quant is None or q_in.quant.per_channel:
            raise UsageError(f"its {tin.dtype} input '{graph.io_name(idx)}' has no quantization to draw random "
                             "inputs over", hint="pass --data TEST.npz")
        lo, hi = io_type(q_in.dtype).bounds()
        q = rng.integers(lo, hi + 1, size=shape)
        arrays[key] = ((q - q_in.zero_point) * q_in.scale).astype(np.float32)
        what = f"{samples} random inputs over the {q_in.dtype} input range"
    if len(arrays) > 1:
        what = f"{samples} random inputs over each input's range"
    return arrays, what


def token_rows(graph: Graph, idx: int) -> int | None:
    """The rows of the table an int32 graph input indexes (a GATHER reading it, through RESHAPEs: a
    decode step's token is reshaped before its lookup); None when no GATHER reads it."""
    reshaped = {idx}
    for op in graph.operators:
        if op.op == "RESHAPE" and op.inputs[:1] and op.inputs[0] in reshaped:
            reshaped.add(op.outputs[0])
    for op in graph.operators:
        if op.op == "GATHER" and op.inputs[1:2] and op.inputs[1] in reshaped:
            axis = int(op.options.get("axis", 0)) % max(1, len(graph.tensors[op.inputs[0]].shape))
            return graph.tensors[op.inputs[0]].shape[axis]
    return None


def int32_input(graph: Graph, idx: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Values for an int32 graph input, sent as they are: what the ops reading it accept."""
    for op in graph.operators:
        if op.op == "TRANSPOSE_CONV" and op.inputs[:1] == (idx,):   # the output shape: exactly it
            return np.broadcast_to(np.asarray(graph.tensors[op.outputs[0]].shape, dtype=np.int64), shape).copy()
    rows = token_rows(graph, idx)
    if rows is not None:   # token ids: below the table's rows
        return rng.integers(0, rows, size=shape)
    return rng.integers(-(1 << 15), 1 << 15, size=shape)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 to float32: (q - zero_point) * scale."""
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)

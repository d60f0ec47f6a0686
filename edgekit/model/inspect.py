"""What a .tflite model is made of: its inputs and outputs, and per operator its output, MACs,
parameters and weight bytes (the structure half of `edgekit inspect`; what each runtime needs
and where it fits is :mod:`edgekit.runtimes.inspect`)."""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.model.tflite_graph import Graph, Operator


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: shape, type and (per-tensor) quantization."""

    name: str
    shape: list[int]
    dtype: str
    scale: float | None
    zero_point: int | None
    port: str = ""   # a graph input's or output's name as data files use it (Graph.io_name)


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


def tensor_info(graph: Graph, index: int) -> TensorInfo:
    """Shape, type and per-tensor quantization of tensor `index`."""
    t = graph.tensors[index]
    quantized = t.quant is not None
    port = graph.io_name(index) if index in graph.inputs or index in graph.outputs else ""
    return TensorInfo(t.name, list(t.shape), t.dtype, t.scale if quantized else None,
                      t.zero_point if quantized else None, port)


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
    if op.op == "BATCH_MATMUL":
        lhs = graph.tensors[op.inputs[0]].shape
        depth = lhs[-2] if op.options.get("adj_x") else lhs[-1]
        return out.size * depth
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


__all__ = ["LayerInfo", "TensorInfo", "layers", "op_macs", "tensor_info"]

"""Integer ops for the float islands TensorFlow's int8 converter leaves around ops it does not
quantize although TFLM has int8 kernels for them (ELU: Keras' ELU layer and
Activation("elu")).

The converter calibrates such an op like any other, then keeps it in float between a
DEQUANTIZE of its int8 input and a QUANTIZE of its float output to int8; ops next to it that
merely move values (a resize, pooling by max, a reshape...) can be pulled into the island.
The island holds everything an int8 graph needs: the input's quantization (the DEQUANTIZE's
int8 input) and the calibrated output quantization (the QUANTIZE's int8 output).
`integer_islands` rewires the island's ops onto int8 tensors and drops the DEQUANTIZE, the
QUANTIZE and the float tensors. Value-moving ops keep their input's quantization (their int8
kernels do not rescale, which is why TFLite's quantizer ties their scales too): those before
the ELU take the DEQUANTIZE's, those after it the QUANTIZE's; clipping commutes with them
(bilinear interpolation stays within its inputs' range). The int8 ops TFLM runs are then those
a quantizer supporting ELU would have written.

The model is edited through the flatbuffer object API of TensorFlow's schema module (the
conversion already imports TensorFlow).
"""

from __future__ import annotations

from typing import Any

# Ops the converter leaves in float whose TFLM int8 kernel takes per-tensor int8 in and out.
INT8_KERNEL_OPS = ("ELU",)
# Ops whose int8 kernels copy or pick values without rescaling (output quantization = input's):
# taken into an island with one INT8_KERNEL_OPS op, their data tensor as input 0.
SAME_SCALE_OPS = ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "MAX_POOL_2D", "REDUCE_MAX", "RESHAPE",
                  "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD")


def integer_islands(tflite: bytes) -> tuple[bytes, list[str]]:
    """The model with every float island DEQUANTIZE -> ops -> QUANTIZE holding one INT8_KERNEL_OPS
    op (and SAME_SCALE_OPS ops) made int8; returns the bytes (unchanged when there is none) and
    the names of the rewritten ops' outputs."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.python import schema_util

    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(bytearray(tflite), 0))
    names = {getattr(fb.BuiltinOperator, n): n for n in dir(fb.BuiltinOperator) if not n.startswith("_")}

    def op_name(op: Any) -> str:
        return names.get(schema_util.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex]), "")

    rewritten: list[str] = []
    for sg_index, sg in enumerate(model.subgraphs):
        ops = list(sg.operators or [])
        drop_ops: set[int] = set()
        drop_tensors: set[int] = set()
        for deq in ops:
            if op_name(deq) != "DEQUANTIZE" or id(deq) in drop_ops:
                continue
            island = _island(fb, sg, ops, deq, op_name)
            if island is None:
                continue
            chain, quant = island
            q_in, q_out = int(deq.inputs[0]), int(quant.outputs[0])
            drop_ops |= {id(deq), id(quant)}
            drop_tensors |= {int(deq.outputs[0]), int(chain[-1].outputs[0])}
            chain[0].inputs[0] = q_in
            chain[-1].outputs = [q_out]
            kernel = next(k for k, o in enumerate(chain) if op_name(o) in INT8_KERNEL_OPS)
            for k, op in enumerate(chain[:-1]):  # the float tensors between two island ops
                _make_int8(fb, sg.tensors[int(op.outputs[0])], sg.tensors[q_in if k < kernel else q_out])
            rewritten += [_name(sg.tensors[int(o.outputs[0])]) for o in chain]
        if drop_ops:
            sg.operators = [o for o in ops if id(o) not in drop_ops]
            new = _drop_tensors(sg, drop_tensors)
            for sd in model.signatureDefs or []:  # signatures name I/O tensors by index
                if sd.subgraphIndex == sg_index:
                    for tm in list(sd.inputs or []) + list(sd.outputs or []):
                        tm.tensorIndex = new[tm.tensorIndex]
    if not rewritten:
        return tflite, []
    _prune_opcodes(model)
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), rewritten


def _island(fb: Any, sg: Any, ops: list[Any], deq: Any, op_name: Any) -> tuple[list[Any], Any] | None:
    """The ops from `deq`'s float output to the QUANTIZE ending its island, and that QUANTIZE;
    None unless it is a chain of single-consumer ops holding exactly one INT8_KERNEL_OPS op
    between int8 tensors."""
    graph_io = set(list(sg.inputs) + list(sg.outputs))
    if not _is_int8(fb, sg.tensors[int(deq.inputs[0])]):
        return None
    chain: list[Any] = []
    t = int(deq.outputs[0])
    while True:
        users = [o for o in ops if o.inputs is not None and t in [int(i) for i in o.inputs]]
        if t in graph_io or len(users) != 1:
            return None
        op = users[0]
        name = op_name(op)
        if name == "QUANTIZE":
            ok = _is_int8(fb, sg.tensors[int(op.outputs[0])])
            kernels = sum(op_name(o) in INT8_KERNEL_OPS for o in chain)
            return (chain, op) if ok and kernels == 1 else None
        others = [int(i) for i in op.inputs[1:] if int(i) >= 0]
        if name not in INT8_KERNEL_OPS + SAME_SCALE_OPS or int(op.inputs[0]) != t or len(op.outputs) != 1 \
                or any(sg.tensors[i].type == fb.TensorType.FLOAT32 for i in others):
            return None
        chain.append(op)
        t = int(op.outputs[0])


def _make_int8(fb: Any, t: Any, like: Any) -> None:
    """Float tensor `t` made int8 with the quantization of int8 tensor `like`."""
    q = fb.QuantizationParametersT()
    q.scale, q.zeroPoint = list(like.quantization.scale), list(like.quantization.zeroPoint)
    t.type, t.quantization = fb.TensorType.INT8, q


def _is_int8(fb: Any, t: Any) -> bool:
    q = t.quantization
    return bool(t.type == fb.TensorType.INT8 and q is not None and q.scale is not None and len(q.scale) == 1)


def _name(t: Any) -> str:
    n = t.name
    return n.decode() if isinstance(n, bytes) else str(n)


def _drop_tensors(sg: Any, drop: set[int]) -> dict[int, int]:
    """Remove tensors `drop` (no longer used), renumber every reference to the others in the
    subgraph; returns the old -> new index map."""
    keep = [i for i in range(len(sg.tensors)) if i not in drop]
    new = {old: k for k, old in enumerate(keep)}

    def remap(idx: Any) -> Any:
        return None if idx is None else [new[int(i)] if int(i) >= 0 else -1 for i in idx]

    sg.tensors = [sg.tensors[i] for i in keep]
    sg.inputs, sg.outputs = remap(sg.inputs), remap(sg.outputs)
    for op in sg.operators:
        op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = remap(op.intermediates)
    return new


def _prune_opcodes(model: Any) -> None:
    """Drop operator codes no operator uses any more (DEQUANTIZE, QUANTIZE) and renumber."""
    used = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators})
    new = {old: k for k, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for sg in model.subgraphs:
        for op in sg.operators:
            op.opcodeIndex = new[op.opcodeIndex]

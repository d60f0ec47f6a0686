"""The decode-step form of a Keras causal language model, for KV-cache generation on a device.

A causal LM maps a window of T token ids to logits at every position; generating with it re-runs
the whole window for every new token. Its decode step takes one token and its position, attends
over the keys and values of the tokens before (each attention layer's KV cache, T rows, kept as
state ports: inputs `k<i>`/`v<i>`, outputs `k<i>_next`/`v<i>_next`, edgekit.model.state) and gives
that position's logits: the same numbers, for one token's work plus the attention over the cache.

`decode_step_model` builds it from the window model's own layers and weights by re-running the
functional graph on one position:
- layers that act on each position alone (Dense, LayerNormalization, Embedding, activations,
  Dropout, element-wise arithmetic) are applied as they are;
- MultiHeadAttention called as causal self-attention (use_causal_mask=True, query = value) reads
  and updates its cache (`DecodeContext.self_attention`);
- a layer of the user's that mixes positions says how it steps with a `decode_step(step, *args,
  **kwargs)` method, `step` a StepInputs (edgekit.model.decode_layers.TokenAndPositionEmbedding
  is one);
- anything else (Conv1D, RNNs, pooling, Flatten, a custom layer without decode_step) is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgekit.errors import DataError, ModelError
from edgekit.model.state import STATE_SUFFIX

if TYPE_CHECKING:
    from edgekit.model.tflite_graph import Graph


TOKEN, POSITION, LOGITS = "token", "position", "logits"


class SteppedInterpreter(Protocol):
    """What run_sequences needs of an int8 reference (edgekit.model.reference.Int8Interpreter)."""

    input_shapes: list[tuple[int, ...]]

    def reset_state(self) -> None: ...

    def run_sample(self, xs: list[np.ndarray]) -> list[np.ndarray]: ...


# Keras layers and operations that compute each position from that position alone.
_PER_POSITION = {
    "Dense", "LayerNormalization", "RMSNormalization", "Activation", "Dropout", "SpatialDropout1D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "Add", "Subtract", "Multiply", "Average",
    "Maximum", "Minimum", "ReLU", "LeakyReLU", "ELU", "Softmax", "Identity", "Rescaling",
    "Embedding", "UnitNormalization",
    # keras.ops called in a functional model (x + y, ops.gelu(x), ...)
    "Divide", "TrueDivide", "Negative", "Square", "Sqrt", "Exp", "Tanh", "Sigmoid", "Relu", "Gelu",
    "Silu", "Swish", "Relu6", "HardSigmoid", "HardSwish", "Softplus", "Abs",
}
_NORM_AXIS_OK = {"LayerNormalization", "RMSNormalization", "Softmax", "UnitNormalization"}


@dataclass
class DecodeContext:
    """What the step model is built with: its position input and the KV caches made so far."""

    context: int                # T: positions a cache holds
    position: Any               # int32 (batch, 1) Keras input
    caches: list[tuple[str, Any, Any]] = field(default_factory=list)  # (name, input, next value)

    def self_attention(self, mha: Any, query: Any, value: Any = None, key: Any = None, *,
                       use_causal_mask: bool = False, training: Any = None, **masks: Any) -> Any:
        """One position of `mha(query, value, use_causal_mask=True)` over this layer's KV cache."""
        import keras

        if value is not query or (key is not None and key is not query) or not use_causal_mask \
                or any(v is not None and v is not False for v in masks.values()):
            raise ModelError(f"MultiHeadAttention '{mha.name}' is not causal self-attention "
                             "(mha(x, x, use_causal_mask=True) and no other mask): a decode step "
                             "cannot compute it one position at a time")
        n = len(self.caches) // 2
        shapes = [(self.context, mha.num_heads, d) for d in (mha.key_dim, mha.value_dim or mha.key_dim)]
        past = [keras.Input(shape, name=f"{kv}{n}") for kv, shape in zip("kv", shapes)]
        out, k_now, v_now = _layer("CachedAttention")(mha, self.context, name=f"{mha.name}_step")(
            query, self.position, *past)
        self.caches += [(f"k{n}", past[0], k_now), (f"v{n}", past[1], v_now)]
        return out


@dataclass(frozen=True)
class StepInputs:
    """What a layer's decode_step(step, ...) is given besides its own inputs."""

    position: Any   # int32 (batch, 1): this token's position
    context: int    # T: positions the model holds


def _layer_classes() -> dict[str, type]:
    """The step model's own layers (made on first use: Keras imports only then). Each hides
    the ops it adds inside one layer named after the layer it steps, so no op it makes can
    take a name the model already uses."""
    import keras
    from keras import ops

    class Stepped(keras.layers.Layer):
        """One position of a layer that has decode_step(step: StepInputs, ...)."""

        def __init__(self, inner: Any, context: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.inner, self.context = inner, context

        def call(self, position: Any, *args: Any, **kwargs: Any) -> Any:
            return self.inner.decode_step(StepInputs(position, self.context), *args, **kwargs)

    class CachedAttention(keras.layers.Layer):
        """One position of a causal MultiHeadAttention: its query, key and value projections of
        this position, the key and value written into the caches at `position` (the caches'
        next values), attention over the rows at or before it, the output projection."""

        def __init__(self, mha: Any, context: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mha, self.context = mha, context

        def call(self, x: Any, position: Any, past_k: Any, past_v: Any) -> Any:
            mha, t = self.mha, self.context
            slots = ops.reshape(ops.arange(t, dtype="int32"), (1, t, 1, 1))
            here = ops.equal(slots, ops.reshape(position, (-1, 1, 1, 1)))
            k = ops.where(here, mha._key_dense(x), past_k)
            v = ops.where(here, mha._value_dense(x), past_v)
            visible = ops.less_equal(ops.reshape(ops.arange(t, dtype="int32"), (1, 1, t)),
                                     ops.reshape(position, (-1, 1, 1)))
            out, _ = mha._compute_attention(mha._query_dense(x), k, v, attention_mask=visible,
                                            training=False)
            if getattr(mha, "_use_gate", False):
                out = ops.multiply(out, mha._gate_dense(x))
            return mha._output_dense(out), k, v

    return {"Stepped": Stepped, "CachedAttention": CachedAttention}


_CLASSES: dict[str, type] = {}


def _layer(name: str) -> type:
    if not _CLASSES:
        _CLASSES.update(_layer_classes())
    return _CLASSES[name]


def _step_op(op: Any, ctx: DecodeContext) -> Callable[..., Any]:
    """What the node of operation `op` computes on one position."""
    import keras

    kind = type(op).__name__
    if hasattr(op, "decode_step"):
        return lambda *a, **kw: _layer("Stepped")(op, ctx.context, name=f"{op.name}_step")(
            ctx.position, *a, **kw)
    if isinstance(op, keras.layers.MultiHeadAttention):
        return lambda *a, **kw: ctx.self_attention(op, *a, **kw)
    if kind in _PER_POSITION:
        axis = getattr(op, "axis", -1)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if kind in _NORM_AXIS_OK and any(a not in (-1,) and a < 2 for a in axes):
            raise ModelError(f"layer '{op.name}' ({kind}) normalizes over axis {axis}, across "
                             "positions: its decode step would need every position")
        return op
    raise ModelError(f"layer '{getattr(op, 'name', kind)}' ({kind}) mixes positions in a way edgekit "
                     "cannot run one token at a time",
                     hint="build the model from Dense, LayerNormalization, Embedding, causal "
                          "MultiHeadAttention and element-wise layers, or give the layer a "
                          "decode_step(step, ...) method (see edgekit.model.decode)")


def decode_step_model(model: Any) -> Any:
    """The decode-step Keras model of causal LM `model` (int token ids (T,) -> logits (T, V)):
    inputs token (1,), position (1,) and the caches; outputs logits (1, V) and each cache's
    next value (`<cache>_next`). ModelError when the model is not one it can step."""
    import keras

    if not hasattr(model, "_run_through_graph") or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError("a decode step needs a functional Keras model with one token-id input "
                         "and one output of logits at every position")
    x_in, y_out = model.inputs[0], model.outputs[0]
    if len(x_in.shape) != 2 or not x_in.shape[1] or "int" not in str(x_in.dtype) \
            or len(y_out.shape) != 3 or y_out.shape[1] != x_in.shape[1]:
        raise ModelError(f"model input {tuple(x_in.shape)} {x_in.dtype} and output {tuple(y_out.shape)} "
                         "are not a causal LM's (int token ids (T,) -> logits (T, vocabulary))")
    ctx = DecodeContext(int(x_in.shape[1]), keras.Input((1,), dtype="int32", name=POSITION))
    token = keras.Input((1,), dtype="int32", name=TOKEN)
    logits = model._run_through_graph([token], operation_fn=lambda op: _step_op(op, ctx))
    logits = logits[0] if isinstance(logits, (list, tuple)) else logits
    if not ctx.caches:
        raise ModelError("the model has no causal MultiHeadAttention: it has no KV cache to keep")
    step = keras.Model([token, ctx.position, *(past for _, past, _ in ctx.caches)],
                       [logits, *(now for _, _, now in ctx.caches)], name=f"{model.name}_step")
    # The names conversion gives the outputs (its signature): each cache's next value pairs
    # with its input as a state port.
    step.output_names = [LOGITS, *(name + STATE_SUFFIX for name, _, _ in ctx.caches)]
    return step


@dataclass(frozen=True)
class Stepper:
    """Runs a float decode-step model over whole sequences, all of them at once (the caches
    passed in and out, as Keras runs the step)."""

    step: Callable[[np.ndarray, np.ndarray, list[np.ndarray]], tuple[np.ndarray, list[np.ndarray]]]
    cache_shapes: list[tuple[int, ...]]

    def run(self, tokens: np.ndarray) -> np.ndarray:
        """Logits at every position of each sequence of `tokens` (N, T): (N, T, vocabulary)."""
        return np.stack(list(self.steps(tokens, keep=1.0, seed=0, outputs_only=True)), axis=1)

    def steps(self, tokens: np.ndarray, *, keep: float, seed: int,
              outputs_only: bool = False) -> Iterator[Any]:
        """Step every sequence of `tokens` at once, position by position: each step's logits, or
        (without outputs_only) a `keep` fraction of each step's inputs (token, position, caches)."""
        n, t_len = tokens.shape
        caches = [np.zeros((n, *s), np.float32) for s in self.cache_shapes]
        rng = np.random.default_rng(seed)
        for t in range(t_len):
            tok = tokens[:, t:t + 1].astype(np.int32)
            pos = np.full((n, 1), t, np.int32)
            logits, nxt = self.step(tok, pos, caches)
            if outputs_only:
                yield logits.reshape(n, -1)
            else:
                rows = rng.random(n) < keep
                yield [tok[rows], pos[rows], *(c[rows] for c in caches)]
            caches = nxt


def keras_stepper(step_model: Any) -> Stepper:
    """A Stepper over the float decode-step model."""
    def step(tok: np.ndarray, pos: np.ndarray, caches: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        out = step_model([tok, pos, *caches], training=False)  # logits, then the caches in input order
        return np.asarray(out[0]), [np.asarray(o) for o in out[1:]]

    return Stepper(step, [tuple(int(d) for d in i.shape[1:]) for i in step_model.inputs[2:]])


def step_calibration(step_model: Any, sequences: np.ndarray, samples: int, seed: int = 0) -> list[np.ndarray]:
    """Calibration inputs of the decode-step model, one array per input: steps drawn at random
    from running it over `sequences` (N, T), caches as the earlier tokens left them."""
    n, t_len = sequences.shape
    keep = min(1.0, samples / max(n * t_len, 1))
    parts = list(keras_stepper(step_model).steps(sequences, keep=keep, seed=seed))
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def is_decode_step(graph: Graph) -> bool:
    """Whether `graph` is a decode step: state ports, and inputs token and position."""
    return bool(graph.state) and [graph.io_name(i) for i in graph.inputs] == [TOKEN, POSITION]


@dataclass(frozen=True)
class SampleShapes:
    """One test sample as data files hold it for a model: each input's and output's shape
    without the sample axis. A decode step's sample is a whole sequence: its window model's
    shapes, token ids (T,) in and (T, ...) out, `steps` = T INFERs."""

    input_names: list[str]
    inputs: list[tuple[int, ...]]
    outputs: list[tuple[int, ...]]
    steps: int = 0

    @classmethod
    def of(cls, graph: Graph, where: str) -> SampleShapes:
        """The sample shapes of `graph`'s data (ModelError for state that is not a decode step's)."""
        names = [graph.io_name(i) for i in graph.inputs]
        if not graph.state:
            return cls(names, [t.sample_shape for t in graph.input_tensors],
                       [t.sample_shape for t in graph.output_tensors])
        if not is_decode_step(graph):
            raise ModelError(f"{where} carries state between invokes but is not a decode step (inputs "
                             f"token and position; it has {', '.join(names)}): edgekit cannot tell what "
                             "a test sample is")
        t = decode_context(graph)
        return cls([TOKEN], [(t,)], [(t, *_per_position(o.sample_shape)) for o in graph.output_tensors], steps=t)


def decode_context(graph: Graph) -> int:
    """The positions a decode step's cache holds: its state's rows (after a batch axis of 1)."""
    shape = graph.tensors[graph.state[0].input].shape
    return int(shape[1] if len(shape) > 2 and shape[0] == 1 else shape[0])


def _per_position(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A decode step's output shape at one position (without its length-1 position axis)."""
    return shape[1:] if len(shape) > 1 and shape[0] == 1 else shape


def run_sequences(interp: SteppedInterpreter, graph: Graph, tokens: np.ndarray) -> list[np.ndarray]:
    """A decode step (an int8 reference) over whole sequences of token ids (N, T): its state
    reset at each sequence's start, one step per position; each output at every position
    (N, T, ...), as the window model gives them."""
    if not is_decode_step(graph):
        raise ModelError("the model has state ports but is not a decode step (inputs token and "
                         f"position): it has inputs {', '.join(graph.io_name(i) for i in graph.inputs)}")
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise DataError(f"a decode step runs on sequences of token ids (samples, positions); the data "
                        f"has shape {tokens.shape}")
    shapes = [_per_position(t.sample_shape) for t in graph.output_tensors]
    per_seq = []
    for seq in tokens:
        interp.reset_state()
        steps = [interp.run_sample([np.full(interp.input_shapes[0], tok, np.int32),
                                    np.full(interp.input_shapes[1], t, np.int32)]) for t, tok in enumerate(seq)]
        per_seq.append([np.stack([st[j].reshape(shape) for st in steps]) for j, shape in enumerate(shapes)])
    return [np.stack([p[j] for p in per_seq]) for j in range(len(shapes))]


__all__ = ["DecodeContext", "SampleShapes", "Stepper", "decode_context", "decode_step_model", "is_decode_step",
           "keras_stepper", "run_sequences", "step_calibration"]

"""Decode-step fixtures for edgekit-rt's state ports: a one-layer transformer step (token,
position and its KV caches k0/v0 in; logits, k0_next, v0_next out: Graph.state pairs the
caches), and small models of the comparisons and SELECT_V2 on a condition computed at run time.

step_model's cache is updated as a decode step does, where(arange(T) == position, new row,
cache), with the scores masked where(arange(T) <= position, scores, -30); rolling=True keeps a
window instead (concat(cache[1:], new row)), an output edgekit-rt cannot compute in its array.
Converted models are cached on disk like sweep_models.build.
"""

from __future__ import annotations

import hashlib
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.model.tflite_graph import Graph


def _cached(cache_dir: Path, name: str, key: str, make: Callable[[], bytes]) -> bytes:
    import tensorflow as tf

    digest = hashlib.sha256(f"{key}|{inspect.getsource(_cached)}|{tf.__version__}".encode()).hexdigest()[:16]
    path = cache_dir / f"{name}-{digest}.tflite"
    if path.exists():
        return path.read_bytes()
    buf = make()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf)
    tmp.rename(path)
    return buf


def _convert(module: Any, sig: list[Any], rep: Callable[[], Any]) -> bytes:
    """Full-integer conversion of `module` (called with the signature's tensors, returning a dict
    of named outputs) through a SavedModel, whose output names the state ports need."""
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as d:
        if isinstance(module, keras.Model):
            archive = keras.export.ExportArchive()
            archive.track(module)
            archive.add_endpoint("serve", module.__call__, input_signature=sig)
            archive.write_out(d, verbose=False)
        else:
            tf.saved_model.save(module, d, signatures=tf.function(module.__call__, input_signature=sig))
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
        return conv.convert()


def step_model(cache_dir: Path, T: int = 8, D: int = 16, V: int = 24, H: int = 2,
               rolling: bool = False) -> bytes:
    """The int8 decode step described above (context T, width D, vocabulary V, H heads)."""
    def make() -> bytes:
        import keras
        import tensorflow as tf
        from keras import layers as L
        from keras import ops

        keras.utils.set_random_seed(7)

        class Step(keras.Model):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.tok, self.pos = L.Embedding(V, D), L.Embedding(T, D)
                self.tok.build((1,))
                self.pos.build((1,))
                self.q, self.k, self.v, self.o = L.Dense(D), L.Dense(D), L.Dense(D), L.Dense(D)
                self.f1, self.f2 = L.Dense(2 * D, activation="relu"), L.Dense(D)
                self.head = L.Dense(V)

            def call(self, token: Any, position: Any, k0: Any, v0: Any) -> dict[str, Any]:
                x = tf.gather(self.tok.embeddings, token) + tf.gather(self.pos.embeddings, position)
                q, k, v = self.q(x), self.k(x), self.v(x)
                if rolling:
                    keys, vals = ops.concatenate([k0[1:], k], 0), ops.concatenate([v0[1:], v], 0)
                else:
                    slot = ops.equal(ops.arange(T)[:, None], position)
                    keys, vals = ops.where(slot, k, k0), ops.where(slot, v, v0)
                qh = ops.reshape(q, (H, 1, D // H))
                kh = ops.transpose(ops.reshape(keys, (T, H, D // H)), (1, 2, 0))
                s = ops.matmul(qh, kh) / np.sqrt(D // H)
                s = ops.where(ops.arange(T) <= position, s, -30.0)
                a = ops.softmax(s, axis=-1)
                vh = ops.transpose(ops.reshape(vals, (T, H, D // H)), (1, 0, 2))
                x = x + self.o(ops.reshape(ops.matmul(a, vh), (1, D)))
                x = x + self.f2(self.f1(x))
                return {"logits": self.head(x), "k0_next": keys, "v0_next": vals}

        m = Step()
        zeros = np.zeros((T, D), np.float32)
        m(np.array([3], np.int32), np.array([0], np.int32), zeros, zeros)
        sig = [tf.TensorSpec([1], tf.int32, name="token"), tf.TensorSpec([1], tf.int32, name="position"),
               tf.TensorSpec([T, D], tf.float32, name="k0"), tf.TensorSpec([T, D], tf.float32, name="v0")]
        rng = np.random.default_rng(0)

        def rep() -> Any:
            for _ in range(30):
                kc, vc = zeros, zeros
                for p in range(T):
                    tok = np.array([rng.integers(0, V)], np.int32)
                    yield {"token": tok, "position": np.array([p], np.int32), "k0": kc, "v0": vc}
                    out = m(tok, np.array([p], np.int32), kc, vc)
                    kc, vc = out["k0_next"].numpy(), out["v0_next"].numpy()

        return _convert(m, sig, rep)

    return _cached(cache_dir, f"decode_step_{'rolling' if rolling else 'slot'}", f"{T}|{D}|{V}|{H}|"
                   + inspect.getsource(step_model), make)


# Comparison models: (name, fn(tf, x [T, D] float, pos [1] int32) -> [T, D]), each a SELECT_V2
# whose condition is computed at run time.
T_CMP, D_CMP = 6, 8
CompareFn = Callable[[Any, Any, Any], Any]


def _iota(op: str, pos_first: bool = False) -> CompareFn:
    def fn(tf: Any, x: Any, pos: Any) -> Any:
        iota = tf.range(T_CMP)[:, None]
        c = getattr(tf.math, op)(pos, iota) if pos_first else getattr(tf.math, op)(iota, pos)
        # The ADD after: the select's output in the arena, so it may run in place on its 'else'.
        return tf.where(c, x, x * 0.5 + 0.25) + 0.125
    return fn


def _logical(op: str) -> CompareFn:
    """Two masks of the position combined (a window around it, or its outside)."""
    def fn(tf: Any, x: Any, pos: Any) -> Any:
        iota = tf.range(T_CMP)[:, None]
        lo, hi = tf.math.less_equal(iota, pos), tf.math.greater(iota * 2, pos)
        c = getattr(tf.math, op)(lo, hi)
        return tf.where(c, x, x * 0.5 + 0.25) + 0.125
    return fn


def _int8_split(op: str, broadcast: bool = False) -> CompareFn:
    """int8 operands of one quantization (two halves of the input; broadcast: b's first row)."""
    def fn(tf: Any, x: Any, pos: Any) -> Any:
        a, b = x[:, : D_CMP // 2], x[:, D_CMP // 2:]
        c = getattr(tf.math, op)(a, b[:1] if broadcast else b)
        return tf.concat([tf.where(c, a, b), a], 1)
    return fn


def _int8_rescaled(tf: Any, x: Any, pos: Any) -> Any:
    """int8 operands of different quantizations: TFLM compares their rescaled values."""
    y = x * 0.37 + 0.2
    return tf.where(tf.math.less(x, y), x, y)


# iota_*: x and pos inputs; int8_*: x only (pos unused). Same-shape tf.where converts to
# SELECT (v1), which TFLM lacks: the test patches it to SELECT_V2 (same semantics).
COMPARE_SPECS: list[tuple[str, CompareFn]] = [
    *[(f"iota_{op}", _iota(op)) for op in ("equal", "not_equal", "less", "less_equal", "greater",
                                            "greater_equal")],
    ("iota_equal_pos_first", _iota("equal", pos_first=True)),
    ("iota_less_pos_first", _iota("less", pos_first=True)),
    *[(f"iota_{op}", _logical(op)) for op in ("logical_and", "logical_or")],
    ("int8_greater_equal", _int8_split("greater_equal")),
    ("int8_greater_broadcast", _int8_split("greater", broadcast=True)),
    ("int8_less_rescaled", _int8_rescaled),
]


def compare_model(cache_dir: Path, spec: tuple[str, CompareFn]) -> bytes:
    """The int8 model of a comparison spec: input x (int8 [T, D]), and pos (int32 [1]) for iota_*."""
    name, fn = spec
    with_pos = name.startswith("iota")

    def make() -> bytes:
        import tensorflow as tf

        class Module(tf.Module):  # type: ignore[misc]
            def __call__(self, x: Any, pos: Any = None) -> dict[str, Any]:
                return {"y": fn(tf, x, pos)}

        sig = [tf.TensorSpec([T_CMP, D_CMP], tf.float32, name="x")]
        sig += [tf.TensorSpec([1], tf.int32, name="pos")] if with_pos else []
        rng = np.random.default_rng(1)

        def rep() -> Any:
            for k in range(40):
                sample = {"x": rng.normal(0, 1, (T_CMP, D_CMP)).astype(np.float32)}
                yield {**sample, "pos": np.array([k % T_CMP], np.int32)} if with_pos else sample

        return _convert(Module(), sig, rep)

    return _cached(cache_dir, f"compare_{name}", name + inspect.getsource(fn), make)


def input_block(graph: Graph, values: list[np.ndarray]) -> np.ndarray:
    """One row of the model's input block (iotypes.io_offsets) holding each input's value."""
    offsets, nbytes = graph.io_block("input")
    row = np.zeros(nbytes, np.uint8)
    for off, t, v in zip(offsets, graph.input_tensors, values):
        raw = np.ascontiguousarray(v, dtype=np.dtype(t.dtype).newbyteorder("<")).view(np.uint8).reshape(-1)
        row[off:off + raw.size] = raw
    return row.view(np.int8)

"""Tiny recurrent int8 models for the edgekit-rt LSTM / GRU / STRIDED_SLICE / GATHER sweeps.

Keras 3 models quantized the way users' models are (the steps of edgekit.model.quantize's
conversion child, edgekit.model.convert_worker: the conversion twin makes an LSTM the fused
UNIDIRECTIONAL_SEQUENCE_LSTM, a GRU unrolled time steps, an Embedding a GATHER; then
convert_int8 and verify_int8). They are built in one child process (TensorFlow starts once,
not in the test process) and cached on disk (edgekit.resources.cache_dir) by spec, code and
TensorFlow/Keras version. Weights and calibration data are seeded per spec.

Keras 3 has no time_major=True LSTM: lstm_time_major is a converted Keras 3 LSTM whose
flatbuffer is rewritten to time-major (option and shapes). TFLM's published LSTM example
(tests/fixtures/tflm_lstm) is the model from outside edgekit.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from edgekit.resources import cache_dir as _cache_dir


@dataclass(frozen=True)
class RecSpec:
    """One model: [Embedding(vocab, in_dim) ->] LSTM(units) stack [-> Dense(dense)], or a
    time-step graph of another `kind` (see _OTHER in the child)."""

    name: str
    steps: int
    in_dim: int
    units: int
    return_sequences: bool = True
    layers: int = 1
    dense: int = 0            # a Dense head after the (last) LSTM
    vocab: int = 0            # > 0: int32 token-id input through an Embedding (GATHER)
    input_scale: float = 1.0  # std of the calibration data (moves the input/cell scales)
    bias_std: float = 0.3     # random biases so the folded-bias paths are exercised
    kind: str = "lstm"
    time_major: bool = False  # rewrite the converted LSTM to time-major [T, 1, F] (see the child)


SPECS: tuple[RecSpec, ...] = (
    RecSpec("lstm_seq_t5_f3_u4", 5, 3, 4),
    RecSpec("lstm_time_major", 4, 3, 6, time_major=True),
    RecSpec("lstm_stacked_last", 7, 2, 8, return_sequences=False, layers=2),
    RecSpec("lstm_wide_scale", 8, 6, 12, input_scale=6.0, bias_std=1.0),
    RecSpec("lstm_dense_head", 10, 3, 16, return_sequences=False, dense=5),
    RecSpec("lstm_37_units", 3, 5, 37),  # more units than one kernel chunk (32), odd rows
    RecSpec("embed_lstm_dense", 6, 8, 10, return_sequences=False, dense=12, vocab=30),
    # The time-step ops of unrolled GRU / Bidirectional twins (issue 11 op list).
    RecSpec("gru_unpack_pack", 5, 3, 4, kind="gru"),                  # UNPACK, FC, ..., PACK
    RecSpec("bilstm_time_reverse", 4, 5, 3, kind="bilstm"),           # GATHER along time
    RecSpec("strided_slices_concat", 7, 4, 4, kind="slices"),         # steps, negative strides
)

_CHILD = r"""
import json, os, sys
import numpy as np
from edgekit.model import recurrent
from edgekit.model.keras_io import import_tensorflow
from edgekit.model.quantize import convert_int8, verify_int8
from edgekit.model.tflite_graph import parse_graph

tf = import_tensorflow()
import keras
L = keras.layers


def slices_model(s):
    # A plain tf.function (no Keras layer makes these slices): steps, a negative stride, masks.
    spec = tf.TensorSpec((1, s["steps"], s["in_dim"]), tf.float32)

    @tf.function(input_signature=[spec])
    def f(v):
        return tf.concat([v[:, 1:6:2, ::-1], v[:, -3:, :] + v[:, :3, :]], axis=-1)

    return f


def convert_function(f, calib):
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([c[None]] for c in calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def keras_model(s):
    if s["vocab"]:
        inp = keras.Input((s["steps"],), dtype="int32")
        x = L.Embedding(s["vocab"], s["in_dim"])(inp)
    else:
        inp = keras.Input((s["steps"], s["in_dim"]))
        x = inp
    if s["kind"] == "gru":
        x = L.GRU(s["units"], return_sequences=True)(x)
    elif s["kind"] == "bilstm":
        x = L.Bidirectional(L.LSTM(s["units"], return_sequences=True))(x)
    for k in range(s["layers"] if s["kind"] == "lstm" else 0):
        last = k == s["layers"] - 1
        x = L.LSTM(s["units"], return_sequences=s["return_sequences"] or not last)(x)
    if s["dense"]:
        x = L.Dense(s["dense"])(x)
    return keras.Model(inp, x)


def convert(s, seed):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    if s["vocab"]:
        calib = rng.integers(0, s["vocab"], (64, s["steps"])).astype(np.int32)
    else:
        calib = rng.normal(0, s["input_scale"], (64, s["steps"], s["in_dim"])).astype(np.float32)
    if s["kind"] == "slices":
        return convert_function(slices_model(s), calib)
    model = keras_model(s)
    for layer in model.layers:
        for sub in [layer.forward_layer, layer.backward_layer] if hasattr(layer, "forward_layer") else [layer]:
            ws = sub.get_weights()
            if ws and isinstance(sub, (L.LSTM, L.GRU, L.Dense)):
                ws[-1] = rng.normal(0, s["bias_std"], ws[-1].shape).astype(np.float32)
                sub.set_weights(ws)
    buf = quantize(model, calib.astype(np.float32), s["name"])
    return to_time_major(buf) if s["time_major"] else buf


def to_time_major(buf):
    # Keras 3 has no time-major LSTM: set the option and make the sequence tensors [T, 1, F].
    # With batch 1 the bytes are laid out the same; TFLM (the reference) reads the new shapes.
    from tensorflow.lite.tools import flatbuffer_utils as fu

    m = fu.read_model_from_bytearray(bytearray(buf))
    sg = m.subgraphs[0]
    (op,) = sg.operators
    op.builtinOptions.timeMajor = True
    for t in (op.inputs[0], op.outputs[0]):
        shape = sg.tensors[t].shape
        sg.tensors[t].shape = [shape[1], shape[0], *shape[2:]]
        if sg.tensors[t].shapeSignature is not None:
            sg.tensors[t].shapeSignature = list(sg.tensors[t].shape)
    return bytes(fu.convert_object_to_bytearray(m))


def quantize(model, calib, where):
    # What quantize_model's child (edgekit.model.convert_worker) does, without a process per model.
    twin = recurrent.build_twin(model, where)
    recurrent.check_twin(model, twin, calib, where)
    buf = convert_int8(twin.model, calib, where=where, input_dtype=twin.input_dtype)
    verify_int8(parse_graph(buf), where)
    return buf


for job in json.loads(sys.argv[1]):
    buf = convert(job["spec"], job["seed"])
    tmp = job["path"] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf)
    os.replace(tmp, job["path"])
"""


def default_cache() -> Path:
    """Where the models are kept between runs (edgekit's cache, like the benchmark models)."""
    return _cache_dir("test-recurrent-models")


def _key(spec: RecSpec) -> str:
    from importlib.metadata import version

    model_dir = Path(__file__).resolve().parents[2] / "edgekit" / "model"
    code = "".join((model_dir / f).read_text() for f in ("quantize.py", "recurrent.py", "recurrent_layers.py",
                                                        "convert_worker.py"))
    raw = json.dumps(asdict(spec), sort_keys=True) + _CHILD + code + version("tensorflow") + version("keras")
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _path(spec: RecSpec, cache_dir: Path) -> Path:
    return cache_dir / f"{spec.name}-{_key(spec)}.tflite"


def build_all(specs: tuple[RecSpec, ...], cache_dir: Path) -> None:
    """Convert every spec not cached yet, in one child process (TensorFlow starts once)."""
    jobs = [{"spec": asdict(s), "path": str(_path(s, cache_dir)),
             "seed": int(hashlib.sha256(s.name.encode()).hexdigest()[:8], 16) % (2**31)}
            for s in specs if not _path(s, cache_dir).exists()]
    if not jobs:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(jobs)], capture_output=True,
                         timeout=900)
    if res.returncode != 0:
        raise AssertionError(f"building the recurrent models failed:\n{res.stderr.decode()[-3000:]}")


def build(spec: RecSpec, cache_dir: Path | None = None) -> bytes:
    """The converted model of `spec` (every spec is built on the first call, then cached)."""
    cache_dir = cache_dir or default_cache()
    if not _path(spec, cache_dir).exists():
        build_all(SPECS if spec in SPECS else (spec,), cache_dir)
    return _path(spec, cache_dir).read_bytes()

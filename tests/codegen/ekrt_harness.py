"""Build generated edgekit-rt C with the host compiler and compare it with tflite_micro."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

from edgekit.codegen import compile_model, kernel_headers, kernel_include_dir, kernel_sources
from edgekit.model.tflite_graph import Graph, parse_graph

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1"]

DRIVER = r"""
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include "edgekit_model.h"

/* 4-byte aligned, as the model API asks: int32 and int16 inputs, int16 outputs. */
static int32_t in_words[(EDGEKIT_MODEL_INPUT_BYTES + 3) / 4];
#define in_buf ((int8_t *)in_words)
static int32_t out_words[(EDGEKIT_MODEL_OUTPUT_BYTES + 3) / 4];
#define out_buf ((int8_t *)out_words)

int main(void)
{
    /* EKRT_KEEP_STATE set: one sequence continued across inputs (streaming state). */
    int keep = getenv("EKRT_KEEP_STATE") != NULL;
    if (edgekit_model_init() != 0) {
        return 2;
    }
    while (fread(in_buf, 1, EDGEKIT_MODEL_INPUT_BYTES, stdin) == EDGEKIT_MODEL_INPUT_BYTES) {
        if (!keep) {
            edgekit_model_reset(); /* every input is an independent sequence */
        }
        if (edgekit_model_invoke(in_buf, out_buf) != 0) {
            return 3;
        }
        fwrite(out_buf, 1, EDGEKIT_MODEL_OUTPUT_BYTES, stdout);
    }
    return 0;
}
"""


def _gcc(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"host build failed:\n{' '.join(cmd)}\n{res.stderr[-4000:]}")


def _kernel_objects(workdir: Path, extra_flags: list[str]) -> list[Path]:
    """The kernel library compiled once per (flags, kernel sources) into workdir, so each
    model's build compiles only its own generated file and the driver."""
    h = hashlib.sha256(repr(extra_flags).encode())
    for src in kernel_sources() + kernel_headers():
        h.update(src.read_bytes())
    d = workdir / f"kernels-{h.hexdigest()[:16]}"
    srcs = [p for p in kernel_sources() if p.suffix == ".c"]
    objs = [d / f"{p.stem}.o" for p in srcs]
    if all(o.exists() for o in objs):
        return objs
    d.mkdir(parents=True, exist_ok=True)
    for src, obj in zip(srcs, objs):
        tmp = obj.with_suffix(f".{os.getpid()}.tmp")
        _gcc(["gcc", *CFLAGS, *extra_flags, "-I", str(kernel_include_dir()), "-c", str(src),
              "-o", str(tmp)])
        tmp.rename(obj)
    return objs


def build_host(tflite: bytes, workdir: Path, extra_flags: list[str] | None = None, speed: bool = False) -> Path:
    """Generate (speed: generate --optimize speed), compile and link the model with the
    stdin/stdout driver; returns the exe."""
    graph = parse_graph(tflite)
    files = compile_model(graph, speed).sources()
    flags = list(extra_flags or [])
    objs = _kernel_objects(workdir, flags)
    h = hashlib.sha256(repr(flags).encode() + objs[0].parent.name.encode())
    for name in sorted(files):
        h.update(files[name].encode())
    d = workdir / h.hexdigest()[:16]
    exe = d / "model"
    if exe.exists():
        return exe
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "driver.c").write_text(DRIVER)
    _gcc(["gcc", *CFLAGS, *flags, "-I", str(d), "-I", str(kernel_include_dir()),
          str(d / "driver.c"), str(d / "edgekit_model.c"), *map(str, objs), "-o", str(exe)])
    return exe


def run_host(exe: Path, inputs: np.ndarray, keep_state: bool = False) -> np.ndarray:
    """inputs: (n, input elements) int8 (or the model's uint8, int16, int32 input type) ->
    (n, output_bytes) int8, the output's bytes. keep_state: no reset between inputs
    (recurrent state carried over)."""
    wire = {"int32": "<i4", "int16": "<i2", "uint8": "u1", "float32": "<f4"}.get(inputs.dtype.name, "i1")
    data = np.ascontiguousarray(inputs).astype(wire).tobytes()
    env = dict(os.environ, EKRT_KEEP_STATE="1") if keep_state else None
    res = subprocess.run([str(exe)], input=data, capture_output=True, timeout=300, env=env)
    assert res.returncode == 0, f"model exe exited {res.returncode}: {res.stderr[:500]!r}"
    return np.frombuffer(res.stdout, dtype=np.int8).reshape(len(inputs), -1)


def run_tflm(tflite: bytes, inputs: np.ndarray, keep_state: bool = False,
             arena_size: int | None = None) -> np.ndarray:
    """inputs: one row per invoke, the first input's elements, or for a model of several
    inputs the bytes of the input block (iotypes.io_offsets). Returns the output block's bytes.
    arena_size: TFLM's arena when its default is too small (larger 16x8 models)."""
    from tflite_micro.python.tflite_micro import runtime

    graph = parse_graph(tflite)
    it = (runtime.Interpreter.from_bytes(tflite) if arena_size is None
          else runtime.Interpreter.from_bytes(tflite, arena_size=arena_size))
    in_offsets, _ = graph.io_block("input")
    out_offsets, out_bytes = graph.io_block("output")
    outs = []
    for row in inputs:
        if not keep_state:
            it.reset()  # variable tensors (LSTM state) to their initial values, as the C driver
        for k, off in enumerate(in_offsets):
            details = it.get_input_details(k)
            if len(in_offsets) == 1:
                value = row.reshape(details["shape"]).astype(details["dtype"])
            else:
                t = graph.input_tensors[k]
                raw = np.ascontiguousarray(row).view(np.uint8)[off:off + t.nbytes].tobytes()
                value = np.frombuffer(raw, np.dtype(t.dtype).newbyteorder("<")).reshape(details["shape"])
            it.set_input(value, k)
        it.invoke()
        # The outputs' bytes (little-endian) at their block offsets, as run_host returns them.
        block = np.zeros(out_bytes, np.int8)
        for k, off in enumerate(out_offsets):
            out = np.ascontiguousarray(it.get_output(k))
            raw = np.frombuffer(out.astype(out.dtype.newbyteorder("<")).tobytes(), np.int8)
            block[off:off + raw.size] = raw
        outs.append(block)
    return np.stack(outs)


def test_inputs(n_in: int, n_random: int, seed: int = 0) -> np.ndarray:
    """Extremes (-128, 127, 0, alternating) plus uniformly random int8 vectors."""
    rng = np.random.default_rng(seed)
    fixed = [np.full(n_in, -128), np.full(n_in, 127), np.zeros(n_in),
             np.resize([-128, 127], n_in), np.resize([127, -128, 0], n_in)]
    rand = rng.integers(-128, 128, size=(n_random, n_in))
    return np.concatenate([np.stack(fixed), rand]).astype(np.int8)


def float_test_inputs(graph: Graph, n_random: int, seed: int = 0) -> np.ndarray:
    """For a float32 input (an integer model's QUANTIZE in): the int8 extremes and beyond,
    values exactly half an LSB apart from two codes (rounding ties), -0.0, and random reals
    over the quantized range."""
    q = graph.edge_quantized(graph.inputs[0])
    assert q is not None
    n_in = graph.input_tensors[0].size
    s, zp = np.float32(q.scale), q.zero_point
    rng = np.random.default_rng(seed)
    codes = rng.integers(-128, 128, size=n_in)
    fixed = [(-128 - zp) * s, (127 - zp) * s, (-200 - zp) * s * np.ones(n_in),
             (300 - zp) * s * np.ones(n_in), (codes - zp + 0.5) * s, (codes - zp - 0.5) * s,
             np.full(n_in, -0.0), (codes - zp) * s]
    rand = (rng.uniform(-128, 128, size=(n_random, n_in)) - zp) * s
    return np.concatenate([np.stack([np.resize(np.asarray(f, np.float64), n_in) for f in fixed]),
                           rand]).astype(np.float32)


def compare(tflite: bytes, workdir: Path, n_random: int = 60, seed: int = 0,
            extra_flags: list[str] | None = None, speed: bool = False) -> tuple[int, int]:
    """Returns (inputs compared, mismatching output bytes)."""
    graph = parse_graph(tflite)
    n_in = graph.input_tensors[0].size if len(graph.inputs) == 1 else graph.io_block("input")[1]
    if len(graph.inputs) == 1 and graph.input_tensors[0].dtype == "float32":
        xs = float_test_inputs(graph, n_random, seed)
    else:   # int8 elements, or the input block's bytes of several int8 inputs
        assert len(graph.inputs) == 1 or {t.dtype for t in graph.input_tensors} == {"int8"}
        xs = test_inputs(n_in, n_random, seed)
    exe = build_host(tflite, workdir, extra_flags, speed)
    got = run_host(exe, xs)
    want = run_tflm(tflite, xs)
    bad = int(np.count_nonzero(got != want))
    if bad:
        rows = np.nonzero((got != want).any(axis=1))[0]
        r = rows[0]
        diff = np.abs(got[r].astype(int) - want[r].astype(int)).max()
        raise AssertionError(f"{bad} mismatching bytes in {len(rows)}/{len(xs)} inputs; first "
                             f"input #{r}: max diff {diff}\n got  {got[r][:16]}\n want "
                             f"{want[r][:16]}")
    return len(xs), bad


# The benchmark models (sine, ds_cnn_kws, ad_autoencoder) of edgekit.model.zoo, as committed in
# tests/fixtures/models: SHARED_MODELS / f"{name}.tflite" is that model's file.
SHARED_MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "models"


def shared_model(name: str) -> bytes:
    """Bytes of benchmark model `name`."""
    return (SHARED_MODELS / f"{name}.tflite").read_bytes()


def workdir_default() -> Path:
    return Path(os.environ.get("EKRT_TEST_DIR", "/tmp/ekrt_tests"))

"""edgekit-rt's recurrent kernels (UNIDIRECTIONAL_SEQUENCE_LSTM, STRIDED_SLICE, GATHER) are
bit-exact with the TFLM reference kernels (tflite_micro), with TFLM's state semantics.

The models are Keras 3 LSTM / GRU / Embedding models quantized through edgekit.model.quantize
(the conversion twin makes the fused op; recurrent_models.py).
Generated C is built with the host gcc (-Wall -Wextra -Werror -pedantic), with and without
ASan/UBSan, and compared byte for byte on extreme and random inputs.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

import ekrt_harness as H
import recurrent_models as R
from ekrt_harness import build_host, compare, run_host, run_tflm

from edgekit.codegen import compile_model
from edgekit.errors import ModelError
from edgekit.model.tflite_graph import parse_graph

pytestmark = [pytest.mark.tf]

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
LSTM_SPECS = [s for s in R.SPECS if s.kind == "lstm" and not s.vocab]
STEP_SPECS = [s for s in R.SPECS if s.kind != "lstm"]
EMBED = next(s for s in R.SPECS if s.vocab)


def _spec(name: str) -> R.RecSpec:
    return next(s for s in R.SPECS if s.name == name)


@pytest.mark.parametrize("spec", LSTM_SPECS, ids=[s.name for s in LSTM_SPECS])
def test_lstm_sweep_bit_exact(spec: R.RecSpec, ekrt_build_dir: Path) -> None:
    tflite = R.build(spec)
    ops = [op.op for op in parse_graph(tflite).operators]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops
    assert ("STRIDED_SLICE" in ops) == (not spec.return_sequences)
    n, bad = compare(tflite, ekrt_build_dir, n_random=60, seed=7)
    assert bad == 0


@pytest.mark.parametrize("spec", STEP_SPECS, ids=[s.name for s in STEP_SPECS])
def test_time_step_ops_bit_exact(spec: R.RecSpec, ekrt_build_dir: Path) -> None:
    """UNPACK, PACK, GATHER along time (constant indices), STRIDED_SLICE with steps, negative
    strides and masks: the ops unrolled GRU and Bidirectional twins emit."""
    tflite = R.build(spec)
    ops = {op.op for op in parse_graph(tflite).operators}
    assert ops & {"UNPACK", "PACK", "GATHER", "STRIDED_SLICE"}
    n, bad = compare(tflite, ekrt_build_dir, n_random=60, seed=8)
    assert bad == 0


@pytest.mark.parametrize("name", ["lstm_stacked_last", "gru_unpack_pack"])
def test_lstm_clean_under_sanitizers(name: str, ekrt_build_dir: Path) -> None:
    """No out-of-bounds access or undefined behaviour (ASan + UBSan), still bit-exact."""
    n, bad = compare(R.build(_spec(name)), ekrt_build_dir, n_random=8, seed=3,
                     extra_flags=SANITIZE)
    assert bad == 0


def test_state_carried_across_invokes_like_tflm(ekrt_build_dir: Path) -> None:
    """Without a reset the state continues from the last invoke, as TFLM's variable tensors
    do; {prefix}_reset() makes every invoke an independent sequence again."""
    tflite = R.build(_spec("lstm_seq_t5_f3_u4"))
    xs = H.test_inputs(parse_graph(tflite).input_tensors[0].size, 10, seed=11)
    exe = build_host(tflite, ekrt_build_dir)
    kept = run_host(exe, xs, keep_state=True)
    assert np.array_equal(kept, run_tflm(tflite, xs, keep_state=True))
    fresh = run_host(exe, xs)
    assert np.array_equal(fresh, run_tflm(tflite, xs))
    assert np.array_equal(kept[0], fresh[0]) and not np.array_equal(kept[1:], fresh[1:])


def _tokens(vocab: int, steps: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fixed = [np.zeros(steps), np.full(steps, vocab - 1), np.arange(steps) % vocab]
    return np.concatenate([np.stack(fixed), rng.integers(0, vocab, (n, steps))]).astype(np.int32)


@pytest.mark.parametrize("flags", [[], SANITIZE], ids=["plain", "sanitized"])
def test_embedding_gather_lstm_bit_exact(flags: list[str],
                                         ekrt_build_dir: Path) -> None:
    """int32 token ids in, GATHER from the int8 table, LSTM, last step, Dense: exact."""
    tflite = R.build(EMBED)
    graph = parse_graph(tflite)
    assert graph.input_tensors[0].dtype == "int32"
    assert [op.op for op in graph.operators][0] == "GATHER"
    xs = _tokens(EMBED.vocab, EMBED.steps, 40 if not flags else 6, seed=5)
    exe = build_host(tflite, ekrt_build_dir, flags or None)
    assert np.array_equal(run_host(exe, xs), run_tflm(tflite, xs))


def test_gather_index_out_of_range_fails_the_invoke(ekrt_build_dir: Path) -> None:
    """TFLM reads outside the table for a bad token id; edgekit-rt refuses (invoke returns -5)."""
    tflite = R.build(EMBED)
    exe = build_host(tflite, ekrt_build_dir, SANITIZE)
    for bad in (EMBED.vocab, -1):
        ids = np.zeros(EMBED.steps, dtype="<i4")
        ids[2] = bad
        res = subprocess.run([str(exe)], input=ids.tobytes(), capture_output=True, timeout=60)
        assert res.returncode == 3 and res.stdout == b""


def test_lstm_state_outside_the_arena() -> None:
    """Hidden (int8) and cell (int16) state get static arrays of their own, reset by
    edgekit_model_reset() (hidden to its zero point), and are counted in state_bytes."""
    spec = _spec("lstm_stacked_last")
    compiled = compile_model(parse_graph(R.build(spec)))
    src = compiled.sources()["edgekit_model.c"]
    assert src.count("static int8_t op") == 2 and src.count("static int16_t op") == 2
    assert "void edgekit_model_reset(void)" in src and src.count("ekrt_lstm_reset(&op") == 2
    assert "void edgekit_model_reset(void);" in compiled.sources()["edgekit_model.h"]
    assert compiled.summary.state_bytes == 2 * 3 * spec.units
    assert compiled.summary.to_dict()["state_bytes"] == 2 * 3 * spec.units


def _patched(graph, op_index: int, **changes):
    ops = list(graph.operators)
    ops[op_index] = dataclasses.replace(ops[op_index], **changes)
    return dataclasses.replace(graph, operators=ops)


@pytest.mark.parametrize("slot,what", [(9, "peephole"), (16, "projection"), (20, "layer norm")])
def test_lstm_variants_refused_naming_the_op(slot: int, what: str) -> None:
    graph = parse_graph(R.build(_spec("lstm_seq_t5_f3_u4")))
    op = graph.operators[0]
    inputs = list(op.inputs)
    inputs[slot] = inputs[1]
    with pytest.raises(ModelError) as err:
        compile_model(_patched(graph, 0, inputs=tuple(inputs)))
    msg = str(err.value)
    assert "operator 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)" in msg and what in msg


def test_lstm_batch_above_one_refused() -> None:
    graph = parse_graph(R.build(_spec("lstm_time_major")))
    opts = dict(graph.operators[0].options, time_major=False)  # [4, 1, 3] read as batch 4
    with pytest.raises(ModelError, match=r"UNIDIRECTIONAL_SEQUENCE_LSTM.*batch 4"):
        compile_model(_patched(graph, 0, options=opts))


@pytest.mark.tflm
def test_tflm_resolver_names_match_tflm(tflm_tree) -> None:
    """The tflm glue registers every builtin by its MicroMutableOpResolver method: the
    CamelCase rule and its exceptions (AddUnidirectionalSequenceLSTM, AddPadV2...)."""
    import re

    from edgekit.runtimes.tflm.code import resolver_method

    header = (tflm_tree("ref") / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    checked = 0
    for body in header.split("TfLiteStatus ")[1:]:
        m = re.match(r"(Add\w+)\(", body)
        op = re.search(r"return AddBuiltin\(\s*BuiltinOperator_(\w+)", body)
        if m and op and op.group(1) != "CUSTOM":
            assert resolver_method(op.group(1)) == m.group(1)
            checked += 1
    assert checked > 80 and resolver_method("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"


def test_host_reference_resets_state_per_sample() -> None:
    """edgekit's host reference (int8_interpreter, tflm backend) treats every sample as an
    independent sequence, like the firmware: the same input twice gives the same output."""
    from edgekit.model.reference import int8_interpreter

    tflite = R.build(_spec("lstm_seq_t5_f3_u4"))
    graph = parse_graph(tflite)
    x = H.test_inputs(graph.input_tensors[0].size, 1, seed=12)[-1]
    it = int8_interpreter(tflite, graph, backend="tflm")
    y = it.run(np.stack([x, x, x]).reshape((3,) + graph.input_tensors[0].shape[1:]))
    assert np.array_equal(y[0], y[1]) and np.array_equal(y[1], y[2])
    assert np.array_equal(y[0].reshape(-1), run_tflm(tflite, x[None])[0])

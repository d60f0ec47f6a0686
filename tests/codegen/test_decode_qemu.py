"""A causal LM's decode step on the emulated Cortex-M4F (edgekit-rt): the KV caches stay on the
device between INFERs (state ports in static RAM, counted in the board fit), a soft RESET starts
a sequence, and every step's logits equal the host reference's stepping the same tokens; then
`complete` token by token and `hil` on whole sequences."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.hil.board_link import open_session
from edgekit.hil.complete import Sampling
from edgekit.model.modelio import ModelIO
from edgekit.model.reference import int8_interpreter
from edgekit.model.vocab import PAD, RESERVED, UNK, VOCAB_FILE, Vocabulary
from edgekit.project.manifest import open_project
from tests.conftest import import_keras, run_cli
from tests.model.causal_lms import DIM, VOCAB, T, trained_lm

pytest.importorskip("tflite_micro")

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]

BOARD = "qemu-netduinoplus2"


def test_decode_step_deploys_and_runs_exact_on_the_virtual_board_with_its_cache_on_the_device(tmp_path: Path) -> None:
    from edgekit.model.tflite_graph import load_graph

    model, (x_train, _), (x_test, y_test) = trained_lm(import_keras(), epochs=2)
    model.save(tmp_path / "lm.keras")
    np.savez(tmp_path / "data.npz", x_train=x_train[:200], x_test=x_test[:4], y_test=y_test[:4])
    dep = tmp_path / "dep"
    dep.mkdir()
    Vocabulary(RESERVED + tuple(f"w{i}" for i in range(3, VOCAB))).save(dep / VOCAB_FILE)

    # `deploy --decode`: the decode step quantized, generated, built and validated with `hil` on
    # whole test sequences (a soft RESET and one INFER per position, every logit the host
    # reference's, scored per position, latency per token).
    r = run_cli("deploy", tmp_path / "lm.keras", "--data", tmp_path / "data.npz", "--decode", "-o", dep,
                "--require-exact", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    hil = json.loads(r.stdout)["hil"]
    assert hil["decode_steps"] == T and hil["samples_measured"] == 4
    assert hil["agreement"]["exact_share"] == 1.0
    assert hil["task"]["metric"] == "accuracy" and hil["task"]["device"] == hil["task"]["host_int8"]
    tflite = (dep / "model.tflite").read_bytes()
    graph = load_graph(dep / "model.tflite")
    assert len(graph.state) == 4    # k and v of two layers

    r = run_cli("generate", dep / "model.tflite", "--board", BOARD, "-o", tmp_path / "fit", "--json")
    assert r.returncode == 0, r.stderr
    fit = json.loads(r.stdout)
    assert fit["ram_estimate"] >= fit["arena_bytes"] + 4 * T * DIM  # the caches, int8

    project = open_project(dep / "firmware-qemu-netduinoplus2")
    io = ModelIO.of(project.graph)
    assert io.input_bytes == 8 and io.output_bytes == project.graph.output_tensors[0].nbytes
    host = int8_interpreter(tflite, graph)
    with ExitStack() as stack:
        session, _ = open_session(stack, load_board(BOARD), port=None, project=project)
        session.connect()
        for seq in x_test[:3]:
            session.reset()          # a new sequence: the caches back to zero on the device
            host.reset_state()       # and on the host
            for t, token in enumerate(seq):
                xs = [np.array([[token]], np.int32), np.array([[t]], np.int32)]
                out, cycles = session.infer_block(io.pack(xs)[0].tobytes())
                want = host.run_sample(xs)[0]
                assert cycles > 0
                assert np.array_equal(io.unpack(out)[0].reshape(-1), want.reshape(-1)), (t, seq)

    # `complete` goes token by token: the prompt read into the cache, then one INFER per word,
    # each word the host reference's choice after the same steps: greedy, then drawn (seeded)
    # with the same draw on the host's scores.
    out = graph.output_tensors[0]
    for sampling in (Sampling(), Sampling(temperature=1.5, top_k=4, seed=11)):
        r = run_cli("complete", dep / "firmware-qemu-netduinoplus2", "--prompt", "w5 w6", "--words", "6",
                    "--temperature", sampling.temperature, "--top-k", sampling.top_k, "--seed", sampling.seed,
                    "--json")
        assert r.returncode == 0, r.stderr
        done = json.loads(r.stdout)
        assert done["prompt_cycles"] > 0 and done["words_per_second"] > 0
        host.reset_state()
        choose = sampling.chooser(out.scale)
        ids = [5, 6]
        scores = [host.run_sample([np.array([[tok]], np.int32), np.array([[t]], np.int32)])[0]
                  for t, tok in enumerate(ids)][-1]
        for w in done["words"]:
            s = scores.reshape(-1).astype(np.int64)
            s[[PAD, UNK]] = np.iinfo(np.int64).min
            assert w["token_id"] == choose(s), (sampling, ids, w)
            ids.append(w["token_id"])
            scores = host.run_sample([np.array([[ids[-1]]], np.int32), np.array([[len(ids) - 1]], np.int32)])[0]
        assert len(done["words"]) == 6 and done["stopped"] == "word limit"
    # an empty prompt given is refused, not replaced by the example's own
    r = run_cli("complete", dep / "firmware-qemu-netduinoplus2", "--prompt", "")
    assert r.returncode == 2 and "the prompt has no words" in r.stderr, r.stderr

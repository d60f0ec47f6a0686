"""A Keras 3 causal language model (token and position embeddings in a layer of the user's, as
Keras' examples write it, a pre-LN block with causal MultiHeadAttention and a Dense(gelu)
feed-forward, a final LayerNormalization, logits over the vocabulary at every position), trained
on a synthetic token rule with a next-token label at every position: `quantize` scores it per
position (top-1/top-3 over every position), and
`hil --require-exact` (the task inferred from the labels) runs it on edgekit-rt on the emulated
Cortex-M4F, every logit equal to the host reference, the device's accuracy per position equal to
the host's; `complete` generates with it word by word, each word the host reference's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.model.reference import int8_interpreter
from edgekit.model.tflite_graph import load_graph
from edgekit.model.vocab import PAD, RESERVED, UNK, VOCAB_FILE, Vocabulary
from tests.conftest import import_keras, run_cli

pytest.importorskip("tflite_micro")

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]

T, VOCAB, DIM = 12, 24, 16

# Token and position embeddings as Keras' own transformer examples write them: two Embeddings
# inside a layer of the user's, positions from keras.ops.arange (keras_plain.plain_take: the token
# lookup converts to one GATHER, not Keras' negative-index wrap that no int8 runtime runs).
LAYERS_PY = '''
import keras
from keras import layers, ops


@keras.saving.register_keras_serializable("causal_lm_test")
class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        positions = self.pos_emb(ops.arange(0, ops.shape(x)[-1], 1))
        return self.token_emb(x) + positions

    def get_config(self):
        return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim}
'''


def _sequences(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Over the words 3..VOCAB-1 (ids 0-2 are pad, unknown and end of sentence), each token the
    one after the one before it (counting on from a random start, wrapping), 10 % of tokens
    noise: (inputs, next tokens)."""
    words = VOCAB - 3
    s = np.zeros((n, T + 1), np.int32)
    s[:, 0] = rng.integers(0, words, n)
    for t in range(1, T + 1):
        s[:, t] = (s[:, t - 1] + 1) % words
    noise = rng.random(s.shape) < 0.1
    s[noise] = rng.integers(0, words, int(noise.sum()))
    s += 3
    return s[:, :-1], s[:, 1:].astype(np.int64)


def test_causal_lm_is_scored_per_position_and_exact_on_the_virtual_board(tmp_path: Path) -> None:
    keras = import_keras()
    L = keras.layers
    (tmp_path / "lm_layers.py").write_text(LAYERS_PY)
    namespace: dict = {}
    exec(compile(LAYERS_PY, str(tmp_path / "lm_layers.py"), "exec"), namespace)
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    (x_train, y_train), (x_test, y_test) = _sequences(rng, 1500), _sequences(rng, 100)
    inp = keras.Input((T,), dtype="int32", name="tokens")
    h = namespace["TokenAndPositionEmbedding"](T, VOCAB, DIM)(inp)
    a = L.LayerNormalization()(h)
    h = L.Add()([h, L.MultiHeadAttention(2, DIM // 2)(a, a, use_causal_mask=True)])
    f = L.LayerNormalization()(h)
    h = L.Add()([h, L.Dense(DIM)(L.Dense(2 * DIM, activation="gelu")(f))])
    model = keras.Model(inp, L.Dense(VOCAB, name="logits")(L.LayerNormalization()(h)))
    model.compile(optimizer=keras.optimizers.Adam(0.005),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=5, batch_size=64, verbose=0)
    model.save(tmp_path / "lm.keras")
    Vocabulary(RESERVED + tuple(f"w{i}" for i in range(3, VOCAB))).save(tmp_path / VOCAB_FILE)
    np.savez(tmp_path / "data.npz", x_train=x_train, y_train=y_train, x_calib=x_train[:100],
             x_test=x_test, y_test=y_test)

    r = run_cli("quantize", tmp_path / "lm.keras", "--calib", tmp_path / "data.npz", "--task", "next-word",
                "--custom-objects", tmp_path / "lm_layers.py", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["agreement"]["definition"] == "same predicted class at each position"
    # it learnt the rule (chance is 1/21), and int8 keeps it
    assert report["float_value"] > 0.7 and report["int8_value"] > report["float_value"] - 0.03, report

    np.savez(tmp_path / "test.npz", x_test=x_test[:8], y_test=y_test[:8])
    assert run_cli("generate", tmp_path / "lm.tflite", "--board", "qemu-netduinoplus2", "-o",
                   tmp_path / "fw").returncode == 0
    assert run_cli("build", tmp_path / "fw").returncode == 0
    r = run_cli("hil", tmp_path / "fw", "--data", tmp_path / "test.npz", "--runs", "2", "--require-exact",
                "--custom-objects", tmp_path / "lm_layers.py", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    hil = json.loads(r.stdout)
    assert hil["device"]["runtime"].startswith("edgekit-rt") and hil["agreement"]["exact_share"] == 1.0
    assert hil["host_reference"] == "tflm: GELU by LiteRT's reference kernel (TFLM has none)"
    task = hil["task"]   # inferred from the labels: a class per position
    assert task["metric"] == "accuracy" and task["device"] == task["host_int8"] > 0.7, task
    assert len(task["confusion"]) == VOCAB and sum(map(sum, task["confusion"])) == 8 * T

    # `complete` reads the scores at the last id given (the window right-padded), word by word,
    # each choice the host reference's on the same window.
    r = run_cli("complete", tmp_path / "fw", "--prompt", "w5 w9", "--words", "8", "--json")
    assert r.returncode == 0, r.stderr
    words = json.loads(r.stdout)["words"]
    assert len(words) == 8 and all(w["cycles"] > 0 for w in words)
    reference = int8_interpreter((tmp_path / "lm.tflite").read_bytes(), load_graph(tmp_path / "lm.tflite"))
    ids = [5, 9]
    for w in words:
        window = np.array([(ids + [PAD] * T)[-T:] if len(ids) >= T else ids + [PAD] * (T - len(ids))], np.int32)
        scores = reference.run(window).reshape(T, VOCAB)[min(len(ids), T) - 1].astype(np.int64)
        scores[[PAD, UNK]] = np.iinfo(np.int64).min
        assert w["token_id"] == int(np.argmax(scores)), (ids, w)
        ids.append(w["token_id"])
    # and it counts on
    assert sum(ids[i + 1] == 3 + (ids[i] - 3 + 1) % (VOCAB - 3) for i in range(1, 9)) >= 6, ids

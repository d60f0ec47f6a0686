"""A Keras 3 causal language model (token and position embeddings in a layer of the user's, as
Keras' examples write it, a pre-LN block with causal MultiHeadAttention and a Dense(gelu)
feed-forward, a final LayerNormalization, logits over the vocabulary at every position), trained
on a synthetic token rule with a next-token label at every position: `quantize` scores it per
position (top-1/top-3 over every position), and
`hil --require-exact` (the task inferred from the labels) runs it on edgekit-rt on the emulated
Cortex-M4F, every logit equal to the host reference, the device's accuracy per position equal to
the host's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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
    """Token t+1 = (3 * token t + token t-1) mod VOCAB, 10 % of tokens noise: (inputs, next tokens)."""
    s = np.zeros((n, T + 1), np.int32)
    s[:, :2] = rng.integers(0, VOCAB, (n, 2))
    for t in range(2, T + 1):
        s[:, t] = (3 * s[:, t - 1] + s[:, t - 2]) % VOCAB
    noise = rng.random(s.shape) < 0.1
    s[noise] = rng.integers(0, VOCAB, int(noise.sum()))
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
    np.savez(tmp_path / "data.npz", x_train=x_train, y_train=y_train, x_calib=x_train[:100],
             x_test=x_test, y_test=y_test)

    r = run_cli("quantize", tmp_path / "lm.keras", "--calib", tmp_path / "data.npz", "--task", "next-word",
                "--custom-objects", tmp_path / "lm_layers.py", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["agreement"]["definition"] == "same predicted class at each position"
    # it learnt the rule (chance is 1/24), and int8 keeps it
    assert report["float_value"] > 0.4 and report["int8_value"] > report["float_value"] - 0.03, report

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
    assert task["metric"] == "accuracy" and task["device"] == task["host_int8"] > 0.4, task
    assert len(task["confusion"]) == VOCAB and sum(map(sum, task["confusion"])) == 8 * T

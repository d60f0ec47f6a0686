"""A small Keras causal LM of edgekit's layers and the counting task it learns, for the decode-step
tests (tests/model/test_decode_quantize.py, tests/codegen/test_decode_qemu.py)."""

from __future__ import annotations

import numpy as np

T, VOCAB, DIM = 12, 20, 16


def counting(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Over the words 3..VOCAB-1 (ids 0-2 are pad, unknown and end of sentence), sequences that
    count on by one (wrapping), 10 % noise: (tokens, next tokens)."""
    words = VOCAB - 3
    s = (rng.integers(0, words, (n, 1)) + np.arange(T + 1)) % words
    noise = rng.random(s.shape) < 0.1
    s[noise] = rng.integers(0, words, int(noise.sum()))
    s += 3
    return s[:, :-1].astype(np.int32), s[:, 1:].astype(np.int64)


def causal_lm(keras, *, causal: bool = True, conv: bool = False):
    from edgekit.model.decode_layers import TokenAndPositionEmbedding

    L = keras.layers
    inp = keras.Input((T,), dtype="int32", name="tokens")
    x = TokenAndPositionEmbedding(T, VOCAB, DIM)(inp)
    if conv:
        x = L.Conv1D(DIM, 3, padding="causal")(x)
    for _ in range(2):  # pre-LN blocks, one written with layers, one with operators
        h = L.LayerNormalization()(x)
        x = L.Add()([x, L.MultiHeadAttention(2, DIM // 2)(h, h, use_causal_mask=causal)])
        x = x + L.Dense(DIM)(L.Dense(2 * DIM, activation="gelu")(L.LayerNormalization()(x)))
    return keras.Model(inp, L.Dense(VOCAB, name="logits")(L.LayerNormalization()(x)))


def trained_lm(keras, *, seed: int = 3, epochs: int = 4):
    """The causal LM trained on counting: (model, (x_train, y_train), (x_test, y_test))."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    train, test = counting(rng, 1500), counting(rng, 40)
    model = causal_lm(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.005),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*train, epochs=epochs, batch_size=64, verbose=0)
    return model, train, test

"""story: a tiny decoder-only transformer that writes children's stories, distilled from a larger
teacher.

The corpus is generated from a grammar (edgekit/examples/story_corpus.py), deterministic by seed,
with nothing downloaded. A byte-pair-encoding vocabulary of VOCAB tokens is learned on the
training stories (edgekit/model/vocab.py); each story with its end token gives two windows of
CONTEXT tokens, one from its start and one ending at its end, and the labels are the next token at
every position (a causal LM). The student has stories260K's shape (dim 64, 5 pre-LN blocks of
8-head causal attention and a GELU feed-forward of 172, ~0.27 M parameters), its embedding
edgekit's TokenAndPositionEmbedding so that `quantize --decode` can convert its decode step. A
teacher of the same design and about 9x the parameters is trained on the stories first; the
student then learns from the teacher's softened logits (keras.distillation) and the labels.
Task "next-word": top-1 accuracy per position, perplexity beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples._common import Example, rng
from edgekit.examples.story_corpus import make_stories
from edgekit.model.vocab import EOS, Vocabulary

if TYPE_CHECKING:  # pragma: no cover
    import keras

CONTEXT, VOCAB = 128, 512
N_TRAIN, N_TEST, N_CALIB = 1400, 40, 64   # stories; calibration windows
# Small batches: the step count, more than the tokens seen, is what these short runs lack.
BATCH = 8
EPOCHS = 1   # `edgekit train story` in about 5 minutes on two cores


@dataclass(frozen=True)
class Shape:
    """A transformer's size: width, blocks, attention heads, feed-forward width."""

    dim: int
    layers: int
    heads: int
    ffn: int


STUDENT = Shape(dim=64, layers=5, heads=8, ffn=172)     # stories260K's shape
TEACHER = Shape(dim=176, layers=6, heads=8, ffn=704)    # ~9x the student's parameters
TEMPERATURE = 2.0
# How much of the student's loss is the labels' cross-entropy; the rest is the teacher's logits.
LABEL_WEIGHT = 0.5
LEARNING_RATE = {"teacher": 4e-3, "student": 5e-3}


def windows(stories: list[list[int]], width: int = CONTEXT) -> tuple[np.ndarray, np.ndarray]:
    """Two windows per story of the stream of stories (each followed by EOS): one from its first
    token, one whose last label is its EOS (the one before it reaches into the story before);
    windows that would leave the stream are dropped. (x (N, width) int32, y (N, width) int64: the
    next token at each position.)"""
    stream = np.array([t for ids in stories for t in (*ids, EOS)], dtype=np.int64)
    ends = np.cumsum([len(ids) + 1 for ids in stories])   # one past each story's EOS
    starts = ends - np.array([len(ids) + 1 for ids in stories])
    firsts = np.stack([starts, ends - width - 1], axis=1).reshape(-1)
    firsts = firsts[(firsts >= 0) & (firsts + width + 1 <= len(stream))]
    rows = stream[firsts[:, None] + np.arange(width + 1)]
    return rows[:, :-1].astype(np.int32), rows[:, 1:]


def make_data(seed: int) -> dict[str, np.ndarray]:
    """Train and test stories (different streams of the seed), the BPE vocabulary learned on the
    training stories, and their windows.

    x_* int32 token ids (N, CONTEXT); y_* int64 next tokens (N, CONTEXT); "vocab" the tokens by id,
    "tokenizer" the tokenizer (JSON, a 0-d string array) that turns text into those ids."""
    train, test = make_stories(seed, N_TRAIN, 0), make_stories(seed, N_TEST, 1)
    vocab = Vocabulary.train_subword(train, VOCAB)
    x_train, y_train = windows([list(vocab.encode_text(s).ids) for s in train])
    x_test, y_test = windows([list(vocab.encode_text(s).ids) for s in test])
    calib = rng(seed, 7).choice(len(x_train), N_CALIB, replace=False)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "x_calib": x_train[calib], "vocab": np.array(vocab.words), "tokenizer": np.array(vocab.tokenizer)}


def build_model(shape: Shape, vocab_size: int = VOCAB, name: str = "story") -> keras.Model:
    """The untrained causal LM (benchmarks/bench_decode.py's design): token and position
    embedding, pre-LN blocks of causal self-attention and a GELU feed-forward, a final
    LayerNormalization, logits over the vocabulary."""
    import keras

    from edgekit.model.decode_layers import TokenAndPositionEmbedding

    L = keras.layers
    inp = keras.Input((CONTEXT,), dtype="int32", name="tokens")
    x = TokenAndPositionEmbedding(CONTEXT, vocab_size, shape.dim)(inp)
    for _ in range(shape.layers):
        h = L.LayerNormalization(epsilon=1e-5)(x)
        x = L.Add()([x, L.MultiHeadAttention(shape.heads, shape.dim // shape.heads)(h, h, use_causal_mask=True)])
        h = L.LayerNormalization(epsilon=1e-5)(x)
        x = L.Add()([x, L.Dense(shape.dim)(L.Dense(shape.ffn, activation="gelu")(h))])
    logits = L.Dense(vocab_size, name="logits")(L.LayerNormalization(epsilon=1e-5)(x))
    return keras.Model(inp, logits, name=name)


def _optimizer(learning_rate: float, n: int, epochs: int) -> keras.optimizers.Optimizer:
    """Adam, a linear warm-up over the first 5 % of the steps (attention is unstable early),
    then a cosine decay."""
    import keras

    steps = max(1, epochs * math.ceil(n / BATCH))
    warmup = max(1, steps // 20)
    lr = keras.optimizers.schedules.CosineDecay(learning_rate / 10, steps - warmup, alpha=0.05,
                                                warmup_target=learning_rate, warmup_steps=warmup)
    return keras.optimizers.Adam(lr)


def _labels_loss() -> keras.losses.Loss:
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def fit_alone(shape: Shape, data: dict[str, np.ndarray], epochs: int, seed: int, role: str) -> keras.Model:
    """A model of `shape` trained on the labels alone (the teacher; or the student without a
    teacher, to compare)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(shape, len(data["vocab"]), name=f"story_{role}")
    model.compile(optimizer=_optimizer(LEARNING_RATE[role], len(data["x_train"]), epochs), loss=_labels_loss())
    model.fit(data["x_train"], data["y_train"], batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)
    return model


def distil(teacher: keras.Model, data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """The student trained on the labels and on the teacher's logits softened by TEMPERATURE
    (KL divergence at every position, scaled by the temperature squared)."""
    import keras
    from keras.distillation import Distiller, LogitsDistillation

    keras.utils.set_random_seed(seed)
    student = build_model(STUDENT, len(data["vocab"]))
    # A KLDivergence instance, not the default "kl_divergence": Keras 3.15 resolves the string to the
    # plain function, which LogitsDistillation then applies to the logits instead of their softmax.
    soft = LogitsDistillation(temperature=TEMPERATURE, loss=keras.losses.KLDivergence())
    distiller = Distiller(teacher, student, soft, student_loss_weight=LABEL_WEIGHT)
    distiller.compile(optimizer=_optimizer(LEARNING_RATE["student"], len(data["x_train"]), epochs),
                      loss=_labels_loss())
    distiller.fit(data["x_train"], data["y_train"], batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)
    return student


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """The teacher trained on the stories for `epochs`, then the student distilled from it for
    `epochs`: the student (float, logits)."""
    return distil(fit_alone(TEACHER, data, epochs, seed, "teacher"), data, epochs, seed + 1)


EXAMPLE = Example(
    name="story",
    task="next-word",
    description="children's stories from a tiny transformer distilled from a 9x larger teacher",
    input_shape=(CONTEXT,),
    class_names=None,
    epochs=EPOCHS,
    make_data=make_data,
    train_model=train_model,
    decode=True,
    quick=False,   # the teacher and the distillation take minutes, not the quick examples' <1 minute
    prompt="Once upon a time,",
)

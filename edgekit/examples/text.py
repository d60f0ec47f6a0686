"""text: a small language model that predicts the next word of a device command.

The corpus is generated here from a grammar (actions, devices, rooms, numbers, polite
prefixes and suffixes, and typos), deterministic by seed, with nothing downloaded. A word
tokenizer and a vocabulary built on the training sentences (edgekit/model/vocab.py) turn words into
ids; the model reads the last WINDOW ids (int32, left-padded with 0 at the start of a sentence)
and gives a softmax over the vocabulary: Embedding -> LSTM -> Dense. Task "next-word": top-1
accuracy, top-3 beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgekit.examples._common import Example, fit_cosine_adam, rng
from edgekit.model.vocab import EOS, Vocabulary, tokenize

if TYPE_CHECKING:  # pragma: no cover
    import keras

WINDOW = 6          # previous words the model sees
N_TRAIN, N_TEST, N_CALIB = 2400, 250, 300
TYPO_RATE = 0.08    # share of sentences with one misspelt word
EMBED, UNITS = 16, 48

ROOMS = ("kitchen", "living room", "bedroom", "bathroom", "garage", "office", "hallway", "basement",
         "garden", "nursery", "attic", "dining room")
SWITCHABLE = ("lights", "lamp", "fan", "heater", "tv", "radio", "speaker", "coffee machine",
              "air conditioner", "oven", "dishwasher", "washing machine")
DIMMABLE = ("lights", "lamp", "fan", "speaker", "heater")
LOUD = ("tv", "radio", "speaker", "heater", "fan", "music")
OPENABLE = ("door", "window", "blinds", "curtains", "garage door", "gate")
LOCKABLE = ("front door", "back door", "garage door", "gate", "window")
APPLIANCES = ("coffee machine", "oven", "dishwasher", "washing machine", "dryer", "robot vacuum")
ON_OFF = ("turn on", "turn off", "switch on", "switch off")
TEMPS = tuple(str(t) for t in range(16, 27))
PERCENTS = tuple(str(p) for p in range(10, 101, 10))
MINUTES = ("5", "10", "15", "20", "30", "45", "60")


def _pick(g: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(g.integers(len(options)))]


def _sentence(g: np.random.Generator) -> str:
    """One command from the grammar."""
    room, kind = _pick(g, ROOMS), int(g.integers(10))
    if kind == 0:
        s = f"{_pick(g, ON_OFF)} the {_pick(g, SWITCHABLE)} in the {room}"
    elif kind == 1:
        s = f"{_pick(g, ON_OFF)} the {room} {_pick(g, SWITCHABLE)}"
    elif kind == 2:
        s = (f"set the {room} thermostat to {_pick(g, TEMPS)} degrees" if g.random() < 0.5
             else f"set the temperature in the {room} to {_pick(g, TEMPS)} degrees")
    elif kind == 3:
        s = f"{_pick(g, ('dim', 'set'))} the {_pick(g, DIMMABLE)} in the {room} to {_pick(g, PERCENTS)} percent"
    elif kind == 4:
        s = f"{_pick(g, ('open', 'close'))} the {_pick(g, OPENABLE)} in the {room}"
    elif kind == 5:
        s = f"{_pick(g, ('lock', 'unlock'))} the {_pick(g, LOCKABLE)}"
    elif kind == 6:
        s = f"turn {_pick(g, ('up', 'down'))} the {_pick(g, LOUD)} in the {room}"
    elif kind == 7:
        s = f"start the {_pick(g, APPLIANCES)} in {_pick(g, MINUTES)} minutes"
    elif kind == 8:
        s = f"is the {_pick(g, SWITCHABLE)} in the {room} {_pick(g, ('on', 'off'))}"
    else:
        s = f"{_pick(g, ON_OFF)} all the lights"
    if g.random() < 0.15:
        s = "please " + s
    if g.random() < 0.1:
        s += _pick(g, (" now", " please", " right now"))
    return s


def _typo(word: str, g: np.random.Generator) -> str:
    """A misspelling: two letters swapped, one dropped or one doubled."""
    i = int(g.integers(1, len(word) - 1))
    kind = int(g.integers(3))
    if kind == 0:
        return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]
    return word[:i] + word[i + 1:] if kind == 1 else word[:i] + word[i] + word[i:]


def make_corpus(seed: int, n: int, stream: int = 0) -> list[str]:
    """`n` commands, the same for the same (seed, stream); TYPO_RATE of them with one typo."""
    g = rng(seed, 100 + stream)
    out = []
    for _ in range(n):
        words = _sentence(g).split(" ")
        if g.random() < TYPO_RATE:
            long = [k for k, w in enumerate(words) if len(w) >= 4]
            k = long[int(g.integers(len(long)))]
            words[k] = _typo(words[k], g)
        out.append(" ".join(words))
    return out


def windows(sentences: list[list[int]], width: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Every (previous `width` ids -> next id) pair of each sentence, its end (EOS) included."""
    xs, ys = [], []
    for ids in sentences:
        seq = list(ids) + [EOS]
        for i, nxt in enumerate(seq):
            ctx = seq[max(0, i - width):i]
            xs.append([0] * (width - len(ctx)) + ctx)
            ys.append(nxt)
    return np.array(xs, dtype=np.int32).reshape(-1, width), np.array(ys, dtype=np.int64)


def make_data(seed: int) -> dict[str, np.ndarray]:
    """Train and test corpora from the grammar (different streams of the seed), the vocabulary
    of the training words seen twice or more, and the (window -> next word) samples.

    x_* are int32 token ids (N, WINDOW); y_* int64 next-word ids; "vocab" the words by id."""
    train_words = [tokenize(s) for s in make_corpus(seed, N_TRAIN, 0)]
    test_words = [tokenize(s) for s in make_corpus(seed, N_TEST, 1)]
    vocab = Vocabulary.build(train_words)
    x_train, y_train = windows([list(vocab.encode(s).ids) for s in train_words])
    x_test, y_test = windows([list(vocab.encode(s).ids) for s in test_words])
    calib = rng(seed, 7).choice(len(x_train), N_CALIB, replace=False)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "x_calib": x_train[calib], "vocab": np.array(vocab.words)}


def build_model(vocab_size: int) -> keras.Model:
    """The untrained model: Embedding(vocab, 16) -> LSTM(48) -> Dense(vocab, softmax)."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((WINDOW,), dtype="int32"),
        layers.Embedding(vocab_size, EMBED),
        layers.LSTM(UNITS),
        layers.Dense(vocab_size, activation="softmax"),
    ], name="text")


def train_model(data: dict[str, np.ndarray], epochs: int, seed: int) -> keras.Model:
    """Adam with a cosine-decayed learning rate, sparse categorical cross-entropy."""
    import keras

    keras.utils.set_random_seed(seed)
    return fit_cosine_adam(build_model(len(data["vocab"])), data["x_train"], data["y_train"], epochs=epochs,
                           loss="sparse_categorical_crossentropy", learning_rate=0.01, batch=64)


EXAMPLE = Example(
    name="text",
    task="next-word",
    description="next word of a device command (Embedding -> LSTM -> Dense over the vocabulary)",
    input_shape=(WINDOW,),
    class_names=None,
    epochs=6,
    make_data=make_data,
    train_model=train_model,
    prompt="turn on the",
)

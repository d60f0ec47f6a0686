"""The bundled examples: deterministic data, a small Keras model, its training.

Each example lives in its own module (``sine``, ``gesture``, ``anomaly``, ``digits``, ``text``,
``story``) and defines ``EXAMPLE``. Importing this package is cheap: TensorFlow/Keras are imported only
inside ``train_model``.

Data conventions (what ``make_data(seed)`` returns):
  * ``x_train``, ``x_test``, ``x_calib``: float32, shape ``(N,) + input_shape``;
    ``x_calib`` is a few hundred samples of the training distribution for int8 calibration.
  * classification: ``y_*`` int64 class indices, the model outputs softmax probabilities;
  * regression: ``y_*`` float32 with the model output's shape, e.g. ``(N, 1)``;
  * anomaly: ``x_train`` holds only normal samples (``y_train`` all 0), ``x_test`` is
    mixed with ``y_test`` 1 = faulty, 0 = normal; the model output has the input's shape
    and the anomaly score is the mean squared reconstruction error per sample.
  * next-word (token data): ``x_*`` int32 token ids, shape ``(N, window)``, the previous words
    left-padded with 0; ``y_*`` int64 id of the next word; the model outputs softmax
    probabilities over the vocabulary; ``vocab`` holds the words by id (ids 0-2 reserved, see
    edgekit/model/vocab.py), and ``edgekit train`` also writes it as vocab.json beside the model;
  * a causal LM (``story``): ``y_*`` int64 (N, window), the next token at every position; the
    model outputs logits (N, window, vocabulary); a subword vocabulary also has ``tokenizer``
    (its JSON as a 0-d string array), which vocab.json keeps too.
"""

from __future__ import annotations

from edgekit.errors import UsageError
from edgekit.examples._common import Example


def _load() -> dict[str, Example]:
    from edgekit.examples import anomaly, digits, gesture, sine, story, text

    return {m.EXAMPLE.name: m.EXAMPLE for m in (sine, gesture, anomaly, digits, text, story)}


EXAMPLES: dict[str, Example] = _load()


def get_example(name: str) -> Example:
    """Return the example called `name`; raise UsageError for an unknown name."""
    try:
        return EXAMPLES[name]
    except KeyError:
        raise UsageError(
            f"unknown example '{name}'", hint="known examples: " + ", ".join(EXAMPLES)
        ) from None


__all__ = ["EXAMPLES", "Example", "get_example"]

"""Word tokenizer and vocabulary of text models (the `text` example, `edgekit complete`).

A vocabulary is a list of words whose index is the token id. Ids 0-2 are reserved: 0 pads a
window that is not full yet (the start of a sentence), 1 stands for any word not in the
vocabulary, 2 ends a sentence. It is saved as JSON beside the model (VOCAB_FILE) and recorded
in the project's origin, so a project can turn words into ids and back.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.data import atomic_write_text
from edgekit.errors import InputFileError

VOCAB_FILE = "vocab.json"
PAD, UNK, EOS = 0, 1, 2
RESERVED = ("<pad>", "<unk>", "<eos>")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers; punctuation and spacing are dropped ("Turn ON the TV!" ->
    turn, on, the, tv)."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Encoded:
    """Token ids of a text and the words that became the unknown id."""

    ids: tuple[int, ...]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """Words by token id (ids 0-2 reserved: pad, unknown, end of sentence)."""

    words: tuple[str, ...]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_count: int = 2) -> Vocabulary:
        """The words seen at least `min_count` times, most frequent first (ties alphabetical),
        after the reserved ids; rarer words (typos, mostly) become the unknown id."""
        counts = Counter(w for s in sentences for w in s)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(RESERVED + tuple(kept))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        """Word -> id."""
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, words: Sequence[str]) -> Encoded:
        """Ids of `words`; the ones not in the vocabulary become UNK and are listed."""
        index = self.index
        ids = tuple(index.get(w, UNK) for w in words)
        return Encoded(ids, tuple(w for w, i in zip(words, ids, strict=True) if i == UNK))

    def word(self, token_id: int) -> str:
        """The word of an id ("<unk>" for an id out of range)."""
        return self.words[token_id] if 0 <= token_id < len(self.words) else RESERVED[UNK]

    def window(self, ids: Sequence[int], width: int, *, pad_right: bool = False) -> np.ndarray:
        """The last `width` ids, padded with PAD on the left (or, `pad_right`, on the right: a
        causal model's input): one model input (int32, shape (width,))."""
        tail = list(ids)[-width:] if width else []
        pad = [PAD] * (width - len(tail))
        return np.array(tail + pad if pad_right else pad + tail, dtype=np.int32)

    def save(self, path: Path) -> None:
        """Write the vocabulary as JSON (atomically)."""
        atomic_write_text(path, json.dumps({"words": list(self.words), "pad": PAD, "unknown": UNK,
                                            "end": EOS}, indent=0) + "\n")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """Read a vocabulary written by `save` (InputFileError when it is missing or malformed)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            words = tuple(str(w) for w in data["words"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputFileError(f"cannot read the vocabulary {path}: {exc}",
                                 hint="train the model again (`edgekit train text`)") from None
        if words[:len(RESERVED)] != RESERVED:
            raise InputFileError(f"{path} is not an edgekit vocabulary (ids 0-2 must be {', '.join(RESERVED)})")
        return cls(words)


__all__ = ["EOS", "Encoded", "PAD", "RESERVED", "UNK", "VOCAB_FILE", "Vocabulary", "tokenize"]

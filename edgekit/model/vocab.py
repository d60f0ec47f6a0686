"""Word and subword vocabularies of text models (the `text` and `story` examples, `edgekit complete`).

A vocabulary is a list of words whose index is the token id. Ids 0-2 are reserved: 0 pads a
window that is not full yet (the start of a sentence), 1 stands for any word not in the
vocabulary, 2 ends a sentence. It is saved as JSON beside the model (VOCAB_FILE) and recorded
in the project's origin, so a project can turn words into ids and back.

A subword vocabulary (`Vocabulary.train_subword`: byte-pair encoding learned on the training
text with the `tokenizers` library) keeps its tokenizer in the same file; its tokens are pieces
of words ("▁" marks a word's start), and text is encoded and decoded through it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """Words (or subword pieces) by token id (ids 0-2 reserved: pad, unknown, end of sentence)."""

    words: tuple[str, ...]
    tokenizer: str = ""   # a subword vocabulary's tokenizer (the `tokenizers` library's JSON)

    @classmethod
    def train_subword(cls, texts: Iterable[str], size: int = 512) -> Vocabulary:
        """A byte-pair-encoding vocabulary of `size` tokens learned on `texts` (the reserved ids
        first); characters it never saw become the unknown id."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token=RESERVED[UNK]))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=size, special_tokens=list(RESERVED),
                                                           show_progress=False))
        words = tuple(str(tok.id_to_token(i)) for i in range(tok.get_vocab_size()))
        return cls(words, json.dumps(json.loads(tok.to_str())))  # as `load` will write it

    def _tok(self) -> Any:
        from tokenizers import Tokenizer

        return Tokenizer.from_str(self.tokenizer)

    def encode_text(self, text: str) -> Encoded:
        """Token ids of `text`: subword pieces, or the words `tokenize` finds."""
        if not self.tokenizer:
            return self.encode(tokenize(text))
        enc = self._tok().encode(text, add_special_tokens=False)
        return Encoded(tuple(enc.ids), tuple(text[a:b] for (a, b), i in zip(enc.offsets, enc.ids) if i == UNK))

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids (words joined by spaces; subword pieces joined as they were)."""
        if not self.tokenizer:
            return " ".join(self.word(i) for i in ids)
        return str(self._tok().decode(list(ids), skip_special_tokens=True))

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
        data = {"words": list(self.words), "pad": PAD, "unknown": UNK, "end": EOS}
        if self.tokenizer:
            data["tokenizer"] = json.loads(self.tokenizer)
        atomic_write_text(path, json.dumps(data, indent=0) + "\n")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """Read a vocabulary written by `save` (InputFileError when it is missing or malformed)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            words = tuple(str(w) for w in data["words"])
            tokenizer = json.dumps(data["tokenizer"]) if "tokenizer" in data else ""
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputFileError(f"cannot read the vocabulary {path}: {exc}",
                                 hint="train the model again (`edgekit train text`)") from None
        if words[:len(RESERVED)] != RESERVED:
            raise InputFileError(f"{path} is not an edgekit vocabulary (ids 0-2 must be {', '.join(RESERVED)})")
        return cls(words, tokenizer)


__all__ = ["EOS", "Encoded", "PAD", "RESERVED", "UNK", "VOCAB_FILE", "Vocabulary", "tokenize"]

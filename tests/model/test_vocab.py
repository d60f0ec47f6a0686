"""Vocabularies of text models: words, and subword pieces learned with byte-pair encoding (the
`tokenizers` library), both saved in one vocab.json with ids 0-2 reserved."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import InputFileError
from edgekit.model.vocab import EOS, PAD, RESERVED, UNK, Vocabulary

STORIES = ["Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball.",
           "One day, Lily found a big box in the garden. She was very happy and ran to tell her mom.",
           "The dog and the cat were friends. They played in the park every day until the sun went down."]


def test_a_subword_vocabulary_round_trips_text_and_its_file(tmp_path: Path) -> None:
    vocab = Vocabulary.train_subword(STORIES * 20, size=150)
    assert len(vocab) == 150 and vocab.words[:3] == RESERVED
    assert (PAD, UNK, EOS) == (0, 1, 2)
    text = "Tom found a red box in the park."
    enc = vocab.encode_text(text)
    assert enc.unknown == () and len(enc.ids) < len(text)   # pieces, not characters
    assert vocab.decode(enc.ids) == text
    vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again == vocab and again.encode_text(text) == enc
    # characters never seen become the unknown id, and are named as the text had them
    assert vocab.encode_text("Tom saw a zebra!").unknown == ("z", "!")


def test_a_word_vocabulary_keeps_its_words() -> None:
    vocab = Vocabulary(RESERVED + ("turn", "on", "the", "lights"))
    enc = vocab.encode_text("Turn ON the TV!")
    assert enc.ids == (3, 4, 5, UNK) and enc.unknown == ("tv",)
    assert vocab.decode((3, 4, 5, 6)) == "turn on the lights"


def test_a_file_without_the_reserved_ids_is_refused(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text('{"words": ["a", "b", "c"]}')
    with pytest.raises(InputFileError, match="ids 0-2 must be"):
        Vocabulary.load(tmp_path / "vocab.json")

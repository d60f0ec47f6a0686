"""The `story` example: its generated corpus, BPE vocabulary and causal-LM windows, the teacher's
size against the student's, and (reduced in size, so it takes seconds) training with
distillation, the subword vocab.json `edgekit complete` reads, and `quantize --decode` reporting
perplexity."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from edgekit.examples import get_example, story
from edgekit.examples.story_corpus import MAX_WORDS, MIN_WORDS, lexicon, make_stories
from edgekit.model.vocab import EOS, RESERVED, UNK, VOCAB_FILE, Vocabulary
from tests.conftest import import_keras, run_cli


@cache
def _data(seed: int) -> dict[str, np.ndarray]:
    return story.make_data(seed)


def test_corpus_is_deterministic_and_readable() -> None:
    a = make_stories(0, 300)
    assert a == make_stories(0, 300) and a != make_stories(1, 300)
    assert make_stories(0, 300, stream=1) != a    # the test stories are another stream
    assert len(set(a)) == len(a)
    known = lexicon()
    assert {"once", "upon", "time", "forest", "friend", "happy"} <= known
    for text in a:
        words = re.findall(r"[A-Za-z]+", text)
        assert {w.lower() for w in words} <= known, text
        assert MIN_WORDS - 10 <= len(text.split()) <= MAX_WORDS + 15, text
        assert text[0].isupper() and text.endswith("."), text
        assert text.count('"') % 2 == 0, text      # every quote is closed
    assert sum(t.startswith("Once upon a time") for t in a) > 30
    assert sum('"' in t for t in a) > 250         # most stories have dialogue


def test_vocabulary_and_windows() -> None:
    d = _data(0)
    assert all(np.array_equal(d[k], v) for k, v in story.make_data(0).items())
    vocab = Vocabulary(tuple(str(w) for w in d["vocab"]), str(d["tokenizer"]))
    assert len(vocab) == story.VOCAB == 512 and vocab.words[:3] == RESERVED
    for key in ("x_train", "x_test", "x_calib"):
        assert d[key].dtype == np.int32 and d[key].shape[1:] == (story.CONTEXT,), key
    for x, y in ((d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])):
        assert y.dtype == np.int64 and y.shape == x.shape
        assert np.array_equal(y[:, :-1], x[:, 1:])     # the next token at every position
        assert 0 < int(x.min()) and int(y.max()) < 512 and not np.any(x == UNK)
    assert np.all(d["y_test"][1::2, -1] == EOS)       # every second window ends with its story
    first = vocab.decode(d["x_test"][0].tolist())
    assert first.startswith(make_stories(0, 1, stream=1)[0][:40])
    text = make_stories(0, 1, stream=1)[0]
    assert vocab.decode(list(vocab.encode_text(text).ids)) == text     # BPE loses nothing
    assert not np.array_equal(_data(1)["x_test"][:4], d["x_test"][:4])
    ex = get_example("story")
    assert ex.task == "next-word" and ex.decode and not ex.quick and ex.input_shape == (story.CONTEXT,)


@pytest.mark.tf
def test_teacher_has_at_least_8x_the_student_parameters() -> None:
    import_keras()
    student, teacher = (story.build_model(s).count_params() for s in (story.STUDENT, story.TEACHER))
    assert 250_000 < student < 290_000           # stories260K's shape
    assert teacher >= 8 * student, (teacher, student)


@pytest.mark.tf
def test_a_small_story_model_distils_and_quantizes_its_decode_step(tmp_path: Path, monkeypatch) -> None:
    """The example at a fraction of its size (few stories, narrow models, one epoch): the teacher is
    trained, the student distilled from it, vocab.json keeps the tokenizer, and `quantize --decode`
    reports the metric and the perplexity of float and int8."""
    from edgekit.model.train import train_example

    for name, value in (("N_TRAIN", 48), ("N_TEST", 3), ("N_CALIB", 8), ("VOCAB", 200),
                        ("STUDENT", story.Shape(16, 1, 2, 32)), ("TEACHER", story.Shape(32, 2, 2, 64))):
        monkeypatch.setattr(story, name, value)
    calls: list[str] = []
    distil = story.distil
    monkeypatch.setattr(story, "distil", lambda teacher, *a: calls.append(teacher.name) or distil(teacher, *a))

    result = train_example("story", tmp_path, epochs=1)
    assert calls == ["story_teacher"]
    assert result.params == story.build_model(story.STUDENT, 200).count_params()   # the student is kept
    vocab = Vocabulary.load(tmp_path / VOCAB_FILE)
    assert vocab.tokenizer and len(vocab) == 200
    assert vocab.encode_text("Once upon a time").unknown == ()

    r = run_cli("quantize", tmp_path / "model.keras", "--calib", tmp_path / "data.npz", "--decode", "--task",
                "next-word", "--json")
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout)
    assert q["metric"] == "top1_accuracy" and q["float_value"] == pytest.approx(result.float_test, abs=1e-6)
    ppl = q["extra"]["perplexity"]
    assert 1 < ppl["float"] < 200 and 1 < ppl["int8"] < 200    # better than a uniform guess over 200
    assert abs(ppl["int8"] - ppl["float"]) < 0.5 * ppl["float"]
    # `edgekit evaluate` reports the same figures beside the metric (the int8 decode step's logits)
    r = run_cli("evaluate", q["tflite_model"], tmp_path / "data.npz", "--task", "next-word", "--json")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["value"] == pytest.approx(q["int8_value"])
    assert ev["extra"]["perplexity"] == pytest.approx(ppl["int8"])
    assert ev["extra"]["top3_accuracy"] == pytest.approx(q["extra"]["top3_accuracy"]["int8"])

"""The `text` example (issue 11): its generated corpus, tokenizer and vocabulary, training and
int8 quantization within 2 points of float, and `edgekit complete` on the virtual board."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import InputFileError
from edgekit.examples import get_example, text
from edgekit.model import metrics
from edgekit.model.vocab import EOS, PAD, RESERVED, UNK, VOCAB_FILE, Vocabulary, tokenize
from tests.conftest import assert_clean_error, run_cli, sine_project

BOARD = "qemu-netduinoplus2"


def test_corpus_is_deterministic_and_varied() -> None:
    a = text.make_corpus(0, 400)
    assert a == text.make_corpus(0, 400) and a != text.make_corpus(1, 400)
    assert text.make_corpus(0, 400, stream=1) != a   # the test split is another stream
    words = {w for s in a for w in tokenize(s)}
    for expected in ("kitchen", "thermostat", "degrees", "percent", "unlock", "minutes", "please"):
        assert expected in words
    assert len(set(a)) > 300          # few repeats
    vocab = Vocabulary.build(tokenize(s) for s in a)
    typos = [w for w in words if w not in vocab.index]
    assert typos, "some sentences carry a misspelt word that becomes the unknown id"


def test_tokenizer_and_vocabulary(tmp_path: Path) -> None:
    assert tokenize("Turn ON the  Kitchen-lights, please!") == ["turn", "on", "the", "kitchen", "lights", "please"]
    vocab = Vocabulary.build([["turn", "on", "the", "fan"], ["turn", "off", "the", "fan"]])
    assert vocab.words[:3] == RESERVED and vocab.words[3:6] == ("fan", "the", "turn")  # count, then a-z
    enc = vocab.encode(["turn", "on", "the", "toaster"])
    assert enc.ids == (vocab.index["turn"], UNK, vocab.index["the"], UNK) and enc.unknown == ("on", "toaster")
    assert vocab.window([5, 6], 4).tolist() == [PAD, PAD, 5, 6] and vocab.window(range(9), 3).tolist() == [6, 7, 8]
    assert vocab.window([5, 6], 4, pad_right=True).tolist() == [5, 6, PAD, PAD]
    vocab.save(tmp_path / VOCAB_FILE)
    assert Vocabulary.load(tmp_path / VOCAB_FILE) == vocab
    (tmp_path / "bad.json").write_text('{"words": ["a", "b", "c"]}')
    with pytest.raises(InputFileError, match="not an edgekit vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")


def test_data_windows_and_determinism() -> None:
    d, again = text.make_data(0), text.make_data(0)
    assert all(np.array_equal(d[k], again[k]) for k in d)
    assert d["x_train"].dtype == np.int32 and d["x_train"].shape[1:] == (text.WINDOW,)
    assert d["y_train"].dtype == np.int64 and d["x_calib"].dtype == np.int32
    n = len(d["vocab"])
    assert 60 < n < 256 and int(d["x_train"].max()) < n and int(d["y_train"].max()) < n
    assert np.any(d["y_train"] == EOS) and np.all(d["x_train"][d["x_train"][:, -1] == PAD] == PAD)
    assert not np.array_equal(text.make_data(1)["x_test"][:50], d["x_test"][:50])
    ex = get_example("text")
    assert ex.task == "next-word" and metrics.METRIC_OF_TASK["next-word"] == "top1_accuracy"


def test_top_k_accuracy() -> None:
    out = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    y = np.array([2, 0, 1])
    assert metrics.task_metric("next-word", np.zeros((3, 1)), y, out) == pytest.approx(1 / 3)
    extra = metrics.extra_metrics("next-word", y, out)
    assert list(extra) == ["top3_accuracy", "perplexity"] and extra["top3_accuracy"] == 1.0
    assert extra["perplexity"] == pytest.approx((0.4 * 0.6 * 0.2) ** (-1 / 3))
    assert metrics.top_k_accuracy(y, out, 2) == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def trained_text(tmp_path_factory) -> Path:
    """`edgekit train text` at the CI epochs, then `edgekit quantize` with the example's task."""
    out = tmp_path_factory.mktemp("text")
    r = run_cli("train", "text", "-o", out)
    assert r.returncode == 0, r.stderr
    r = run_cli("quantize", out / "model.keras", "--calib", out / "data.npz", "--task", "next-word")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.tf
def test_trains_and_int8_is_within_two_points(trained_text: Path) -> None:
    train = json.loads((trained_text / "train.json").read_text())
    quant = json.loads((trained_text / "model.quant.json").read_text())
    assert train["task"] == "next-word" and train["metric"] == "top1_accuracy"
    assert train["float_test"] > 0.5      # most next words of a command are predictable
    assert quant["input"]["dtype"] == "int32" and quant["metric"] == "top1_accuracy"
    assert abs(quant["int8_value"] - quant["float_value"]) <= 0.02
    top3 = quant["extra"]["top3_accuracy"]   # reported beside the metric
    assert top3["float"] > quant["float_value"] and top3["int8"] > quant["int8_value"]
    # the int8 softmax's probabilities are scored as probabilities (as the float model's are), not softmaxed again
    ppl = quant["extra"]["perplexity"]
    assert 1 < ppl["float"] < 10 and abs(ppl["int8"] - ppl["float"]) < 0.1 * ppl["float"]
    assert Vocabulary.load(trained_text / VOCAB_FILE).words == tuple(np.load(trained_text / "data.npz")["vocab"])


@pytest.mark.tf
@pytest.mark.toolchain
@pytest.mark.qemu
def test_complete_on_the_virtual_board(trained_text: Path, tmp_path: Path) -> None:
    project = tmp_path / "fw"
    r = run_cli("generate", trained_text / "model.tflite", "--board", BOARD, "-o", project)
    assert r.returncode == 0, r.stderr
    origin = json.loads((project / "edgekit.json").read_text())["origin"]
    assert origin["task"] == "next-word" and origin["vocabulary"] == str((trained_text / VOCAB_FILE).resolve())
    assert run_cli("build", project).returncode == 0
    # Every next-word prediction (a 115-way SOFTMAX) equals the host TFLM reference.
    r = run_cli("hil", project, "--require-exact", "--runs", "0", "--report", tmp_path / "hil")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((tmp_path / "hil" / "report.json").read_text())
    assert report["agreement"]["exact_share"] == 1.0 and report["device"]["runtime"] == "edgekit-rt"
    r = run_cli("complete", project, "--prompt", "Please turn on the", "--words", "6", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["virtual"] and res["count_unit"] == "instructions" and res["unknown"] == []
    assert 1 <= len(res["words"]) <= 6 and res["stopped"] in ("end of sentence", "word limit")
    vocab = Vocabulary.load(trained_text / VOCAB_FILE)
    for w in res["words"]:
        assert w["cycles"] > 0 and vocab.word(w["token_id"]) == w["word"] and w["token_id"] > EOS
    assert res["text"].startswith("please turn on the ")
    r = run_cli("complete", project, "--words", "1", "--json")   # the example's own prompt
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["prompt"] == "turn on the"
    r = run_cli("complete", project, "--prompt", "turn on the frobnicator", "--words", "1")
    assert r.returncode == 0, r.stderr
    assert "not in the vocabulary, sent as <unk>: frobnicator" in r.stderr and "instructions" in r.stdout
    vocab_file = trained_text / VOCAB_FILE
    vocab_file.rename(tmp_path / "moved.json")    # the project names a vocabulary that is gone
    try:
        assert_clean_error(run_cli("complete", project, "--prompt", "turn on"), 2, "cannot read the vocabulary")
    finally:
        (tmp_path / "moved.json").rename(vocab_file)


def test_complete_refuses_a_project_without_vocabulary(tmp_path: Path) -> None:
    project = sine_project(tmp_path / "fw", BOARD, build=False)
    assert_clean_error(run_cli("complete", project, "--prompt", "turn on"), 2,
                       "has no vocabulary", "edgekit train text")
    assert_clean_error(run_cli("complete", project), 2, "which prompt?", "--prompt")

"""Labels that do not fit the model or task are refused before any work, with the file, key and
offending value or shape (exit 2): in evaluate, quantize, hil and deploy (one check for all)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import DataError
from edgekit.model.metrics import check_labels
from tests.conftest import assert_clean_error

X4 = np.zeros((4, 6), np.float32)
CLASSIFIER = (1, 3)   # output shape of a 3-class model
LM = (1, 3, 5)        # a sequence model's: 5 classes (a causal LM's vocabulary) at each of 3 positions


@pytest.mark.parametrize(("y", "out_shape", "task", "expected"), [
    (np.array([0, 1, 2, 7]), CLASSIFIER, None, "class 7 at index 3, but the model outputs 3 classes"),
    (np.array([0, 1, -1, 2]), CLASSIFIER, "classification", "class -1 at index 2"),
    (np.eye(4)[[0, 1, 2, 3]], CLASSIFIER, None, "one-hot with width 4, the model outputs 3 classes"),
    (np.eye(4)[[0, 1, 2, 3]], CLASSIFIER, "classification", "one-hot with width 4"),
    (np.array([0.5, 1.2, 0.1, 2.0]), CLASSIFIER, None, "for a model with 3 outputs: a classifier needs integer"),
    (np.array([0.5, 1.0, 0.0, 2.0]), CLASSIFIER, "classification", "float labels (e.g. 0.5 at index 0)"),
    (np.array([0, 1, 2]), CLASSIFIER, None, "holds 3 labels for 4 inputs"),
    (np.array([0, 1, np.nan, 2]), CLASSIFIER, None, "NaN or infinite label at index 2"),
    (np.zeros((4, 2)), (1, 1), "regression", "labels of shape (2,) per input, the model outputs (1,)"),
    (np.array([0, 1, 2, 1]), (1, 6), "anomaly", "label 2 at index 2; anomaly labels are 0"),
    (np.array(["a", "b", "c", "d"]), CLASSIFIER, None, "labels must be numbers"),
    (np.array([[0, 1, 5], [2, 1, 0], [1, 1, 1], [0, 0, 0]]), LM, None, "class 5 at index 2, but the model outputs 5"),
    (np.zeros((4, 2), int), LM, "next-word", "one class index per position"),
])
def test_labels_that_do_not_fit_are_named(y, out_shape, task, expected) -> None:
    with pytest.raises(DataError) as info:
        check_labels(X4, y, out_shape, task, where="d.npz:y_test")
    assert "d.npz:y_test" in str(info.value) and expected in str(info.value), str(info.value)


@pytest.mark.parametrize(("y", "out_shape", "task", "resolved"), [
    (np.array([0, 1, 2, 1]), CLASSIFIER, None, "classification"),
    (np.eye(3)[[0, 1, 2, 1]], CLASSIFIER, None, "classification"),
    (np.array([[0.5], [1.2], [0.1], [2.0]]), (1, 1), None, "regression"),
    (np.array([0.5, 1.2, 0.1, 2.0]), (1, 1), None, "regression"),
    (None, CLASSIFIER, None, None),
    (np.array([[0, 1, 4], [2, 1, 0], [1, 1, 1], [0, 0, 3]]), LM, None, "classification"),
    (np.array([[0, 1, 4], [2, 1, 0], [1, 1, 1], [0, 0, 3]]), LM, "next-word", "next-word"),
])
def test_labels_that_fit_resolve_the_task(y, out_shape, task, resolved) -> None:
    assert check_labels(X4, y, out_shape, task, where="d.npz:y_test") == resolved


def test_a_label_at_every_position_scores_every_position() -> None:
    """A causal LM's next token at each position: metric, top-k and agreement count positions."""
    from edgekit.model import metrics

    y = np.array([[1, 2], [0, 0]])
    logits = np.zeros((2, 2, 3))
    logits[0, 0, 1] = logits[0, 1, 0] = logits[1, 0, 0] = logits[1, 1, 2] = 1.0   # right at 2 of 4 positions
    assert metrics.task_metric("next-word", X4[:2], y, logits) == 0.5
    assert metrics.top_k_accuracy(y, logits, 1) == 0.5
    assert metrics.predictions("next-word", X4[:2], logits).tolist() == [[1, 0], [0, 2]]
    other = logits.copy()
    other[1, 1] = [0.0, 0.0, 0.5]   # the same argmax everywhere...
    other[0, 1] = [0.0, 2.0, 0.0]   # ...but one position
    agreement = metrics.float_int8_agreement("next-word", logits, other, other.astype(np.int8), 1.0, 0)
    assert agreement.share == 0.75 and agreement.definition == "same predicted class at each position"
    # one class id per input, as an (N, 1) column: ids, not one-hot
    assert metrics.task_metric("classification", X4[:2], np.array([[1], [2]]), np.eye(3)[[1, 0]]) == 0.5


def _ds_cnn_data(benchmark_model, path: Path, y) -> tuple[Path, Path]:
    from edgekit.model.tflite_graph import load_graph

    model = benchmark_model("ds_cnn_kws")
    x = np.random.default_rng(0).normal(size=(len(y), *load_graph(model).input_tensors[0].shape[1:]))
    np.savez(path, x_test=x.astype(np.float32), y_test=np.asarray(y))
    return model, path


@pytest.mark.parametrize(("y", "expected"), [
    ([0, 3, 12, 5], "class 12 at index 2, but the model outputs 12 classes (0..11)"),
    (np.eye(10)[[0, 3, 9, 5]], "one-hot with width 10, the model outputs 12 classes"),
    ([0.25, 3.5, 1.0, 5.0], "a classifier needs integer class indices 0..11"),
])
def test_evaluate_refuses_labels_that_do_not_fit(cli, benchmark_model, tmp_path: Path, y, expected) -> None:
    model, data = _ds_cnn_data(benchmark_model, tmp_path / "d.npz", y)
    assert_clean_error(cli("evaluate", model, data), 2, f"{data}:y_test", expected)


def test_evaluate_task_without_labels_says_so(cli, benchmark_model, tmp_path: Path) -> None:
    model, _ = _ds_cnn_data(benchmark_model, tmp_path / "d.npz", [0, 1])
    x = np.load(tmp_path / "d.npz")["x_test"]
    np.savez(tmp_path / "nolabels.npz", x_test=x)
    np.savez(tmp_path / "otherkey.npz", x_test=x, y=np.array([0, 1]))
    for name in ("nolabels.npz", "otherkey.npz"):
        r = cli("evaluate", model, tmp_path / name, "--task", "classification")
        assert_clean_error(r, 2, "task 'classification' needs labels", f"{tmp_path / name}:y_test")


@pytest.mark.tf
def test_quantize_refuses_bad_labels_before_converting(cli, dense_model, tmp_path: Path) -> None:
    model, data = dense_model
    x = np.load(data)["x_train"]
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=x, x_test=x[:4], y_test=np.array([0, 1, 2, 3]))  # 3 classes
    out = tmp_path / "o.tflite"
    r = cli("quantize", model, "--calib", bad, "-o", out)
    assert_clean_error(r, 2, f"{bad}:y_test", "class 3 at index 3")
    assert "done quantizing" not in r.stderr and not out.exists()


@pytest.fixture
def ds_cnn_project(benchmark_model, tmp_path: Path):
    from edgekit.boards import load_board
    from edgekit.project.generate import generate_project

    return generate_project(benchmark_model("ds_cnn_kws"), load_board("qemu-netduinoplus2"),
                            tmp_path / "fw").project


def test_hil_refuses_bad_labels_before_any_device_work(ds_cnn_project, benchmark_model, tmp_path: Path,
                                                       monkeypatch) -> None:
    from edgekit.hil import harness

    def no_device(*args, **kwargs):
        raise AssertionError("the device was opened before the labels were checked")

    monkeypatch.setattr(harness, "open_session", no_device)
    monkeypatch.setattr(harness, "int8_interpreter", no_device)
    _, data = _ds_cnn_data(benchmark_model, tmp_path / "d.npz", [0, 1, 2, 40])
    with pytest.raises(DataError, match=r"d\.npz:y_test has class 40 at index 3"):
        harness.run_hil(ds_cnn_project, options=harness.HilOptions(data=data))
    assert not (ds_cnn_project.root / harness.REPORT_DIR).exists()


def test_deploy_refuses_bad_labels_before_generating(benchmark_model, tmp_path: Path) -> None:
    from edgekit.boards import load_board
    from edgekit.deploy import deploy

    model, data = _ds_cnn_data(benchmark_model, tmp_path / "d.npz", np.eye(4)[[0, 1, 2, 3]])
    out = tmp_path / "out"
    with pytest.raises(DataError, match="one-hot with width 4, the model outputs 12 classes"):
        deploy(str(model), load_board("qemu-netduinoplus2"), out, data=data,
               step=lambda message: contextlib.nullcontext())
    assert not (out / "firmware-qemu-netduinoplus2").exists()


def test_perplexity_of_logits_and_of_probabilities() -> None:
    """exp of the mean negative log-likelihood of the labels: logits are softmaxed, probabilities
    taken as they are (an int8 softmax's rows, which do not sum to 1 exactly, renormalised)."""
    from edgekit.model import metrics

    y = np.array([[0, 1], [2, 2]])
    probs = np.array([[[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]], [[0.1, 0.1, 0.8], [0.25, 0.25, 0.5]]])
    expected = float(np.exp(-np.mean(np.log([0.5, 0.6, 0.8, 0.5]))))
    assert not metrics.scores_are_logits(probs)
    assert metrics.perplexity(y, probs) == pytest.approx(expected)
    logits = np.log(probs) + 3.0   # any shift: the same softmax
    assert metrics.scores_are_logits(logits)
    assert metrics.perplexity(y, logits) == pytest.approx(expected)
    assert metrics.perplexity(y, probs, logits=True) != pytest.approx(expected)   # softmaxed twice: flatter
    # int8 softmax rows: small probabilities rounded away, the rest on a grid of 1/256
    rounded = np.round(probs * 256 * 0.9) / 256
    assert not metrics.scores_are_logits(rounded)
    assert metrics.perplexity(y, rounded) == pytest.approx(expected, rel=0.02)
    # a label the model gives no probability at all costs -log(MIN_PROBABILITY), not infinity
    sure = np.eye(3)[[1, 1]][:, None, :].repeat(2, axis=1)
    assert metrics.perplexity(y, sure) == pytest.approx(1 / metrics.MIN_PROBABILITY ** (3 / 4))
    # a uniform model's perplexity is the number of classes
    assert metrics.perplexity(y, np.zeros((2, 2, 3))) == pytest.approx(3.0)
    assert metrics.extra_metrics("classification", y, probs) == {}

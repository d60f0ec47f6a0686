"""`edgekit compress` end to end: the search picks a fitting full-int8 model, deterministically
by seed, writes the model and the report files, and says how far it is when nothing fits."""

from __future__ import annotations

import json

import pytest

from edgekit.boards import load_board
from edgekit.compress import compress_model
from edgekit.compress.distill import FineTune
from edgekit.model.tflite_graph import load_graph
from tests.conftest import assert_clean_error, run_cli

# The test MLP needs ~25 KB of firmware flash on edgekit-rt (12.6 KB of it firmware and
# runtime code, 12.5 KB weights and tables): 19 KB forces it to about half its weights.
MAX_FLASH = 19_000


def _compress(model_path, data, out):
    return compress_model(model_path, data, load_board("nucleo-f446re"), max_flash=MAX_FLASH,
                          methods=("prune", "distill"), out_dir=out, seed=3, tune=FineTune(epochs=6))


@pytest.mark.tf
def test_search_fits_the_budget_deterministically_and_writes_everything(digits_mlp, digits_npz, tmp_path):
    _, path = digits_mlp
    first = _compress(path, digits_npz, tmp_path / "a")
    report = first.report
    original, chosen = report.candidates[0], report.chosen_candidate()
    assert original.id == "original" and not original.fits and original.overflow["flash"] > 0
    assert chosen is not None and chosen.fits and chosen.flash <= MAX_FLASH and chosen.fine_tuned
    assert chosen.int8_metric >= report.baseline_float - 0.04
    assert chosen.id in report.pareto_flash
    assert report.budget.flash == MAX_FLASH and report.budget.ram == 128 * 1024
    assert [p.name for p in first.report_files] == ["compress.json", "compress.md", "compress.png"]
    assert first.report_files[2].read_bytes()[:4] == b"\x89PNG"
    saved = json.loads(first.report_files[0].read_text())
    assert saved["chosen"] == chosen.id and len(saved["candidates"]) == len(report.candidates)
    assert f"**Chosen: {chosen.id}**" in first.report_files[1].read_text()
    # width per layer: the uniform fit, refined (no layer narrower, some wider), both fine-tuned
    uniform = next(c for c in report.candidates if c.fine_tuned and c.id.startswith("prune-w"))
    refined = next(c for c in report.candidates if c.fine_tuned and c.id.startswith("prune-layers"))
    assert [w.layer for w in uniform.widths] == [w.layer for w in refined.widths] == ["fc1", "fc2"]
    assert all(r.kept >= u.kept for r, u in zip(refined.widths, uniform.widths)) and refined.widths != uniform.widths
    assert refined.fits and chosen.int8_metric >= max(uniform.int8_metric, refined.int8_metric)
    saved_refined = next(c for c in saved["candidates"] if c["id"] == refined.id)
    assert saved_refined["widths"] == [{"layer": w.layer, "kept": w.kept, "of": w.of} for w in refined.widths]
    assert ", ".join(f"{w.layer} {w.kept}/{w.of}" for w in refined.widths) in first.report_files[1].read_text()
    graph = load_graph(first.tflite_model)
    assert graph.input_tensors[0].dtype == "int8" and graph.output_tensors[0].dtype == "int8"
    assert first.keras_model.is_file()
    again = _compress(path, digits_npz, tmp_path / "b")      # same seed: same candidates, same figures
    assert [vars(c) for c in again.report.candidates] == [vars(c) for c in report.candidates]
    assert (tmp_path / "b" / "compressed.tflite").read_bytes() == first.tflite_model.read_bytes()


@pytest.mark.tf
def test_cannot_fit_says_how_far_and_exits_1(digits_mlp, digits_npz, tmp_path):
    _, path = digits_mlp
    # 12,000 B is less than the firmware and runtime code alone (12.6 KB): nothing can fit.
    r = run_cli("compress", path, "--data", digits_npz, "--board", "nucleo-f446re", "--max-flash", "12000",
                "--methods", "prune", "-o", tmp_path / "out")
    assert_clean_error(r, 1, "no candidate fits nucleo-f446re: the closest, prune-w0.05", "B over")
    report = json.loads((tmp_path / "out" / "compress.json").read_text())
    assert report["chosen"] is None and all(not c["fits"] for c in report["candidates"])
    assert not (tmp_path / "out" / "compressed.tflite").exists()


@pytest.mark.tf
def test_cli_errors_are_one_line(digits_mlp, digits_npz, tmp_path):
    _, path = digits_mlp
    r = run_cli("compress", path, "--data", digits_npz, "--board", "nucleo-f446re", "--methods", "prune,magic")
    assert_clean_error(r, 2, "unknown compression method 'magic'")
    r = run_cli("compress", path, "--data", digits_npz, "--board", "nucleo-f446re", "--importance", "magic")
    assert_clean_error(r, 2, "unknown channel importance 'magic'")
    r = run_cli("compress", tmp_path / "none.keras", "--data", digits_npz, "--board", "nucleo-f446re")
    assert_clean_error(r, 2, "Keras model not found")
    r = run_cli("compress", path, "--data", digits_npz, "--board", "no-such-board")
    assert_clean_error(r, 2, "no-such-board")
    import numpy as np

    np.savez(tmp_path / "test_only.npz", x_test=np.zeros((4, 8, 8, 1), np.float32), y_test=np.arange(4))
    r = run_cli("compress", path, "--data", tmp_path / "test_only.npz", "--board", "nucleo-f446re",
                "-o", tmp_path / "never")
    assert_clean_error(r, 2, "no x_train/y_train")
    assert not (tmp_path / "never").exists()


def test_labels_of_points_that_would_collide_are_stacked() -> None:
    from edgekit.compress.report import _label_clusters

    points = [(50.0, 0.97, "prune-w0.50+ft"), (51.0, 0.97, "prune-layers5+ft"), (100.0, 0.90, "original"),
              (50.5, 0.90, "lowrank-e0.90+ft")]
    assert _label_clusters(points) == [(50.0, 0.97, ["prune-w0.50+ft", "prune-layers5+ft"]),
                                       (50.5, 0.90, ["lowrank-e0.90+ft"]), (100.0, 0.90, ["original"])]

"""`edgekit compare`: one model, each runtime (edgekit-rt, TFLM per tree) generated, built and
run on the virtual board, side by side; a failing runtime is a row, bad input fails up front.

The TFLM trees come from the tflm_tree fixture; their libraries are in edgekit's cache (built
by tests/tflm), so a tflm project here only compiles its own sources and links.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from edgekit.compare.report import COMPARE_JSON, COMPARE_MD, COMPARE_PNG
from edgekit.compare.result import Comparison
from tests.conftest import assert_clean_error, run_cli

BOARD = "qemu-netduinoplus2"
LABELS = ["edgekit-rt", "tflm (reference)", "tflm (CMSIS-NN)"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sine_comparison(tflm_tree: Callable[[str], Path], benchmark_model: Callable[[str], Path],
                    tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`edgekit compare` of sine with edgekit-rt and both trees, piped into a narrow "terminal"."""
    out = tmp_path_factory.mktemp("compare") / "sine"
    r = run_cli("compare", benchmark_model("sine"), "--board", BOARD, "--tflm-dir", tflm_tree("ref"),
                "--tflm-dir", tflm_tree("cmsis_nn"), "-o", out, "--samples", "5", "--runs", "3", "--cycles",
                env={"COLUMNS": "60"}, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    return out, r.stdout


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_sine_is_exact_on_every_runtime_with_ratios_and_profiles(sine_comparison) -> None:
    out, _ = sine_comparison
    doc = json.loads((out / COMPARE_JSON).read_text())
    assert [v["label"] for v in doc["variants"]] == LABELS
    assert doc["all_exact"] and doc["problems"] == [] and doc["baseline"] == "edgekit-rt"
    assert doc["unit"] == "instructions" and doc["virtual"] and doc["samples"] == 5
    rt, ref, cmsis = doc["variants"]
    assert rt["ratios"] == {"latency": 1.0, "arena": 1.0, "flash": 1.0, "ram": 1.0}
    for v in doc["variants"]:
        assert v["exact"] and v["error"] is None and v["agreement"]["exact_share"] == 1.0
        assert v["latency_p50"] > 0 and v["arena_bytes"] > 0 and v["flash_bytes"] > 0 and v["ram_bytes"] > 0
        assert v["build"]["first_s"] > 0 and v["build"]["rebuild_s"] > 0
        assert Path(v["project_dir"], "edgekit.json").is_file()
        profile = v["profile"]
        assert [o["op"] for o in profile["ops"]] == ["FULLY_CONNECTED"] * 3
        assert abs(profile["coverage"] - 1.0) <= 0.02
        est = v["cycle_estimate"]   # --cycles: from a traced invoke, beside the profiler's count
        assert est["label"] == "estimated cycles (Cortex-M4 TRM timings, 0 flash wait states)"
        assert abs(est["invoke_instructions"] - est["profiler_instructions"]) <= 64
        assert est["invoke_instructions"] < est["invoke_cycles"] < 3 * est["invoke_instructions"]
    for v in (ref, cmsis):
        assert v["runtime"] == "tflm" and v["build"]["tflm_cached"] is not None
        assert v["ratios"]["flash"] > 1.0   # the interpreter costs flash: the ratio is really computed
        assert v["ratios"]["flash"] == pytest.approx(v["flash_bytes"] / rt["flash_bytes"])
    assert (ref["kernels"], cmsis["kernels"]) == ("ref", "cmsis_nn")
    assert rt["build"]["tflm_cached"] is None   # no TFLM library in an edgekit-rt build


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_markdown_and_png_are_written(sine_comparison) -> None:
    out, _ = sine_comparison
    md = (out / COMPARE_MD).read_text()
    for label in LABELS:
        assert f"| {label} | yes |" in md
    assert "Per-op profile" in md and f"]({COMPARE_PNG})" in md
    assert (out / COMPARE_PNG).read_bytes().startswith(PNG_MAGIC)


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_piped_table_rows_are_whole_lines(sine_comparison) -> None:
    out, stdout = sine_comparison
    doc = json.loads((out / COMPARE_JSON).read_text())
    lines = stdout.splitlines()
    for v in doc["variants"]:   # each row on one line, with its label, verdict and latency whole
        row = [ln for ln in lines if f" {v['label']} " in ln and "│ yes" in ln]
        assert len(row) == 1, stdout
        assert f"{v['latency_p50']:,.0f}" in row[0]
    assert "…" not in stdout
    assert any(ln.startswith("profile coverage tflm (CMSIS-NN): ") for ln in lines), stdout


@pytest.mark.toolchain
@pytest.mark.qemu
def test_a_failing_runtime_is_a_row_and_the_others_still_run(benchmark_model, tmp_path: Path) -> None:
    # A directory that passes for a TFLM tree but has no kernels: its row fails (at generate, naming
    # what the tree lacks), edgekit-rt still runs.
    broken = tmp_path / "broken-tflm"
    (broken / "tensorflow/lite/micro").mkdir(parents=True)
    (broken / "tensorflow/lite/micro/micro_interpreter.cc").write_text("#error not a real TFLM\n")
    (broken / "tensorflow/lite/micro/micro_mutable_op_resolver.h").write_text("")
    out = tmp_path / "out"
    r = run_cli("compare", benchmark_model("sine"), "--board", BOARD, "--tflm-dir", broken, "-o", out,
                "--samples", "3", "--runs", "2", "--json", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.returncode == 1, r.stdout + r.stderr
    doc = json.loads(r.stdout)   # stdout is the one JSON document, also in compare.json
    assert doc == json.loads((out / COMPARE_JSON).read_text())
    rt, tflm = doc["variants"]
    assert rt["exact"] and rt["error"] is None
    assert tflm["label"] == "tflm (reference)" and not tflm["exact"]
    assert "has no kernel for FULLY_CONNECTED" in tflm["error"]
    assert tflm["ratios"]["latency"] is None and doc["problems"] == [f"tflm (reference) failed: {tflm['error']}"]
    assert r.stderr.splitlines()[-1].startswith("error: tflm (reference) failed: ")


def test_without_a_tree_only_edgekit_rt_is_planned_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.boards import load_board
    from edgekit.compare.run import plan_variants

    monkeypatch.delenv("TFLM_DIR", raising=False)
    variants, notes = plan_variants(load_board(BOARD))
    assert [v.label for v in variants] == ["edgekit-rt"]
    assert notes == ["tflm left out: no TFLM tree (pass --tflm-dir DIR, repeatable, or set TFLM_DIR)"]
    assert variants[0].options.optimize is None   # chosen against the board by generate
    variants, _ = plan_variants(load_board(BOARD), optimize="size")   # compare --optimize
    assert variants[0].options.optimize == "size"


@pytest.mark.tflm
def test_the_same_kernels_twice_are_told_apart(tflm_tree, tmp_path: Path) -> None:
    from edgekit.boards import load_board
    from edgekit.compare.run import plan_variants

    ref = tflm_tree("ref")
    copy = tmp_path / "ref-copy"
    copy.symlink_to(ref.resolve(), target_is_directory=True)   # resolves to the same tree: one row
    variants, _ = plan_variants(load_board(BOARD), tflm_dirs=[ref, copy])
    assert [v.label for v in variants] == ["edgekit-rt", "tflm (reference)"]


@pytest.mark.parametrize("args, code, fragment", [
    (("--tflm-dir", "/nonexistent/tflm"), 4, "is not a TFLM source tree"),
    (("--runtimes", "edgekit-rt,auto"), 2, "unknown runtime 'auto'"),
    (("--runtimes", "edgekit-rt", "--tflm-dir", "/nonexistent/tflm"), 2, "tflm is not among --runtimes"),
])
def test_bad_input_fails_before_anything_runs(benchmark_model, tmp_path: Path, args, code, fragment) -> None:
    out = tmp_path / "out"
    r = run_cli("compare", benchmark_model("sine"), "--board", BOARD, "-o", out, *args)
    assert_clean_error(r, code, fragment)
    assert not out.exists()   # nothing half-written


def test_unknown_board_is_exit_2(benchmark_model, tmp_path: Path) -> None:
    r = run_cli("compare", benchmark_model("sine"), "--board", "no-such-board", "-o", tmp_path / "out")
    assert_clean_error(r, 2, "no-such-board")


def _synthetic() -> Comparison:
    """Three runtimes that ran and one that failed to build, with made-up figures."""
    from edgekit.compare.result import BuildTimes, VariantResult
    from edgekit.hil.evaluate import Agreement, latency
    from edgekit.hil.profile import LayerProfile, OpCost
    from edgekit.project.size import SizeReport
    from edgekit.runtimes.base import Variant

    def ran(label: str, runtime: str, count: int, flash: int) -> VariantResult:
        profile = LayerProfile(runtime, "instructions", (OpCost(0, "DEPTHWISE_CONV_2D", 500, count - 10),), count)
        return VariantResult(Variant(runtime, label, label), Path("/p"), None, BuildTimes(9.0, 0.3),
                             SizeReport(BOARD, flash, 0, 0, 1000, 0, 1 << 20, 192 << 10), 4000,
                             Agreement(5, 1.0, 1.0, 0, 1.0, 1.0, 0.0), latency([count] * 3, 10**9), profile)

    failed = VariantResult(Variant("tflm", "tflm (reference)", "tflm-ref"),
                           error="firmware build failed in /x: [error] no such file")
    return Comparison(Path("m.tflite"), "0" * 64, BOARD, True, "5 random inputs", 5,
                      [ran("edgekit-rt", "edgekit-rt", 1_000_000, 50_000),
                       ran("tflm (CMSIS-NN)", "tflm", 1_500_000, 120_000), failed])


def test_a_narrow_terminal_keeps_labels_whole_and_prints_errors_below(tmp_path: Path) -> None:
    from rich.console import Console

    from edgekit.compare.report import comparison_table, console_lines, profile_table, write_outputs

    c = _synthetic()
    console = Console(width=80, record=True, force_terminal=False)
    console.print(comparison_table(c, 80))
    console.print(profile_table(c))
    for line in console_lines(c):
        console.print(line)
    shown = console.export_text()
    assert "…" not in shown and max(len(ln) for ln in shown.splitlines()) <= 80, shown
    for label, verdict in (("edgekit-rt", "yes"), ("tflm (CMSIS-NN)", "yes"), ("tflm (reference)", "failed")):
        assert any(f"│ {label} " in ln and f"│ {verdict} " in ln for ln in shown.splitlines()), shown
    assert "tflm (reference) failed: firmware build failed in /x: [error] no such file" in shown
    assert c.ratio(c.results[1], "latency") == 1.5 and c.problems == [
        "tflm (reference) failed: firmware build failed in /x: [error] no such file"]
    files = write_outputs(c, tmp_path)
    assert "| tflm (reference) | failed |" in (tmp_path / COMPARE_MD).read_text()
    assert files[2].read_bytes().startswith(PNG_MAGIC)


def test_cycles_on_a_physical_board_is_refused_before_anything_runs(benchmark_model, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("compare", benchmark_model("sine"), "--board", "nucleo-l4r5zi", "--cycles", "-o", out)
    assert_clean_error(r, 2, "cycles are estimated with Cortex-M4 timings on a virtual board")
    assert not out.exists()

"""`edgekit hil --profile`: each op of one invoke timed on the board (edgekit-rt through the
generated code's op hook, TFLM through its MicroProfilerInterface), joined with the graph's
MACs, written to report.json, report.md, the console and profile.png; a firmware without the
profiler is refused; replies of models with hundreds of ops come in pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import DeviceError
from edgekit.hil import protocol as P
from edgekit.hil.profile import NO_PROFILER, read_profile
from edgekit.hil.session import Session
from edgekit.model.tflite_graph import load_graph
from tests.conftest import run_cli

BOARD = "qemu-netduinoplus2"
COVERAGE = 0.02  # the per-op sum within 2 % of the whole invoke


def _build(model: Path, project: Path, *args: str | Path) -> Path:
    r = run_cli("generate", model, "--board", BOARD, "-o", project, *args)
    assert r.returncode == 0, r.stderr
    r = run_cli("build", project, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    return project


def _profiled_hil(project: Path) -> tuple[dict, str]:
    """`edgekit hil --profile` on two random inputs; (report.json, console output)."""
    shape = load_graph(project / "model" / "model.tflite").input_tensors[0].shape
    data = project / "random.npz"
    np.savez(data, x=np.random.default_rng(0).normal(0, 1, (2, *shape[1:])).astype(np.float32))
    r = run_cli("hil", project, "--profile", "--require-exact", "--runs", "1", "--warmup", "0",
                "--data", data, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads((project / "hil-report" / "report.json").read_text()), r.stdout


def _check_profile(project: Path, report: dict, runtime: str) -> dict:
    """The profile's ops are the graph's, in order, and add up to the whole invoke."""
    graph = load_graph(project / "model" / "model.tflite")
    prof = report["profile"]
    assert prof["runtime"] == runtime and prof["unit"] == "instructions"
    assert [(o["index"], o["op"]) for o in prof["ops"]] == [(op.index, op.op) for op in graph.operators]
    assert prof["total"] == sum(o["count"] for o in prof["ops"])
    assert abs(prof["total"] / prof["invoke"] - 1) <= COVERAGE, prof
    assert all(o["count"] > 0 for o in prof["ops"])  # every op ran its own code
    return prof


@pytest.fixture(scope="module")
def rt_project(benchmark_model: Callable[[str], Path],
               tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    built: dict[str, Path] = {}

    def get(model: str) -> Path:
        if model not in built:
            built[model] = _build(benchmark_model(model), tmp_path_factory.mktemp(f"prof-{model}") / "fw",
                                  "--runtime", "edgekit-rt")
        return built[model]

    return get


@pytest.mark.toolchain
@pytest.mark.qemu
def test_edgekit_rt_profile_of_sine_in_every_report_form(rt_project: Callable[[str], Path]) -> None:
    project = rt_project("sine")
    report, console = _profiled_hil(project)
    prof = _check_profile(project, report, "edgekit-rt")
    fc = prof["ops"][1]  # FULLY_CONNECTED 16 -> 16
    assert fc["macs"] == 16 * 16 and fc["per_mac"] == pytest.approx(fc["count"] / 256)
    assert sum(o["share"] for o in prof["ops"]) == pytest.approx(prof["coverage"])
    md = (project / "hil-report" / "report.md").read_text()
    assert "## Per-op profile (edgekit-rt, one invoke)" in md
    assert f"| 1 | FULLY_CONNECTED | 256 | {fc['count']:,} |" in md
    assert "per-op profile" in console and "covered" in console and "FULLY_CONNECTED" in console
    png = project / "hil-report" / "profile.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.toolchain
@pytest.mark.qemu
def test_cycle_estimate_of_sine_beside_the_profilers_instructions(rt_project: Callable[[str], Path]) -> None:
    project = rt_project("sine")
    data = project / "random.npz"
    np.savez(data, x=np.random.default_rng(0).normal(0, 1, (1, 1)).astype(np.float32))
    r = run_cli("hil", project, "--cycles", "--runs", "1", "--warmup", "0", "--data", data, "--json", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    est = json.loads(r.stdout)["cycle_estimate"]
    assert est["label"] == "estimated cycles (Cortex-M4 TRM timings, 0 flash wait states)"
    graph = load_graph(project / "model" / "model.tflite")
    assert [o["op"] for o in est["ops"]] == [op.op for op in graph.operators]
    # the trace sees what the board's counter counted: per op within the hook's few instructions
    assert abs(est["invoke_instructions"] - est["profiler_instructions"]) <= 64
    assert all(0 < o["instructions"] <= o["cycles"] <= 3 * o["instructions"] for o in est["ops"])
    assert est["invoke_cycles"] > sum(o["cycles"] for o in est["ops"])  # + the tail after the last op
    low, high = est["refill_range"]
    assert est["invoke_refills"] > 0 and low == est["invoke_cycles"] - est["invoke_refills"] < high
    r = run_cli("hil", project, "--cycles", "--port", "/dev/null", "--runs", "0")
    assert r.returncode == 2 and "--cycles runs its own virtual board" in r.stderr


@pytest.mark.toolchain
@pytest.mark.qemu
def test_edgekit_rt_profile_of_ds_cnn(rt_project: Callable[[str], Path]) -> None:
    project = rt_project("ds_cnn_kws")
    report, _ = _profiled_hil(project)
    prof = _check_profile(project, report, "edgekit-rt")
    conv, fc = prof["ops"][0], prof["ops"][10]
    assert conv["op"] == "CONV_2D" and conv["macs"] == 25 * 5 * 64 * 10 * 4  # output H*W*C x kernel
    assert fc["op"] == "FULLY_CONNECTED" and fc["macs"] == 12 * 64
    assert prof["ops"][11]["op"] == "SOFTMAX" and prof["ops"][11]["per_mac"] is None


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_tflm_reference_profile_of_sine(tflm_tree: Callable[[str], Path], benchmark_model: Callable[[str], Path],
                                        tmp_path: Path) -> None:
    project = _build(benchmark_model("sine"), tmp_path / "fw", "--runtime", "tflm", "--tflm-dir", tflm_tree("ref"))
    report, _ = _profiled_hil(project)
    _check_profile(project, report, "tflm")


def test_firmware_without_profiler_is_refused(device) -> None:
    """A model header from before the profiler: INFO says so, PROFILE is an unknown command,
    and the host refuses with a line saying to regenerate."""
    with Session(device.path) as s:
        assert not s.device.has_profiler
        with pytest.raises(DeviceError, match="UNKNOWN_CMD"):
            s.request(P.Msg.PROFILE, b"\x01\x00\x00\x00")
        with pytest.raises(DeviceError, match=NO_PROFILER) as exc:
            read_profile(s, np.zeros(16, np.int8))
        assert exc.value.exit_code == 3 and "regenerate" in (exc.value.hint or "")


def test_profile_of_hundreds_of_ops_comes_in_pages(device_factory) -> None:
    device = device_factory(defines=("FAKE_MODEL_OPS=300",))
    with Session(device.path) as s:
        assert s.device.has_profiler
        invoke, counts = read_profile(s, np.arange(16, dtype=np.int8))
        assert len(counts) == 300 and sum(counts) <= invoke
        assert s.max_payload < 12 + 4 * 300  # so it took more than one reply
        with pytest.raises(DeviceError, match="BAD_ARG"):
            s.request(P.Msg.PROFILE, b"\x00\x00" + (301).to_bytes(2, "little"))
        with pytest.raises(DeviceError, match="BAD_LENGTH"):
            s.request(P.Msg.PROFILE, b"\x01")


def test_runtime_that_reports_no_op_is_named(device_factory) -> None:
    """A TFLM built with TF_LITE_STRIP_ERROR_STRINGS sends no profiler events: all-zero counts
    would read as a profile, so the host says why there is none."""
    device = device_factory(defines=("FAKE_MODEL_OPS=4", "FAKE_MODEL_SILENT_OPS"))
    with Session(device.path) as s, pytest.raises(DeviceError, match="reported none of its 4 ops"):
        read_profile(s, np.zeros(16, np.int8))


def test_chart_of_hundreds_of_ops_keeps_the_costliest(tmp_path: Path) -> None:
    from edgekit.hil.profile import LayerProfile, OpCost
    from edgekit.hil.profile_report import MAX_BARS, write_profile_png

    ops = tuple(OpCost(i, "CONV_2D" if i % 2 else "ADD", 100 * i, 10 + (i * 37) % 1000) for i in range(250))
    prof = LayerProfile("edgekit-rt", "cycles", ops, invoke_cycles=sum(o.cycles for o in ops))
    assert prof.coverage == 1.0 and prof.to_dict()["ops"][0]["per_mac"] is None  # op 0: 0 MACs
    png = write_profile_png(prof, tmp_path / "profile.png", "board")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and MAX_BARS < 250

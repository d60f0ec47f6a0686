"""The whole pipeline on the virtual board for every example, through the CLI:
train -> quantize -> generate -> build -> hil (QEMU), exact with the host TFLM reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]
BOARD = "qemu-netduinoplus2"


@pytest.mark.parametrize("name", ["sine", "gesture", "anomaly", "digits"])
def test_example_on_virtual_board(cli, trained_example, tmp_path: Path, name: str) -> None:
    ex = trained_example(name)
    project = tmp_path / "fw"
    r = cli("generate", ex.tflite, "--board", BOARD, "-o", project)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((project / "edgekit.json").read_text())
    assert manifest["origin"]["example"] == name and manifest["runtime"] == "edgekit-rt"
    if name in ("gesture", "digits"):  # the project records what the harness reports with
        assert manifest["origin"]["class_names"] and manifest["origin"]["task"] == "classification"
    r = cli("build", project)
    assert r.returncode == 0, r.stderr
    assert "flash" in r.stdout and (project / "build" / "firmware.elf").is_file()
    r = cli("hil", project, "--require-exact", "--runs", "20", "--junit", tmp_path / "junit.xml")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((project / "hil-report" / "report.json").read_text())
    assert report["status"] == "complete" and report["host_reference"] == "tflm"
    n_test = report["samples_planned"]
    assert report["samples_measured"] == n_test and n_test >= 100
    agree = report["agreement"]
    assert agree["exact_share"] == 1.0 and agree["max_abs_diff_lsb"] == 0
    task = report["task"]
    assert task["device"] == task["host_int8"]  # the device computes what the host reference does
    assert task["device"] == pytest.approx(ex.quant["int8_value"], abs=1e-9)
    lat = report["latency"]
    assert lat["runs"] == 20 and lat["counts"]["min"] == lat["counts"]["max"]  # deterministic under -icount
    assert (project / "hil-report" / "latency.png").is_file()
    if name in ("gesture", "digits"):
        assert (project / "hil-report" / "confusion.png").is_file()


def test_board_running_another_model_is_named(cli, trained_example, tmp_path: Path) -> None:
    """The project's own image built for another model is refused before it runs; a board
    running another project's firmware: hil names both hashes."""
    sine, digits = trained_example("sine"), trained_example("digits")
    project = tmp_path / "fw"
    assert cli("generate", sine.tflite, "--board", BOARD, "-o", project).returncode == 0
    assert cli("build", project).returncode == 0
    other = tmp_path / "other"
    shutil.copytree(project, other)   # a built sine project
    assert cli("generate", digits.tflite, "--board", BOARD, "-o", project).returncode == 0
    assert_clean_error(cli("hil", project, "--runs", "0"), 2,  # the sine image is still in build/
                       "firmware is older than the project's sources", "the model changed since the build")
    assert cli("build", project).returncode == 0
    assert cli("sim", "start", BOARD, other).returncode == 0
    try:
        pty = json.loads((other / "build" / "sim.json").read_text())["pty"]
        r = cli("hil", project, "--runs", "0", "--port", pty)
    finally:
        cli("sim", "stop", BOARD, other)
    assert_clean_error(r, 3, "runs model sha256:" + sine.quant["sha256"][:16], digits.quant["sha256"][:16])
    report = json.loads((project / "hil-report" / "runs" / "0001" / "report.json").read_text())
    assert report["status"] == "failed" and report["samples_measured"] == 0


def test_deploy_runs_the_whole_pipeline(cli, tmp_path: Path) -> None:
    """What `make demo` runs: one command from example to a validated virtual board."""
    r = cli("deploy", "sine", "-o", tmp_path / "sine", "--require-exact")
    assert r.returncode == 0, r.stdout + r.stderr
    for stage in ("train", "quantize", "generate", "build", "flash", "hil"):
        assert f"│ {stage}" in r.stdout
    report = json.loads((tmp_path / "sine" / f"firmware-{BOARD}" / "hil-report" / "report.json").read_text())
    assert report["agreement"]["exact_share"] == 1.0 and report["task"]["metric"] == "mae"
    assert_clean_error(cli("deploy", "weather", "-o", tmp_path / "w"), 2, "neither an example")


def test_gesture_live_inference_on_the_virtual_board(cli, trained_example, tmp_path: Path) -> None:
    """stream --infer: the board quantizes its accelerometer (mg) for the model (g) and
    classifies a sliding window; every prediction equals TFLM on the window the host rebuilds."""
    import numpy as np

    from edgekit.hil.protocol import sensor_to_input
    from edgekit.model.reference import int8_interpreter
    from edgekit.model.tflite_graph import load_graph

    ex = trained_example("gesture")
    project = tmp_path / "fw"
    assert cli("generate", ex.tflite, "--board", BOARD, "-o", project).returncode == 0
    assert cli("build", project).returncode == 0
    out = tmp_path / "live.npz"
    # No --input-per-unit: the project knows its example takes g, the sensor reports mg.
    r = cli("stream", "--board", BOARD, "--project", project, "--sensor", "accel", "--rate", "100",
            "--seconds", "2.5", "--infer", "-o", out)
    assert r.returncode == 0, r.stderr
    d = np.load(out)
    assert np.array_equal(d["seq"], np.arange(len(d["seq"])))  # nothing lost: the window is rebuildable
    graph = load_graph(ex.tflite)
    tin = graph.input_tensors[0]
    per_lsb = np.float32(0.001) / np.float32(tin.scale)
    flat = np.array([sensor_to_input(int(v), per_lsb=per_lsb, zero_point=tin.zero_point)
                     for v in d["values"].reshape(-1)], dtype=np.int8)
    window = int(np.prod(tin.shape))
    ends = [i for i in range(len(d["seq"])) if d["has_prediction"][i]]
    assert len(ends) >= 50 and ends[0] == window // 3 - 1  # the first full window is sample 127
    xq = np.stack([flat[(i + 1) * 3 - window:(i + 1) * 3] for i in ends])
    expected = int8_interpreter(ex.tflite.read_bytes(), graph).run(xq)
    assert np.array_equal(expected.reshape(len(ends), -1), d["prediction"][ends])

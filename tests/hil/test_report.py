"""Validation figures and report files from known measurements."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from edgekit.hil.evaluate import Gates, LinkStats, TaskComparison, agreement, latency, task_comparison
from edgekit.hil.report import DeviceRecord, HilReport, console_tables, markdown, write_report


def test_agreement_counts_lsb_differences() -> None:
    host = np.array([[10, -5, 3], [0, 0, 0], [127, -128, 1]], dtype=np.int8)
    dev = host.copy()
    dev[2, 1] = -126  # 2 LSB off on one element of one sample
    a = agreement(dev, host, scale=0.5, zero_point=0)
    assert a.samples == 3 and a.exact_share == pytest.approx(2 / 3)
    assert a.exact_elements_share == pytest.approx(8 / 9)
    assert a.max_abs_diff_lsb == 2 and a.mismatched_samples == [2]
    # RMSE in real units: one element off by 2 LSB * 0.5 over 9 elements.
    assert a.rmse == pytest.approx(np.sqrt(1.0 / 9))
    assert a.cosine_min < 1.0 and a.cosine_mean > 0.99
    same = agreement(host, host, 0.5, 0)
    assert same.exact_share == 1.0 and same.cosine_min == pytest.approx(1.0)


def test_latency_skips_warmup_and_converts_to_microseconds() -> None:
    cycles = [999_999] + [168_000] * 98 + [336_000]
    lat = latency(cycles, 168_000_000, warmup=1)
    assert lat.counts is not None and lat.us is not None
    assert lat.runs == 99 and lat.counts.min == 168_000 and lat.counts.max == 336_000
    assert lat.us.p50 == pytest.approx(1000.0) and lat.us.max == pytest.approx(2000.0)
    assert lat.to_dict()["counts"]["max"] == 336_000 and latency([], 1).to_dict() == {"runs": 0}


def test_task_comparison_and_confusion() -> None:
    x = np.zeros((4, 2), np.float32)
    y = np.array([0, 1, 1, 0])
    dev = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]], np.float32)
    cmp = task_comparison("classification", x, y, dev, dev, dev, ["a", "b"])
    assert cmp.device == cmp.host_int8 == cmp.float == 0.75
    assert cmp.confusion == [[2, 0], [1, 1]]


def _report(**over) -> HilReport:
    rep = HilReport(
        edgekit_version="0.1.0", board="qemu-netduinoplus2", virtual=True, project="fw", model_sha256="ab" * 32,
        data="x.npz", samples_planned=10, host_reference="tflm", status="complete", port="/dev/pts/9",
        device=DeviceRecord("qemu-netduinoplus2", "0.1.0", "edgekit-rt", 1024, 256), cycles_hz=1_000_000_000,
        samples_measured=10,
        task=TaskComparison("classification", "accuracy", device=0.95, host_int8=0.95, float=0.96,
                            confusion=[[5, 1], [0, 4]], class_names=["idle", "wave"]),
        agreement=agreement(np.zeros((10, 2), np.int8), np.zeros((10, 2), np.int8), 1.0, 0),
        latency=latency([100_000] * 20, 1_000_000_000, warmup=2),
        link=LinkStats(1000, 2000, 1.5, 115200))
    for key, value in over.items():
        setattr(rep, key, value)
    return rep


def test_gates() -> None:
    rep = _report()
    assert all(g.passed for g in Gates(0.9, 1.0, True).evaluate(rep))
    failed = [g for g in Gates(0.97, 0.05, True).evaluate(rep) if not g.passed]
    assert [g.name for g in failed] == ["min-accuracy", "max-latency-ms"]
    assert "0.9500 < required 0.9700" in failed[0].message and "0.100 ms > allowed 0.050 ms" in failed[1].message
    assert rep.agreement is not None
    rep.agreement.exact_share = 0.9
    assert not Gates(require_exact=True).evaluate(rep)[0].passed
    mae = TaskComparison("regression", "mae", device=0.1)
    assert "MAE" in Gates(min_accuracy=0.5).evaluate(_report(task=mae))[0].message
    nothing = Gates(0.5, 1.0, True).evaluate(_report(task=None, latency=None, agreement=None))
    assert [g.message for g in nothing] == [
        "--min-accuracy given but the data has no labels to measure it",
        "--max-latency-ms given but no latency was measured",
        "device outputs equal the host reference on 0.00% of samples (max diff ?); --require-exact wants 100%"]


def test_report_json_keys() -> None:
    """report.json keeps its layout: optional parts are left out until measured."""
    rep = _report()
    rep.gates = Gates(0.99).evaluate(rep)
    d = rep.to_dict()
    assert list(d) == ["edgekit_version", "board", "virtual", "project", "model_sha256", "data", "samples_planned",
                       "host_reference", "status", "error", "port", "device", "cycles_hz", "samples_measured",
                       "agreement", "task", "latency", "link", "gates"]
    assert d["device"] == {"board_id": "qemu-netduinoplus2", "firmware_version": "0.1.0", "runtime": "edgekit-rt",
                           "arena_bytes": 1024, "max_payload": 256}
    assert d["link"] == {"bytes_sent": 1000, "bytes_received": 2000, "seconds": 1.5, "inferences_per_second": None,
                         "resends": 0, "bytes_per_second": 2000.0, "theoretical_bytes_per_second": 11520.0,
                         "share_of_theoretical": 2000.0 / 11520.0}
    assert d["latency"]["runs"] == 18 and d["latency"]["warmup"] == 2 and "source" not in d["latency"]
    assert d["gates"] == [{"name": "min-accuracy", "passed": False,
                           "message": "on-device accuracy 0.9500 < required 0.9900"}]
    started = HilReport("0.1.0", "b", False, "fw", "ab", "x.npz", 3, "tflm", qemu_argv=["qemu-system-arm"])
    assert list(started.to_dict()) == ["edgekit_version", "board", "virtual", "project", "model_sha256", "data",
                                       "samples_planned", "host_reference", "status", "error", "virtual_board",
                                       "samples_measured"]
    assert started.to_dict()["virtual_board"] == {"argv": ["qemu-system-arm"]}


def test_report_files(tmp_path: Path) -> None:
    rep = _report()
    rep.gates = Gates(0.99).evaluate(rep)
    paths = write_report(rep, tmp_path / "r", cycles=[100_000] * 20, junit=tmp_path / "junit.xml")
    names = {p.name for p in paths}
    assert names == {"report.json", "report.md", "latency.png", "confusion.png", "junit.xml"}
    assert json.loads((tmp_path / "r" / "report.json").read_text())["board"] == "qemu-netduinoplus2"
    md = (tmp_path / "r" / "report.md").read_text()
    assert "QEMU instructions" in md and "**FAIL** min-accuracy" in md
    for png in ("latency.png", "confusion.png"):
        assert (tmp_path / "r" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert [t.title for t in console_tables(rep)] == [
        "accuracy on 10 test samples", "agreement with the host reference (tflm)",
        "latency after 2 warm-up runs (18 runs)", "link"]
    assert "instructions" in markdown(rep)

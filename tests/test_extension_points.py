"""A runtime and a board family are extension points: a test registers one of each (a module plus
one registry line) and generate, inspect, build and compare handle them with no other edit.

The family is the PC itself (tests/fixtures/host_family: the host port built with gcc, its
"virtual board" a process whose console is a pty); the runtime is edgekit-rt's code generator
under another name (tests/fixtures/fake_runtime.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.boards import load_board
from edgekit.project.families import FAMILIES
from edgekit.runtimes.registry import RUNTIMES
from tests.firmware_sources import HOST
from tests.fixtures.fake_runtime import FakeRuntime
from tests.fixtures.host_family.host_family import HostFamily

FIXTURE = Path(__file__).parent / "fixtures" / "host_family"
BOARDS = FIXTURE / "boards"


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host family and the fake runtime in their registries for this test only."""
    templates = tmp_path / "host-templates"
    shutil.copytree(FIXTURE / "templates", templates)
    for name in ("main.c", "ek_port_host.c", "ek_port_host.h"):   # the host port is the family's port
        (templates / "src").mkdir(exist_ok=True)
        shutil.copy(HOST / name, templates / "src" / name)
    monkeypatch.setitem(FAMILIES, HostFamily.name, HostFamily(templates))
    monkeypatch.setitem(RUNTIMES, FakeRuntime.name, FakeRuntime())
    monkeypatch.delenv("TFLM_DIR", raising=False)
    yield


def edgekit(*args: str | Path) -> tuple[int, str, str]:
    """The edgekit command in this process, where the registries hold the test's entries."""
    from edgekit.cli import cli

    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_the_registries_name_the_new_family_and_runtime(registered) -> None:
    code, out, err = edgekit("boards", "--boards-dir", BOARDS, "show", "host-pc", "--json")
    assert code == 0, err
    assert json.loads(out)["family"] == "host"
    code, out, _ = edgekit("generate", "--help")
    assert code == 0 and "fake-rt" in out.replace("\n", " ")


def test_inspect_sizes_the_new_runtime_on_the_new_board(registered, benchmark_model) -> None:
    code, out, err = edgekit("inspect", benchmark_model("sine"), "--board", "host-pc", "--board",
                             "qemu-netduinoplus2", "--boards-dir", BOARDS, "--json")
    assert code == 0, err
    fits = {(f["board"], f["runtime"]): f for f in json.loads(out)["fits"]}
    every = {(b, rt) for b in ("host-pc", "qemu-netduinoplus2") for rt in ("edgekit-rt", "tflm", "fake-rt")}
    assert set(fits) == every - {("host-pc", "tflm")}   # the host family has no TFLM: no fit row
    ours, theirs = fits["host-pc", "fake-rt"], fits["host-pc", "edgekit-rt"]
    from edgekit.codegen import compile_model
    from edgekit.model.tflite_graph import load_graph
    from edgekit.runtimes.edgekit_rt import code_flash_bytes

    sine = compile_model(load_graph(benchmark_model("sine")))
    assert ours["flash_needed"] - theirs["flash_needed"] == 4321 - code_flash_bytes(sine)
    assert fits["host-pc", "edgekit-rt"]["chosen"] and not ours["chosen"]


@pytest.mark.toolchain   # the host family builds with CMake
def test_generate_build_and_hil_run_the_new_runtime_on_the_new_board(registered, benchmark_model,
                                                                     tmp_path: Path) -> None:
    project = tmp_path / "fw"
    code, out, err = edgekit("generate", benchmark_model("sine"), "--board", "host-pc", "--boards-dir", BOARDS,
                             "-o", project, "--runtime", "fake-rt", "--json")
    assert code == 0, err
    assert json.loads(out)["runtime"] == "fake-rt"
    assert (project / "cmake" / "host.cmake").is_file() and (project / "src" / "ek_port_host.c").is_file()
    code, out, err = edgekit("build", project, "--boards-dir", BOARDS, "--json")
    assert code == 0, err
    assert Path(json.loads(out)["elf"]).is_file()
    x = tmp_path / "x.npz"
    import numpy as np

    np.savez(x, x=np.linspace(0, 6, 12, dtype=np.float32).reshape(12, 1))
    code, out, err = edgekit("hil", project, "--boards-dir", BOARDS, "--data", x, "--runs", "5",
                             "--require-exact", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["agreement"]["exact_share"] == 1.0 and report["device"]["board_id"] == "host-pc"


def test_auto_passes_over_what_the_board_cannot_have(registered, monkeypatch: pytest.MonkeyPatch) -> None:
    """tflm asked for by name is refused on a family that cannot have it; auto takes the first
    registered runtime that runs the model and builds for the board, saying why."""
    from edgekit.errors import MissingToolError, ModelError
    from edgekit.model.tflite_graph import load_graph
    from edgekit.runtimes.base import RuntimeOptions
    from edgekit.runtimes.registry import choose_runtime

    board, none = load_board("host-pc", [BOARDS]), RuntimeOptions()
    graph = load_graph(Path(__file__).parent / "fixtures" / "models" / "sine.tflite")
    with pytest.raises(MissingToolError, match="tflm cannot build for host-pc: the host test family"):
        choose_runtime(graph, "tflm", board, none)
    assert choose_runtime(graph, "auto", board, none).name == "edgekit-rt"
    monkeypatch.setattr(RUNTIMES["edgekit-rt"], "gaps", lambda g: ("AN_OP",))
    choice = choose_runtime(graph, "auto", board, none)
    assert choice.name == "fake-rt"
    assert choice.reason == ("runtime fake-rt (auto): edgekit-rt does not support AN_OP; "
                             "tflm: tflm cannot build for host-pc: the host test family does not build TFLM")
    monkeypatch.setattr(RUNTIMES["fake-rt"], "gaps", lambda g: ("AN_OP",))
    with pytest.raises(ModelError, match="this model needs runtime tflm: edgekit-rt does not support AN_OP; "
                                         "fake-rt does not support AN_OP, and tflm cannot build for host-pc"):
        choose_runtime(graph, "auto", board, none)


@pytest.mark.toolchain
def test_compare_runs_every_variant_the_registry_gives_on_the_new_board(registered, benchmark_model,
                                                                        tmp_path: Path) -> None:
    out_dir = tmp_path / "compare"
    code, out, err = edgekit("compare", benchmark_model("sine"), "--board", "host-pc", "--boards-dir", BOARDS,
                             "--runtimes", "edgekit-rt,tflm,fake-rt", "--samples", "4", "--runs", "3", "-o", out_dir,
                             "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert [v["label"] for v in doc["variants"]] == ["edgekit-rt", "fake-rt"]
    assert doc["all_exact"] and doc["notes"] == ["tflm left out: the host test family does not build TFLM"]
    assert (out_dir / "fake-rt" / "build" / "firmware.elf").is_file()

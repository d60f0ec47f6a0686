"""TFLM as a second runtime on the virtual board: built once into edgekit's TFLM library cache,
exact against tflite_micro, chosen by --runtime auto for a model edgekit-rt cannot run.

One session fixture builds the library per tree (the user's cache, so CI reuses it across
runs); every other test links against it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgekit.project.families import CrossBuild
from edgekit.runtimes.base import CachedLibrary
from edgekit.runtimes.tflm import library as tflm_lib
from edgekit.runtimes.tflm.library import STAMP, cache_root, library_sources
from edgekit.runtimes.tflm.tree import find_tree
from tests.conftest import assert_clean_error, run_cli

pytestmark = pytest.mark.long   # minutes: scheduled first (tests/conftest.py)

BOARD = "qemu-netduinoplus2"
CORTEX_M4 = CrossBuild("cmake/arm-none-eabi.cmake", ("-mcpu=cortex-m4",), "arm-none-eabi-g++", "ARM_GCC_ROOT")
_TFLM_OBJECT = re.compile(
    r"Building (?:CXX|C) object CMakeFiles/tflm\.dir/\S*?/((?:tensorflow|signal|third_party)/\S+)\.obj")


def _compiled_tflm(project: Path) -> list[str]:
    """The TFLM sources the project's last `edgekit build` compiled (from its build log)."""
    log = (project / "build" / "edgekit-build.log").read_text()
    return _TFLM_OBJECT.findall(log)


def _generate_and_build(model: Path, project: Path, *args: str | Path) -> None:
    r = run_cli("generate", model, "--board", BOARD, "-o", project, *args)
    assert r.returncode == 0, r.stderr
    r = run_cli("build", project, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr


def _run_exact(project: Path) -> dict:
    """Run `edgekit hil --require-exact` on random inputs (the benchmark models have no data)."""
    from edgekit.model.tflite_graph import load_graph

    shape = load_graph(project / "model" / "model.tflite").input_tensors[0].shape
    data = project / "random.npz"
    np.savez(data, x=np.random.default_rng(0).normal(0, 1, (8, *shape[1:])).astype(np.float32))
    r = run_cli("hil", project, "--require-exact", "--runs", "5", "--data", data)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((project / "hil-report" / "report.json").read_text())
    assert report["host_reference"] == "tflm" and report["agreement"]["exact_share"] == 1.0
    return report


@pytest.fixture(scope="session")
def tflm_project(tflm_tree: Callable[[str], Path], benchmark_model: Callable[[str], Path],
                 tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """tflm_project(kind, model): a built tflm project of a benchmark model, once per session."""
    built: dict[tuple[str, str], Path] = {}

    def get(kind: str, model: str) -> Path:
        if (kind, model) not in built:
            project = tmp_path_factory.mktemp(f"tflm-{kind}-{model}") / "fw"
            _generate_and_build(benchmark_model(model), project, "--runtime", "tflm",
                                "--tflm-dir", tflm_tree(kind))
            built[kind, model] = project
        return built[kind, model]

    return get


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["ref", "cmsis_nn"])
@pytest.mark.parametrize("model", ["sine", "ds_cnn_kws"])
def test_tflm_project_is_exact_on_the_virtual_board(tflm_project, kind: str, model: str) -> None:
    project = tflm_project(kind, model)
    cmake = (project / "CMakeLists.txt").read_text()
    assert "ekrt_" not in cmake  # a tflm project does not compile edgekit-rt's kernels
    assert "ek_tflm_use(firmware)" in cmake
    _run_exact(project)


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
@pytest.mark.parametrize("kind", ["ref", "cmsis_nn"])
def test_second_project_reuses_the_cached_library(tflm_project, tflm_tree, benchmark_model, kind: str,
                                                  tmp_path: Path) -> None:
    first = tflm_project(kind, "sine")
    tree = find_tree(tflm_tree(kind))
    entries = [json.loads(p.read_text()) for p in cache_root().glob(f"*/{STAMP}")]
    stamp = next(e for e in entries if e["tree"] == str(tree.root))
    assert set(library_sources(tree, ["FULLY_CONNECTED"])) <= set(stamp["sources"])
    second = tmp_path / "fw"
    _generate_and_build(benchmark_model("sine"), second, "--runtime", "tflm", "--tflm-dir", tree.root)
    assert _compiled_tflm(second) == []   # linked against the cache: no TFLM source compiled
    log = (second / "build" / "edgekit-build.log").read_text()
    assert f"-DEK_TFLM_LIB={cache_root()}" in log
    assert (second / "build" / "firmware.elf").is_file() and first != second


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_growing_the_kernel_set_compiles_only_the_new_kernels(tflm_project, tflm_tree) -> None:
    tflm_project("ref", "sine")
    project = tflm_project("ref", "ds_cnn_kws")   # after sine: the framework is there
    compiled = set(_compiled_tflm(project))
    sine_sources = set(library_sources(find_tree(tflm_tree("ref")), ["FULLY_CONNECTED"]))
    assert not compiled & sine_sources


@pytest.mark.tflm
def test_library_sources_are_the_framework_and_the_model_kernels(tflm_tree) -> None:
    ref = find_tree(tflm_tree("ref"))
    ops = ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    src = library_sources(ref, ops)
    assert "tensorflow/lite/micro/kernels/conv.cc" in src and "tensorflow/lite/micro/kernels/softmax.cc" in src
    assert "tensorflow/lite/micro/kernels/add.cc" not in src and "tensorflow/lite/micro/micro_interpreter.cc" in src
    assert not any(f.endswith(("micro_time.cc", "_test.cc")) or f.startswith("signal/") for f in src)
    cmsis = find_tree(tflm_tree("cmsis_nn"))
    src = library_sources(cmsis, ops)
    assert cmsis.cmsis_nn and "tensorflow/lite/micro/kernels/cmsis_nn/conv.cc" in src
    assert any(f.startswith("third_party/cmsis_nn/Source/") and f.endswith(".c") for f in src)


@pytest.fixture(scope="session")
def tflm_only_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An int8 model with LOG_SOFTMAX, an op TFLM has and edgekit-rt does not."""
    from tests.codegen.sweep_models import build

    spec = ("log_softmax", (12,), lambda L, x: L.Activation("log_softmax")(L.Dense(6)(x)), False)
    path = tmp_path_factory.mktemp("tflm-only") / "log_softmax.tflite"
    path.write_bytes(build(spec, path.parent))
    return path


@pytest.mark.tf
@pytest.mark.tflm
def test_auto_picks_tflm_for_an_op_edgekit_rt_lacks(tflm_only_model: Path, tflm_tree, tmp_path: Path) -> None:
    project = tmp_path / "fw"
    r = run_cli("generate", tflm_only_model, "--board", BOARD, "-o", project, "--tflm-dir", tflm_tree("ref"))
    assert r.returncode == 0, r.stderr
    assert "runtime tflm (auto): edgekit-rt does not support LOG_SOFTMAX" in r.stdout
    assert json.loads((project / "edgekit.json").read_text())["runtime"] == "tflm"
    r = run_cli("build", project, timeout=3600)   # the tree recorded by generate
    assert r.returncode == 0, r.stdout + r.stderr
    _run_exact(project)


@pytest.mark.tf
def test_auto_without_a_tree_names_the_ops(tflm_only_model: Path, tmp_path: Path) -> None:
    r = run_cli("generate", tflm_only_model, "--board", BOARD, "-o", tmp_path / "fw", env={"TFLM_DIR": ""})
    assert_clean_error(r, 2, "LOG_SOFTMAX", "--tflm-dir", "create_tflm_tree.py")
    assert not (tmp_path / "fw").exists()


def test_auto_keeps_edgekit_rt_when_it_runs_every_op(benchmark_model, tmp_path: Path) -> None:
    r = run_cli("generate", benchmark_model("sine"), "--board", BOARD, "-o", tmp_path / "fw",
                env={"TFLM_DIR": ""})
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "fw" / "edgekit.json").read_text())["runtime"] == "edgekit-rt"


@pytest.mark.parametrize("tree", ["missing", "not_a_tree"])
def test_a_missing_or_broken_tree_is_exit_4(benchmark_model, tmp_path: Path, tree: str) -> None:
    path = tmp_path / tree
    if tree == "not_a_tree":
        (path / "tensorflow").mkdir(parents=True)
    r = run_cli("generate", benchmark_model("sine"), "--board", BOARD, "-o", tmp_path / "fw",
                "--runtime", "tflm", "--tflm-dir", path)
    assert_clean_error(r, 4, "--tflm-dir/TFLM_DIR", "create_tflm_tree.py")
    assert "-DTFLM_DIR" not in r.stderr


@pytest.mark.toolchain
def test_build_without_a_tree_is_exit_4(benchmark_model, tmp_path: Path) -> None:
    project = tmp_path / "fw"
    r = run_cli("generate", benchmark_model("sine"), "--board", BOARD, "-o", project, "--runtime", "tflm",
                env={"TFLM_DIR": ""})
    assert r.returncode == 0, r.stderr
    r = run_cli("build", project, env={"TFLM_DIR": ""})
    assert_clean_error(r, 4, "--tflm-dir", "TFLM_DIR", "create_tflm_tree.py")


def test_doctor_shows_the_tflm_cache() -> None:
    r = run_cli("doctor")
    assert f"TFLM library cache: {cache_root()}" in r.stdout.replace("\n", "")



@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_tflm_errors_reach_the_user(tflm_project, tflm_tree, benchmark_model, tmp_path: Path) -> None:
    """TFLM's debug log rides on the ERROR frame of a model that cannot initialise (arena too small)."""
    tflm_project("ref", "sine")   # the cached library
    project = tmp_path / "fw"
    r = run_cli("generate", benchmark_model("sine"), "--board", BOARD, "-o", project, "--runtime", "tflm",
                "--tflm-dir", tflm_tree("ref"))
    assert r.returncode == 0, r.stderr
    header = project / "src" / "edgekit_model.h"
    header.write_text(re.sub(r"#define EDGEKIT_MODEL_ARENA_BYTES \d+", "#define EDGEKIT_MODEL_ARENA_BYTES 512",
                             header.read_text()))
    r = run_cli("build", project)
    assert r.returncode == 0, r.stdout + r.stderr
    np.savez(project / "x.npz", x=np.zeros((2, 1), np.float32))
    r = run_cli("hil", project, "--runs", "1", "--data", project / "x.npz")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "NOT_READY" in r.stderr and "device log:" in r.stderr and "failed to prepare" in r.stderr


@pytest.mark.tf
@pytest.mark.tflm
def test_inspect_marks_the_runtime_auto_uses(tflm_only_model: Path, benchmark_model) -> None:
    for model, runtime in ((tflm_only_model, "tflm"), (benchmark_model("sine"), "edgekit-rt")):
        r = run_cli("inspect", model, "--board", BOARD, "--json")
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        assert rep["runtime"] == runtime
        assert [f["runtime"] for f in rep["fits"] if f["chosen"]] == [runtime]


def _project_with_tflm_flags(tmp_path: Path) -> Path:
    """A project directory holding the rendered TFLM flags file the cache key reads."""
    from edgekit.resources import data_dir

    project = tmp_path / "project"
    flags = project / tflm_lib.FLAGS_FILE
    flags.parent.mkdir(parents=True)
    template = (data_dir("firmware_templates") / "stm32" / "cmake" / "tflm.cmake.j2").read_text()
    flags.write_text("# generated by edgekit for one model\n" + template.split("\n", 1)[1])
    return project


@pytest.mark.tflm
def test_a_cached_library_is_used_while_another_build_holds_the_lock(tflm_tree, tmp_path: Path,
                                                                     monkeypatch) -> None:
    import fcntl
    import json
    import threading

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tree = find_tree(tflm_tree("ref"))
    project = _project_with_tflm_flags(tmp_path)
    key = tflm_lib.cache_key(tree, CORTEX_M4, project)
    entry = tflm_lib.cache_root() / key
    entry.mkdir(parents=True)
    (entry / tflm_lib.LIBRARY).write_bytes(b"!<arch>\n")
    sources = tflm_lib.library_sources(tree, ["FULLY_CONNECTED"])
    (entry / tflm_lib.STAMP).write_text(json.dumps({"sources": sources}))

    def no_build(argv, cwd, log):
        raise AssertionError(f"a cached library was rebuilt: {argv}")

    found: list[CachedLibrary] = []
    with open(tflm_lib.cache_root() / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # another build of this entry is running
        worker = threading.Thread(target=lambda: found.append(tflm_lib.ensure_library(
            tree, CORTEX_M4, ["FULLY_CONNECTED"], project_dir=project, run=no_build, log=tmp_path / "log")),
            daemon=True)
        worker.start()
        worker.join(timeout=60)
    assert found and found[0].path == entry / tflm_lib.LIBRARY and found[0].compiled == 0


@pytest.mark.tflm
def test_cache_key_follows_tree_contents_not_file_times(tflm_tree, tmp_path: Path) -> None:
    import os

    tree_dir = tmp_path / "tree"
    shutil.copytree(tflm_tree("ref"), tree_dir)
    tree = find_tree(tree_dir)
    project = _project_with_tflm_flags(tmp_path)
    key = tflm_lib.cache_key(tree, CORTEX_M4, project)
    header = tree_dir / "tensorflow" / "lite" / "micro" / "micro_interpreter.h"
    os.utime(header, (1, 1))                          # copied again: new times, same bytes
    assert tflm_lib.cache_key(tree, CORTEX_M4, project) == key
    flags = project / tflm_lib.FLAGS_FILE            # another model's banner, the same flags
    flags.write_text("# generated by edgekit for another model\n" + flags.read_text().split("\n", 1)[1])
    assert tflm_lib.cache_key(tree, CORTEX_M4, project) == key
    header.write_text(header.read_text() + "\n// edited\n")   # an edited header is another library
    assert tflm_lib.cache_key(tree, CORTEX_M4, project) != key


def test_pruning_removes_the_least_recently_used_entries(tmp_path: Path, monkeypatch) -> None:
    import fcntl
    import os

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = tflm_lib.cache_root()
    for i in range(5):                                # entry i last used at time 1000 + i
        entry = root / f"ref-{i}"
        entry.mkdir(parents=True)
        (entry / tflm_lib.STAMP).write_text("{}")
        os.utime(entry / tflm_lib.STAMP, (1000 + i, 1000 + i))
    with open(root / "ref-1.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)              # ref-1 is being grown by another process
        removed = tflm_lib.prune_cache(2, keep="ref-0")
    assert removed == ["ref-2"]
    assert sorted(d.name for d in root.iterdir() if d.is_dir()) == ["ref-0", "ref-1", "ref-3", "ref-4"]


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_tflm_project_carries_a_decode_step_s_cache(tflm_project, tflm_tree, tmp_path: Path) -> None:
    """The tflm glue keeps a decode step's state ports between INFERs (copied into the input
    tensors before Invoke, out of the output tensors after, back to the zero point at RESET):
    `hil` steps whole sequences on the virtual board, every step exact. Linked against the
    library the tests above cached, it compiles only the step's own kernels."""
    from edgekit.model.tensor_data import random_inputs
    from edgekit.model.tflite_graph import load_graph
    from tests.conftest import REPO

    tflm_project("ref", "sine")   # the framework in the cache first
    model = REPO / "tests" / "fixtures" / "models" / "decode_step.tflite"
    project = tmp_path / "fw"
    _generate_and_build(model, project, "--runtime", "tflm", "--tflm-dir", tflm_tree("ref"))
    arrays, _ = random_inputs(load_graph(model), 3)
    np.savez(tmp_path / "seqs.npz", **arrays)
    r = run_cli("hil", project, "--require-exact", "--runs", "2", "--data", tmp_path / "seqs.npz", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["device"]["runtime"].startswith("tflm") and report["decode_steps"] == 8
    assert report["agreement"]["exact_share"] == 1.0 and report["samples_measured"] == 3

"""Copied, moved and stale projects: the build reconfigures cleanly, and every command that
runs firmware refuses an image older than the project's sources or model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_clean_error

BOARD = "qemu-netduinoplus2"
STALE = "firmware is older than the project's sources: run edgekit build"

pytestmark = [pytest.mark.toolchain, pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "cmake", "ninja")),
    reason="needs cmake, ninja and arm-none-eabi-gcc")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A built sine project, copied fresh for each test that changes it."""
    from tests.conftest import sine_project

    return sine_project(tmp_path_factory.mktemp("stale") / "fw", BOARD)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    path = tmp_path / "x.npz"
    np.savez(path, x=np.linspace(0, 6.28, 8, dtype=np.float32).reshape(8, 1))
    return path


def _cache_dirs(build: Path) -> dict[str, str]:
    out = {}
    for line in (build / "CMakeCache.txt").read_text().splitlines():
        for key in ("CMAKE_HOME_DIRECTORY", "CMAKE_CACHEFILE_DIR"):
            if line.startswith(f"{key}:INTERNAL="):
                out[key] = line.split("=", 1)[1]
    return out


def test_copied_and_moved_projects_build(cli, built: Path, tmp_path: Path) -> None:
    (built / "build" / "leftover.o").write_text("from the original's build")
    copy = tmp_path / "copy" / "fw"
    shutil.copytree(built, copy, symlinks=True)
    r = cli("build", copy)    # CMake alone: "CMakeCache.txt directory ... is different"
    assert r.returncode == 0, r.stderr
    assert _cache_dirs(copy / "build") == {"CMAKE_HOME_DIRECTORY": str(copy.resolve()),
                                           "CMAKE_CACHEFILE_DIR": str((copy / "build").resolve())}
    assert not (copy / "build" / "leftover.o").exists()   # nothing of the other build kept
    assert str(built) not in (copy / "build" / "build.ninja").read_text()
    moved = tmp_path / "moved"
    copy.rename(moved)
    r = cli("build", moved)
    assert r.returncode == 0, r.stderr
    assert _cache_dirs(moved / "build")["CMAKE_HOME_DIRECTORY"] == str(moved.resolve())
    (built / "build" / "leftover.o").unlink()


def test_reset_only_a_foreign_build_dir(built: Path, tmp_path: Path) -> None:
    from edgekit.project.build import reset_moved_build_dir

    assert not reset_moved_build_dir(built, built / "build")           # its own: kept
    assert not reset_moved_build_dir(built, tmp_path / "nothing")      # no cache: nothing to do
    copy = tmp_path / "fw"
    shutil.copytree(built, copy)
    assert reset_moved_build_dir(copy, copy / "build")
    assert list((copy / "build").iterdir()) == []


def test_a_fresh_build_is_current_and_records_what_it_was_built_from(built: Path) -> None:
    from edgekit.project.manifest import BuildStamp, open_project

    project = open_project(built)
    assert project.build_problem() is None
    project.check_build()
    assert project.built_elf() == built / "build" / "firmware.elf"
    stamp = BuildStamp.read(project.stamp_path())
    assert stamp is not None and stamp.model_sha256 == project.model_sha256
    assert stamp.files == project.source_hashes() and set(stamp.files) == set(project.manifest.files)


def test_changed_sources_are_refused_everywhere_until_rebuilt(cli, built: Path, tmp_path: Path,
                                                              inputs: Path) -> None:
    project = tmp_path / "fw"
    shutil.copytree(built, project)
    assert cli("build", project).returncode == 0
    with open(project / "src" / "ek_app.c", "a") as fh:
        fh.write("/* a change after the build */\n")
    for args in (("hil", project, "--data", inputs, "--runs", "0"),
                 ("sim", "start", BOARD, project),
                 ("flash", project, "--dry-run")):
        assert_clean_error(cli(*args, timeout=120), 2, STALE, "src/ek_app.c changed since the build")
    assert not (project / "hil-report").exists()
    assert not (project / "build" / "sim.json").exists()
    r = cli("build", project)
    assert r.returncode == 0, r.stderr
    r = cli("hil", project, "--data", inputs, "--runs", "0", timeout=300)
    assert r.returncode == 0, r.stderr


def test_an_edit_that_keeps_the_timestamp_is_found_by_hash_and_rebuilt(cli, built: Path, tmp_path: Path) -> None:
    project = tmp_path / "fw"
    shutil.copytree(built, project)
    assert cli("build", project).returncode == 0
    src = project / "src" / "ek_app.c"
    st = src.stat()
    src.write_text(src.read_text() + "/* hand edit, old timestamp */\n")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert_clean_error(cli("flash", project, "--dry-run"), 2, STALE, "src/ek_app.c changed")
    assert cli("build", project).returncode == 0
    log = (project / "build" / "edgekit-build.log").read_text()
    assert "ek_app.c" in log                 # recompiled although make-style timestamps said no
    assert cli("flash", project, "--dry-run").returncode == 0


def test_changed_model_unstamped_and_foreign_images_are_refused(cli, built: Path, tmp_path: Path,
                                                                inputs: Path) -> None:
    from edgekit.project.manifest import StaleBuildError, open_project

    project_dir = tmp_path / "fw"
    shutil.copytree(built, project_dir)
    assert cli("build", project_dir).returncode == 0
    project = open_project(project_dir)
    model = project_dir / "model" / "model.tflite"
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    assert project.build_problem() == "the model changed since the build"
    assert_clean_error(cli("hil", project_dir, "--data", inputs, "--runs", "0"), 2, STALE, "the model changed")
    # Building would compile the code generated for the old model: refused, naming both hashes.
    assert_clean_error(cli("build", project_dir), 2, "model.tflite changed since the project was generated",
                       f"the code is for sha256:{project.model_sha256[:16]}", "edgekit generate")
    model.write_bytes(original)
    assert project.build_problem() is None
    elf = project.elf_path
    elf.write_bytes(elf.read_bytes() + b"\0")            # linked by something else
    assert "rebuilt outside `edgekit build`" in (project.build_problem() or "")
    project.stamp_path().unlink()                        # built by hand, no stamp
    with pytest.raises(StaleBuildError, match="not built by `edgekit build`"):
        project.built_elf()
    stamp = json.loads((built / "build" / "edgekit-build.json").read_text())
    assert stamp["generator"] == "edgekit"


def test_a_failed_build_leaves_no_current_image(built: Path, tmp_path: Path) -> None:
    from edgekit.project.build import BuildError, build_project
    from edgekit.project.manifest import StaleBuildError, open_project

    project_dir = tmp_path / "fw"
    shutil.copytree(built, project_dir)
    project = open_project(project_dir)
    build_project(project)
    with open(project_dir / "src" / "ek_app.c", "a") as fh:
        fh.write("this is not C;\n")
    with pytest.raises(BuildError):
        build_project(project)
    assert not project.stamp_path().exists()
    with pytest.raises(StaleBuildError):
        project.built_elf()


def test_an_unbuilt_project_is_not_stale(tmp_path: Path, benchmark_model) -> None:
    from edgekit.boards import load_board
    from edgekit.project.generate import generate_project

    project = generate_project(benchmark_model("sine"), load_board(BOARD), tmp_path / "fw").project
    assert project.build_problem() is None
    project.check_build()     # hil on a real board flashed some other way still runs

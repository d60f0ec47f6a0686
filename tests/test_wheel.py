"""A wheel (not an editable install) carries the board files, templates and examples."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(out), str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return next(out.glob("edgekit-*.whl"))


def test_wheel_contains_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for board in (REPO / "boards").glob("*.toml"):
        assert f"edgekit/_data/boards/{board.name}" in names
    for tpl in (REPO / "firmware_templates").rglob("*"):
        if tpl.is_file() and "__pycache__" not in tpl.parts:
            assert f"edgekit/_data/firmware_templates/{tpl.relative_to(REPO / 'firmware_templates')}" in names
    assert any(n.startswith("edgekit/_data/examples/") for n in names)
    assert "edgekit/cli/__init__.py" in names


def test_installed_wheel_finds_its_boards(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import edgekit.resources as r, edgekit.boards as b; "
            "print(r.data_dir('boards')); print(len(b.list_boards())); print(r.data_dir('firmware_templates'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(target), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    boards_dir, count, templates = proc.stdout.split()
    assert boards_dir.startswith(str(target)) and templates.startswith(str(target))
    assert int(count) == len(list((REPO / "boards").glob("*.toml")))

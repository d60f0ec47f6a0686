"""Shared fixtures: run the real `edgekit` CLI, examples trained once per test session, the
benchmark models (built by edgekit.model.zoo, never read from outside the repository) and
TFLM source trees."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit.model import zoo

REPO = Path(__file__).resolve().parents[1]
# Set by .ci/run: there every tool is installed, so a skip for a missing one is a failure.
STRICT_SKIPS_ENV = "EDGEKIT_STRICT_SKIPS"
TFLM_KINDS = ("ref", "cmsis_nn")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> CliResult:
    """Run `edgekit ARGS` in a subprocess, as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=full_env, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(result: CliResult, code: int, *fragments: str) -> None:
    """One line on stderr naming the problem, the documented exit code, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    # Progress lines of stages that finished ("done ...") may precede the error; nothing else,
    # not even an empty line: one line means one line.
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("done ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="session")
def cli():
    return run_cli


@dataclass
class TrainedExample:
    name: str
    dir: Path
    train: dict
    quant: dict

    @property
    def keras(self) -> Path:
        return self.dir / "model.keras"

    @property
    def data(self) -> Path:
        return self.dir / "data.npz"

    @property
    def tflite(self) -> Path:
        return self.dir / "model.tflite"


_TRAINED: dict[str, TrainedExample] = {}


@pytest.fixture(scope="session")
def trained_example(tmp_path_factory):
    """trained_example(name): train + quantize an example through the CLI, once per session."""

    def get(name: str) -> TrainedExample:
        if name not in _TRAINED:
            out = tmp_path_factory.mktemp(f"example-{name}")
            r = run_cli("train", name, "-o", out)
            assert r.returncode == 0, r.stderr
            r = run_cli("quantize", out / "model.keras", "--calib", out / "data.npz")
            assert r.returncode == 0, r.stderr
            _TRAINED[name] = TrainedExample(
                name, out, json.loads((out / "train.json").read_text()),
                json.loads((out / "model.quant.json").read_text()))
        return _TRAINED[name]

    return get


def import_keras():
    """Keras, after edgekit's TensorFlow set-up (quiet logs, deterministic ops), for tests that
    build small real models."""
    from edgekit.model.keras_io import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def sine_project(project: Path, board: str, *, build: bool = True) -> Path:
    """The sine benchmark model generated (and built, unless `build` is False) for `board` at
    `project`, through the CLI as a user would."""
    r = run_cli("generate", zoo.model_path("sine"), "--board", board, "-o", project)
    assert r.returncode == 0, r.stderr
    if build:
        r = run_cli("build", project)
        assert r.returncode == 0, r.stderr
    return project


@pytest.fixture(scope="session")
def benchmark_model() -> Callable[[str], Path]:
    """benchmark_model(name): path of the int8 benchmark model `name` (sine, ds_cnn_kws,
    ad_autoencoder), built by edgekit.model.zoo once per machine and TF version (disk cache)
    and looked up once per session."""
    return functools.cache(zoo.model_path)


def _tflm_kind(tree: Path) -> str | None:
    """The kernels ("ref" or "cmsis_nn") of a tree made by TFLM's create_tflm_tree.py; None if not one."""
    if not (tree / "tensorflow" / "lite" / "micro").is_dir():
        return None
    return "cmsis_nn" if (tree / "third_party" / "cmsis_nn").is_dir() else "ref"


def find_tflm_tree(kind: str) -> Path | None:
    """The TFLM source tree with `kind` kernels ("ref" or "cmsis_nn"): $TFLM_DIR when it is such
    a tree or holds one as <kind>/, else ../shared/tflm/<kind> beside the repository; None when
    there is none."""
    if kind not in TFLM_KINDS:
        raise ValueError(f"TFLM tree kind must be one of {TFLM_KINDS}, not {kind!r}")
    roots = [Path(d) for d in (os.environ.get("TFLM_DIR"),) if d] + [REPO.parent / "shared" / "tflm"]
    for root in roots:
        for tree in (root, root / kind):
            if _tflm_kind(tree) == kind:
                return tree
    return None


@pytest.fixture(scope="session")
def tflm_tree() -> Callable[[str], Path]:
    """tflm_tree(kind): a TFLM source tree (see find_tflm_tree); skips the test when there is none."""

    def get(kind: str) -> Path:
        tree = find_tflm_tree(kind)
        if tree is None:
            pytest.skip(f"no TFLM {kind} tree: set TFLM_DIR to a tree made by TFLM's create_tflm_tree.py "
                        f"(or to a directory holding {'/ and '.join(TFLM_KINDS)}/)")
        return tree

    return get


# With EDGEKIT_STRICT_SKIPS=1 (.ci/run, after `make test` installed every tool) a test that
# skips for a missing tool or TFLM tree hides a broken install step, so it fails instead.
# Skips that are by design (no physical board here, an ESP-IDF present) stay skips. The
# generic CI variable is not used: other CI systems set it without installing our tools.
_SKIPS_BY_DESIGN = ("needs a board", "ESP-IDF is installed here")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get(STRICT_SKIPS_ENV, "") != "1" or not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not any(text in reason for text in _SKIPS_BY_DESIGN):
        report.outcome = "failed"
        report.longrepr = f"skipped with {STRICT_SKIPS_ENV}=1, where everything must be installed: {reason}"

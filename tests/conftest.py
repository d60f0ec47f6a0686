"""Shared fixtures: run the real `edgekit` CLI, examples trained once per test run, the
benchmark models (tests/fixtures/models, never read from outside the repository), TFLM source
trees; and the fast tier's guard (tests/tier_guard)."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tier_guard import edgekit_tier_guard as tier_guard

REPO = Path(__file__).resolve().parents[1]
FIXTURE_MODELS = REPO / "tests" / "fixtures" / "models"   # sine, ds_cnn_kws, ad_autoencoder: no TF needed
# Set by .ci/run: there every tool is installed, so a skip for a missing one is a failure.
STRICT_SKIPS_ENV = "EDGEKIT_STRICT_SKIPS"
TFLM_KINDS = ("ref", "cmsis_nn")


def pytest_configure(config: pytest.Config) -> None:
    """The fast tier (EDGEKIT_TEST_TIER=fast, `make test-fast`): refuse TensorFlow, toolchains and
    QEMU here and in every Python process a test starts, recording what was refused."""
    if not tier_guard.active():
        return
    log = Path(tempfile.gettempdir()) / f"edgekit-tier-violations-{os.getpid()}.txt"
    log.write_text("")
    os.environ[tier_guard.VIOLATIONS_ENV] = str(log)
    guard_dir = str(Path(tier_guard.__file__).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (guard_dir, os.environ.get("PYTHONPATH")) if p)
    tier_guard.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with a test marked `long` first, otherwise the order stays: `make test` runs one file per
    worker at a time, and a long file collected last would be what the whole run waits for."""
    long_files = {item.path for item in items if item.get_closest_marker("long") is not None}
    items.sort(key=lambda item: item.path not in long_files)


@pytest.fixture(autouse=True)
def _fast_tier_guard() -> Iterator[None]:
    """In the fast tier, a test fails when it (or a process it started) asked for what the tier refuses."""
    log = Path(os.environ[tier_guard.VIOLATIONS_ENV]) if tier_guard.active() else None
    start = log.stat().st_size if log else 0
    yield
    if log is not None:
        with open(log) as fh:
            fh.seek(start)
            refused = fh.read().splitlines()
        if refused:
            pytest.fail("; ".join(dict.fromkeys(refused)))


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


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every pytest-xdist worker of this run shares (the session's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The directory `name` of this run, filled by `make(dir)` once for all workers (a file lock
    serialises them; a `make` that failed leaves no mark, so the next caller tries again)."""
    root = run_dir(tmp_path_factory) / "made-once"
    root.mkdir(exist_ok=True)
    out, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            out.mkdir(exist_ok=True)
            make(out)
            done.touch()
    return out


@pytest.fixture(scope="session")
def trained_example(tmp_path_factory):
    """trained_example(name): train + quantize an example through the CLI, once per test run
    (shared by the xdist workers)."""

    def train(name: str, out: Path) -> None:
        r = run_cli("train", name, "-o", out)
        assert r.returncode == 0, r.stderr
        r = run_cli("quantize", out / "model.keras", "--calib", out / "data.npz")
        assert r.returncode == 0, r.stderr

    @functools.cache
    def get(name: str) -> TrainedExample:
        out = made_once(tmp_path_factory, f"example-{name}", functools.partial(train, name))
        return TrainedExample(name, out, json.loads((out / "train.json").read_text()),
                              json.loads((out / "model.quant.json").read_text()))

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
    r = run_cli("generate", FIXTURE_MODELS / "sine.tflite", "--board", board, "-o", project)
    assert r.returncode == 0, r.stderr
    if build:
        r = run_cli("build", project)
        assert r.returncode == 0, r.stderr
    return project


@pytest.fixture(scope="session")
def built_sine(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """built_sine(dest): a copy at `dest` of the sine model's project on the virtual board,
    generated and built once per test run (shared by the xdist workers). The copy's image is
    current, so hil, sim and stream run it; building the copy again reconfigures CMake first (its
    build directory was configured elsewhere)."""
    def make(out: Path) -> None:
        sine_project(out / "fw", "qemu-netduinoplus2")

    made = made_once(tmp_path_factory, "sine-qemu-netduinoplus2", make)

    def copy(dest: Path) -> Path:
        shutil.copytree(made / "fw", dest, symlinks=True)
        return dest

    return copy


@pytest.fixture(scope="session")
def benchmark_model() -> Callable[[str], Path]:
    """benchmark_model(name): path of the int8 benchmark model `name` (sine, ds_cnn_kws,
    ad_autoencoder): the zoo's models as committed in tests/fixtures/models (no TensorFlow)."""

    def get(name: str) -> Path:
        path = FIXTURE_MODELS / f"{name}.tflite"
        if not path.is_file():
            raise ValueError(f"no fixture model '{name}' in {FIXTURE_MODELS}")
        return path

    return get


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

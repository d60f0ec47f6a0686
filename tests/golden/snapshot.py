"""What `inspect --json` and `generate --json` give for fixed models on every board, normalised so
it does not depend on where the files are: the golden record tests/test_golden.py compares with.

    python -m tests.golden.snapshot          # rewrite tests/golden/*.json (say why in the commit)

Each project is recorded as its `generate --json` and the sha256 of every file it holds (paths
of the machine replaced by placeholders first). The CLI runs in-process (click's runner), so
the TFLM arena of a model is measured once per model, not once per board.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
MODELS = {
    "sine": REPO / "tests" / "fixtures" / "models" / "sine.tflite",
    "ds_cnn_kws": REPO / "tests" / "fixtures" / "models" / "ds_cnn_kws.tflite",
    "ad_autoencoder": REPO / "tests" / "fixtures" / "models" / "ad_autoencoder.tflite",
    "mnist_lstm": REPO / "tests" / "fixtures" / "tflm_lstm" / "trained_lstm_int8.tflite",
}
RUNTIMES = ("auto", "edgekit-rt", "tflm")


def _boards() -> list[str]:
    return sorted(p.stem for p in (REPO / "boards").glob("*.toml"))


def _tflm_tree(root: Path) -> Path:
    """A stand-in TFLM tree: generate only checks that the tree is one and records its path
    (replaced by <TFLM> in the record), so no real tree is needed."""
    marker = root / "tflm" / "tensorflow" / "lite" / "micro" / "micro_interpreter.cc"
    marker.parent.mkdir(parents=True)
    marker.write_text("// stand-in\n")
    return marker.parents[3].resolve()


class _Paths:
    """Machine paths -> placeholders, longest first."""

    def __init__(self, pairs: dict[str, Path]) -> None:
        self.pairs = sorted(((str(p), name) for name, p in pairs.items()), key=lambda kv: -len(kv[0]))

    def text(self, s: str) -> str:
        for path, name in self.pairs:
            s = s.replace(path, f"<{name}>")
        return s

    def data(self, b: bytes) -> bytes:
        for path, name in self.pairs:
            b = b.replace(path.encode(), f"<{name}>".encode())
        return b


def _run(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `edgekit ARGS`, an error as the command line shows it."""
    from edgekit.cli import cli
    from edgekit.errors import EdgekitError

    result = CliRunner().invoke(cli, args)
    if isinstance(result.exception, EdgekitError):
        return result.exception.exit_code, result.stdout, f"error: {result.exception}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _tree(root: Path, paths: _Paths) -> dict[str, str]:
    """The sha256 of each file with machine paths replaced; the manifest, which holds the other
    files' raw hashes, with those replaced by the normalised ones."""
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "build" not in p.relative_to(root).parts:
            files[p.relative_to(root).as_posix()] = hashlib.sha256(paths.data(p.read_bytes())).hexdigest()
    manifest = json.loads(paths.text((root / "edgekit.json").read_text()))
    manifest["files"] = {rel: files[rel] for rel in manifest["files"]}
    files["edgekit.json"] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return files


@contextmanager
def _no_tflm_env() -> Iterator[None]:
    saved = os.environ.pop("TFLM_DIR", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["TFLM_DIR"] = saved


def snapshot(name: str, boards: list[str] | None = None) -> dict:
    """The golden record of model `name`: inspect over `boards` (default: every board), then
    generate per board and runtime."""
    model = MODELS[name]
    boards = boards or _boards()
    out: dict = {"model": name, "inspect": None, "generate": {}}
    with tempfile.TemporaryDirectory(prefix="edgekit-golden-") as tmp, _no_tflm_env():
        tflm = _tflm_tree(Path(tmp))
        paths = _Paths({"MODEL_DIR": model.parent.resolve(), "TMP": Path(tmp).resolve(), "TFLM": tflm})
        code, stdout, stderr = _run(["inspect", str(model), "--json", *(a for b in boards for a in ("--board", b))])
        out["inspect"] = {"exit": code, "json": json.loads(paths.text(stdout)) if code == 0 else None,
                          "error": paths.text(stderr.strip()) if code else None}
        for board in boards:
            for runtime in RUNTIMES:
                project = Path(tmp) / f"{board}-{runtime}"
                args = ["generate", str(model), "--board", board, "-o", str(project), "--runtime", runtime, "--json"]
                if runtime != "edgekit-rt":
                    args += ["--tflm-dir", str(tflm)]
                code, stdout, stderr = _run(args)
                record = {"exit": code, "json": json.loads(paths.text(stdout)) if code == 0 else None,
                          "error": paths.text(stderr.strip().splitlines()[-1]) if code else None,
                          "files": _tree(project, paths) if code == 0 else None}
                out["generate"][f"{board} {runtime}"] = record
    return out


def golden_path(name: str) -> Path:
    """Where the golden record of model `name` is kept."""
    return GOLDEN / f"{name}.json"


def main() -> None:
    """Rewrite every golden record from the code as it is now."""
    for name in MODELS:
        record = snapshot(name)
        golden_path(name).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"wrote {golden_path(name)}")


if __name__ == "__main__":
    main()

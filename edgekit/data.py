"""Datasets as .npz files.

A dataset holds x_train, y_train, x_test, y_test (x_calib optional); a file with just x
(and optionally y) is accepted wherever data is read. Inputs are float, in the model's input
shape with a leading sample axis (a single sample without it is accepted too).
A model with several inputs takes one array per input, named after it (the Keras Input's
name): x_test_<input>; labels of several outputs are y_test_<output>, a plain y_test labelling
the first output.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError, InputFileError, filesystem_error


@dataclass
class Dataset:
    """The named arrays of an .npz dataset and the file they were read from."""

    path: Path | None
    arrays: dict[str, np.ndarray]

    def has(self, key: str) -> bool:
        """Whether the dataset holds an array named `key`."""
        return key in self.arrays

    def calibration(self) -> tuple[str, np.ndarray]:
        """Calibration inputs: x_calib, else x_train, else x."""
        for key in ("x_calib", "x_train", "x"):
            if key in self.arrays:
                return key, self.arrays[key]
        raise DataError(f"{self._where()} has no x_calib, x_train or x array to calibrate with",
                        hint="save inputs under one of those names")

    def evaluation(self) -> tuple[str, np.ndarray, np.ndarray | None]:
        """Evaluation inputs and labels: x_test/y_test, else x/y."""
        for xk, yk in (("x_test", "y_test"), ("x", "y")):
            if xk in self.arrays:
                return xk, self.arrays[xk], self.arrays.get(yk)
        raise DataError(f"{self._where()} has no x_test or x array to evaluate on",
                        hint="save test inputs as x_test (labels as y_test)")

    def model_inputs(self, kind: str, names: list[str]) -> tuple[str, list[np.ndarray], list[str]]:
        """The inputs of a model whose inputs are `names`, for `kind` "evaluation" (x_test, else
        x) or "calibration" (x_calib, else x_train, else x): the split's prefix, one array per
        input and its key. A single input also takes the plain prefix."""
        prefixes = _PREFIXES[kind]
        for prefix in prefixes:
            if len(names) == 1 and prefix in self.arrays:
                return prefix, [self.arrays[prefix]], [prefix]
            keys = [f"{prefix}_{n}" for n in names]
            if all(k in self.arrays for k in keys):
                return prefix, [self.arrays[k] for k in keys], keys
        if len(names) == 1:   # the single-input messages
            self.evaluation() if kind == "evaluation" else self.calibration()
        usual = _USUAL_PREFIX[kind]
        wanted = ", ".join(f"{usual}_{n}" for n in names)
        raise DataError(f"{self._where()} has no {wanted} arrays for the model's inputs {', '.join(names)} "
                        f"(found: {', '.join(self.arrays)})",
                        hint=f"save one array per input, named after it: {usual}_<input name> "
                             f"(also {', '.join(p + '_<input name>' for p in prefixes if p != usual)})")

    def model_labels(self, xprefix: str, names: list[str]) -> list[tuple[str, np.ndarray | None]]:
        """Each output's labels for the inputs under `xprefix`: (key, array or None), from
        y_<split>_<output name>, or a plain y_<split> for the first output."""
        yprefix = "y" + xprefix[1:]
        out: list[tuple[str, np.ndarray | None]] = []
        for k, name in enumerate(names):
            key = f"{yprefix}_{name}"
            if key not in self.arrays and k == 0:
                key = yprefix
            out.append((f"{self._where()}:{key}", self.arrays.get(key)))
        return out

    def labels_where(self, xkey: str) -> str:
        """Where the labels of inputs `xkey` are (or would be), e.g. "data.npz:y_test", for messages."""
        return f"{self._where()}:{'y' + xkey[1:] if xkey.startswith('x') else 'y'}"

    def _where(self) -> str:
        return str(self.path) if self.path else "the dataset"


_PREFIXES = {"evaluation": ("x_test", "x"), "calibration": ("x_calib", "x_train", "x")}
_USUAL_PREFIX = {"evaluation": "x_test", "calibration": "x_train"}   # what messages suggest


def load_dataset(path: Path | str) -> Dataset:
    """Load an .npz dataset with clear errors for missing, corrupt or empty files."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputFileError(f"{path} is not a readable .npz dataset ({exc})",
                             hint="save data with numpy.savez") from None
    if not any(k == "x" or k.startswith("x_") for k in arrays):
        raise DataError(f"{path} has none of x_train, x_test, x_calib, x (found: {', '.join(arrays) or 'nothing'})",
                        hint="see README 'Data files'")
    for key, arr in arrays.items():
        if key.startswith("x") and arr.size == 0:
            raise DataError(f"{path}: array '{key}' is empty")
        if key.startswith("x") and not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"{path}: array '{key}' has dtype {arr.dtype}, expected numbers")
    return Dataset(path, arrays)


def fit_to_input(x: np.ndarray, input_shape: tuple[int, ...], *, what: str) -> np.ndarray:
    """Return x with a leading sample axis, checked against the model input shape (no batch)."""
    x = np.asarray(x)
    if tuple(x.shape) == tuple(input_shape):
        x = x[None]
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise DataError(
            f"{what} has shape {tuple(x.shape)} but the model takes {tuple(input_shape)} per sample",
            hint="reshape the data to (samples, " + ", ".join(map(str, input_shape)) + ")",
        )
    if len(x) == 0:
        raise DataError(f"{what} is empty")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what} contains NaN or infinite values")
    return x.astype(np.float32, copy=False)


def current_umask() -> int:
    """The process's umask (read from /proc where it can be, without changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from open(): 0666 less the umask (mkstemp would give 0600)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """The mode a new directory gets from mkdir: 0777 less the umask (mkdtemp would give 0700)."""
    return 0o777 & ~current_umask()


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` to write; renamed onto `path` when the block succeeds,
    removed when it fails: never a half-written file under the final name. The file gets the
    mode a plain open() would give it (the umask is respected)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def draw_samples(n: int, k: int, labels: np.ndarray | None, *, seed: int = 0) -> np.ndarray:
    """`k` of `n` sample indices in ascending order, drawn with `seed` (the same draw every run).
    Stratified when `labels` are class ids (integers, or one-hot rows): each class keeps its
    share, and every class at least one sample while k allows (an anomaly test set sorted by
    label still gets both normal and anomalous samples). Otherwise a plain random draw."""
    if k >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes = _class_ids(labels, n)
    if classes is None:
        return np.sort(rng.choice(n, size=k, replace=False))
    values, counts = np.unique(classes, return_counts=True)
    quota = np.floor(k * counts / n).astype(int)
    if k >= len(values):
        quota = np.maximum(quota, 1)
    while quota.sum() > k:                      # the floors of 1 overshot: trim the biggest
        quota[np.argmax(quota)] -= 1
    rest = k * counts / n - quota               # largest remainders take what is left
    for i in np.argsort(-rest, kind="stable"):
        if quota.sum() >= k:
            break
        if quota[i] < counts[i]:
            quota[i] += 1
    picked = [rng.choice(np.flatnonzero(classes == v), size=q, replace=False) for v, q in zip(values, quota) if q]
    return np.sort(np.concatenate(picked))


def _class_ids(labels: np.ndarray | None, n: int) -> np.ndarray | None:
    if labels is None or len(labels) != n:
        return None
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] > 1 and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        return y.argmax(axis=1)
    y = y.reshape(n, -1)
    if y.shape[1] == 1 and np.all(np.isfinite(y)) and np.all(y == np.round(y)) and len(np.unique(y)) <= max(2, n // 2):
        return y[:, 0].astype(np.int64)
    return None


PROBE_BYTES = 64 * 1024   # about what a report with its plots takes


def require_writable(directory: Path) -> None:
    """FileSystemError (exit 5) now, before a long run, when `directory` cannot take a file of
    PROBE_BYTES (read-only, no space, no permission, name too long); the directory is created."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory) as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        if exc.filename is None:   # a full disk names no file: the directory is where
            exc.filename = str(directory)
        fault = filesystem_error(exc)
        if fault is None:
            raise
        raise fault from None


@contextmanager
def output_dir(path: Path, files: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield `path`, a command's output directory (created by whatever writes into it); when
    the block fails, remove what it created: those of `files` (names in `path`) that did not
    exist before, then the directories on the way to `path` that it created and left empty.
    Nothing that existed before is touched."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]   # deepest first
    new_files = [path / f for f in files if not (path / f).exists()]
    try:
        yield path
    except BaseException:
        for f in new_files:
            f.unlink(missing_ok=True)
        for d in missing:
            try:
                d.rmdir()
            except OSError:   # not empty, or never created
                if d.exists():
                    break
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file renamed over it (see atomic_path)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` as UTF-8, atomically (see atomic_path)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_dataset(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` as a compressed .npz, atomically (load_dataset reads it back)."""
    buf = io.BytesIO()
    named: dict[str, Any] = dict(arrays)  # numpy's stub types **kwds as its allow_pickle flag
    np.savez_compressed(buf, **named)
    atomic_write_bytes(path, buf.getvalue())

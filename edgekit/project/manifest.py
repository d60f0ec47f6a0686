"""A generated firmware project as one typed object.

`generate` (through `render_project`) writes ``edgekit.json`` into every project: which
edgekit wrote it, for which board and runtime, the model and where it came from (example,
task, class names, input units, test data, float model), and the sha256 of every generated
file. Every later step opens the project once with :func:`open_project` and is handed the
:class:`Project`: build, flash, sim, hil, stream and deploy never re-read the manifest nor
work its facts out again.

This is the only module that knows the manifest's file name (the board's family knows where
the build puts the firmware image). It also answers "is the build current?" for every command: `edgekit build`
records in the build directory what the image was built from (:class:`BuildStamp`: the hash
of every generated file as it was built, the model's sha256, the image's own hash), and
:meth:`Project.built_elf` / :meth:`Project.check_build` refuse an image older than the
project's sources (:class:`StaleBuildError`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.boards import Board, load_board
from edgekit.data import atomic_write_bytes, dir_mode, output_dir
from edgekit.errors import InputFileError, ModelError, UsageError
from edgekit.project.families import family_of

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.model.tflite_graph import Graph

MANIFEST_FILE = "edgekit.json"
MODEL_FILE = "model/model.tflite"   # the project's copy of its model, the harness's reference
BUILD_DIR = "build"
BUILD_STAMP = "edgekit-build.json"  # in the build directory: what the image was built from
GENERATOR = "edgekit"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data` (file hashes in the manifest)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Origin:
    """Where a project's model came from; every field is optional (a bare .tflite has none)."""

    model_source: str | None = None       # the .tflite that generate was given
    example: str | None = None            # bundled example it was trained from
    task: str | None = None               # "classification" | "regression" | "anomaly" | "next-word"
    class_names: tuple[str, ...] | None = None
    input_units: str | None = None        # physical unit of the model input ("g")
    test_data: str | None = None          # .npz the harness uses by default
    float_model: str | None = None        # the Keras model before quantization
    vocabulary: str | None = None         # text models: the vocab.json of token ids (edgekit/model/vocab.py)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Origin:
        """The origin recorded in a manifest's "origin" dict; missing keys are None."""
        names = data.get("class_names")
        return cls(model_source=data.get("model_source"), example=data.get("example"),
                   task=data.get("task"), class_names=tuple(names) if names else None,
                   input_units=data.get("input_units"), test_data=data.get("test_data"),
                   float_model=data.get("float_model"), vocabulary=data.get("vocabulary"))

    def to_dict(self) -> dict[str, Any]:
        """The origin as a JSON-ready dict (class_names as a list)."""
        out = asdict(self)
        out["class_names"] = list(self.class_names) if self.class_names else None
        return out


@dataclass(frozen=True)
class ModelRecord:
    """The model copied into the project and what its runtime needs."""

    file: str = MODEL_FILE
    arena_bytes: int = 0
    ops: tuple[str, ...] = ()
    optimize: str = ""   # generate --optimize's outcome ("speed", "size"), "" when the runtime has no such trade

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRecord:
        """The model record in a manifest's "model" dict; missing keys take the defaults."""
        return cls(file=str(data.get("file", MODEL_FILE)), arena_bytes=int(data.get("arena_bytes", 0)),
                   ops=tuple(data.get("ops", ())), optimize=str(data.get("optimize", "")))


@dataclass(frozen=True)
class Manifest:
    """Everything ``edgekit.json`` records about a project."""

    edgekit_version: str
    model_sha256: str
    board: str
    family: str
    runtime: str
    files: dict[str, str] = field(default_factory=dict)   # relative path -> sha256
    model: ModelRecord | None = None                       # None for projects without a model file
    origin: Origin = field(default_factory=Origin)

    def to_bytes(self) -> bytes:
        """The ``edgekit.json`` content: indented JSON with sorted keys and a final newline."""
        data: dict[str, Any] = {
            "generator": GENERATOR, "edgekit_version": self.edgekit_version,
            "model_sha256": self.model_sha256, "board": self.board, "family": self.family,
            "runtime": self.runtime, "files": dict(sorted(self.files.items())),
            "origin": self.origin.to_dict(),
        }
        if self.model is not None:
            data["model"] = {"file": self.model.file, "arena_bytes": self.model.arena_bytes,
                             "ops": list(self.model.ops)}
            if self.model.optimize:
                data["model"]["optimize"] = self.model.optimize
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """The manifest from parsed ``edgekit.json``; KeyError or TypeError when it is malformed."""
        model = data.get("model")
        return cls(edgekit_version=str(data["edgekit_version"]), model_sha256=str(data["model_sha256"]),
                   board=str(data["board"]), family=str(data["family"]), runtime=str(data["runtime"]),
                   files={str(k): str(v) for k, v in data["files"].items()},
                   model=ModelRecord.from_dict(model) if isinstance(model, dict) else None,
                   origin=Origin.from_dict(data.get("origin") or {}))

    def with_files(self, files: Mapping[str, bytes]) -> Manifest:
        """This manifest recording the hashes of exactly `files`."""
        return replace(self, files={rel: sha256_bytes(data) for rel, data in sorted(files.items())})


class StaleBuildError(InputFileError):
    """The firmware image was built from other sources or another model than the project's."""


@dataclass(frozen=True)
class BuildStamp:
    """What `edgekit build` built an image from: the sha256 of each generated file as it was
    built, the model's sha256, and the sha256 of the image it produced."""

    model_sha256: str
    files: dict[str, str]
    elf_sha256: str

    def to_bytes(self) -> bytes:
        """The stamp file's content (indented JSON, sorted keys)."""
        return (json.dumps({"generator": GENERATOR, "model_sha256": self.model_sha256,
                            "files": dict(sorted(self.files.items())), "elf_sha256": self.elf_sha256},
                           indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, path: Path) -> BuildStamp | None:
        """The stamp in `path`; None when it is missing or not a stamp."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(model_sha256=str(data["model_sha256"]), elf_sha256=str(data["elf_sha256"]),
                       files={str(k): str(v) for k, v in data["files"].items()})
        except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            return None


def _load_manifest(project_dir: Path) -> Manifest | None:
    path = project_dir / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("generator") != GENERATOR or \
                not isinstance(data.get("files"), dict):
            return None
        return Manifest.from_dict(data)
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return None


def read_manifest(project_dir: Path) -> Manifest:
    """The manifest of a generated project; InputFileError when the directory is not one."""
    manifest = _load_manifest(Path(project_dir))
    if manifest is None:
        raise InputFileError(f"{project_dir} is not a project generated by edgekit (no valid "
                             f"{MANIFEST_FILE})", hint="run `edgekit generate` first")
    return manifest


@dataclass
class Project:
    """A generated project on disk, with its manifest and its board, opened once."""

    root: Path
    manifest: Manifest
    board: Board

    @property
    def runtime(self) -> str:
        """The runtime the model code was generated for (a name in edgekit.runtimes)."""
        return self.manifest.runtime

    @property
    def origin(self) -> Origin:
        """Where the project's model came from, as recorded at generation."""
        return self.manifest.origin

    @property
    def model_sha256(self) -> str:
        """Hex sha256 of the model the project was generated from."""
        return self.manifest.model_sha256

    @property
    def build_dir(self) -> Path:
        """Where `edgekit build` builds the project (it may not exist yet)."""
        return self.root / BUILD_DIR

    @property
    def elf_path(self) -> Path:
        """Where `edgekit build` leaves the firmware image (it may not exist yet)."""
        return family_of(self.board).elf_path(self.build_dir)

    def built_elf(self, build_dir: Path | None = None) -> Path:
        """The firmware image, current with the project's sources; InputFileError when the
        project was not built, StaleBuildError when its sources or model changed since."""
        elf = self._elf_in(build_dir)
        if not elf.is_file():
            raise InputFileError(f"firmware image {elf} not found", hint=f"run `edgekit build {self.root}` first")
        self.check_build(build_dir)
        return elf

    # ----------------------------------------------------------------- is the build current
    def _elf_in(self, build_dir: Path | None) -> Path:
        if build_dir is None:
            return self.elf_path
        return family_of(self.board).elf_path(Path(build_dir))

    def source_hashes(self) -> dict[str, str]:
        """The sha256 of each file the manifest lists, as it is on disk now ("missing" when gone)."""
        return {rel: _file_sha(self.root / rel) or "missing" for rel in sorted(self.manifest.files)}

    def stamp_path(self, build_dir: Path | None = None) -> Path:
        """Where `edgekit build` records what the image in `build_dir` was built from."""
        return Path(build_dir or self.build_dir) / BUILD_STAMP

    def forget_build(self, build_dir: Path | None = None) -> None:
        """Drop the build stamp (a build is starting: until it succeeds, no image is current)."""
        self.stamp_path(build_dir).unlink(missing_ok=True)

    def record_build(self, elf: Path, sources: Mapping[str, str], build_dir: Path | None = None) -> BuildStamp:
        """Record that `elf` was built from `sources` (:meth:`source_hashes` taken before the build)."""
        stamp = BuildStamp(model_sha256=self.model_sha256, files=dict(sources),
                           elf_sha256=_file_sha(elf) or "missing")
        atomic_write_bytes(self.stamp_path(build_dir), stamp.to_bytes())
        return stamp

    def build_problem(self, build_dir: Path | None = None) -> str | None:
        """Why the image in `build_dir` is not current with the sources; None when it is, or
        when there is no image at all."""
        elf = self._elf_in(build_dir)
        if not elf.is_file():
            return None
        stamp = BuildStamp.read(self.stamp_path(build_dir))
        if stamp is None:
            return f"{elf} was not built by `edgekit build`"
        if _file_sha(elf) != stamp.elf_sha256:
            return f"{elf} was rebuilt outside `edgekit build`"
        if stamp.model_sha256 != self.model_sha256:
            return "the model changed since the build"
        now = self.source_hashes()
        changed = sorted(rel for rel in set(now) | set(stamp.files) if now.get(rel) != stamp.files.get(rel))
        if not changed:
            return None
        model_file = self.manifest.model.file if self.manifest.model else None
        if model_file in changed:
            return "the model changed since the build"
        if set(now) != set(stamp.files):
            return "the project was regenerated since the build"
        more = f" and {len(changed) - 1} more file(s)" if len(changed) > 1 else ""
        return f"{changed[0]}{more} changed since the build"

    def check_model(self) -> None:
        """ModelError when the project's model file is not the one its code was generated from
        (replaced after `edgekit generate`): building would compile the old model's code."""
        if self.manifest.model is None:
            return
        now = _file_sha(self.model_path) or "?"
        if now != self.model_sha256:
            raise ModelError(f"{self.model_path} changed since the project was generated (sha256:{now[:16]}…, "
                             f"the code is for sha256:{self.model_sha256[:16]}…)",
                             hint=f"regenerate it: edgekit generate MODEL --board {self.board.id} -o {self.root}")

    def check_build(self, build_dir: Path | None = None) -> None:
        """StaleBuildError when the project has an image that is older than its sources or model."""
        problem = self.build_problem(build_dir)
        if problem:
            raise StaleBuildError(f"firmware is older than the project's sources: run edgekit build {self.root}",
                                  hint=problem)

    @property
    def model_path(self) -> Path:
        """The project's copy of its int8 model; InputFileError when it has none."""
        if self.manifest.model is None:
            raise InputFileError(f"{self.root} has no model (it was rendered without one)",
                                 hint="generate it from a model: edgekit generate MODEL --board B -o DIR")
        path = self.root / self.manifest.model.file
        if not path.is_file():
            raise InputFileError(f"{path} is missing from the project",
                                 hint="regenerate the project with edgekit generate")
        return path

    @cached_property
    def graph(self) -> Graph:
        """The model graph, read once."""
        from edgekit.model.tflite_graph import load_graph

        return load_graph(self.model_path)

    def require_board(self, board_id: str | None) -> None:
        """UsageError when a board other than the project's is asked for."""
        if board_id and board_id != self.board.id:
            raise UsageError(f"{self.root} was generated for board '{self.board.id}', not '{board_id}'",
                             hint=f"regenerate it with --board {board_id}, or drop --board")


def open_project(project_dir: Path, *, boards_dirs: tuple[Path, ...] | list[Path] = (),
                 board: Board | None = None, board_id: str | None = None) -> Project:
    """Open a generated project: its manifest, and its board (given, or loaded by id).

    `board_id`, when given, must be the project's board (UsageError otherwise).
    """
    root = Path(project_dir)
    manifest = read_manifest(root)
    if board is not None and board.id != manifest.board:
        raise UsageError(f"{root} was generated for board '{manifest.board}', not '{board.id}'",
                         hint=f"regenerate it with --board {board.id}")
    project = Project(root, manifest, board or load_board(manifest.board, boards_dirs))
    project.require_board(board_id)
    return project


# --------------------------------------------------------------------------- writing
def _carry_over(old: Path, new: Path, generated: set[str], prefix: str = "") -> None:
    """Move what edgekit did not generate (build dirs, user notes) from old into new."""
    for entry in sorted(old.iterdir()):
        rel = f"{prefix}{entry.name}"
        if rel == MANIFEST_FILE or rel in generated:
            continue
        target = new / entry.name
        inside = any(g.startswith(rel + "/") for g in generated)
        if entry.is_dir() and not entry.is_symlink() and (inside or target.is_dir()):
            target.mkdir(exist_ok=True)
            _carry_over(entry, target, generated, rel + "/")
        elif not target.exists():
            entry.rename(target)


def _file_sha(path: Path) -> str | None:
    return sha256_bytes(path.read_bytes()) if path.is_file() else None


def write_project(out_dir: Path, files: Mapping[str, bytes], manifest: Manifest, *,
                  force: bool = False) -> bool:
    """Atomically replace the generated files of `out_dir` and its manifest.

    Returns False when nothing changed. Files edgekit did not generate (``build/``) are kept;
    a non-empty directory without a manifest, or generated files edited by hand, are refused
    unless `force`. Unchanged files keep their timestamps, so a rebuild does nothing.
    """
    out_dir = Path(out_dir)
    manifest = manifest.with_files(files)
    manifest_bytes = manifest.to_bytes()
    old_files: dict[str, str] = {}
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputFileError(f"output path {out_dir} exists and is not a directory",
                                 hint="choose another --out")
        old = _load_manifest(out_dir)
        if old is None:
            if any(out_dir.iterdir()) and not force:
                raise InputFileError(
                    f"refusing to write into {out_dir}: it is not empty and edgekit did not "
                    f"generate it (no {MANIFEST_FILE})", hint="choose an empty directory or use --force")
        else:
            old_files = old.files
            edited = [rel for rel, sha in old_files.items()
                      if (out_dir / rel).is_file() and _file_sha(out_dir / rel) != sha]
            if edited and not force:
                raise InputFileError(
                    f"refusing to overwrite {out_dir / edited[0]}: it was edited since edgekit "
                    f"generated it ({len(edited)} file(s) edited)",
                    hint="move your changes elsewhere or use --force to discard them")
            if (out_dir / MANIFEST_FILE).read_bytes() == manifest_bytes and all(
                    _file_sha(out_dir / rel) == sha for rel, sha in manifest.files.items()):
                return False
    with output_dir(out_dir):   # a failed write leaves no directories behind
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".edgekit-tmp", dir=out_dir.parent))
        tmp.chmod(dir_mode())   # mkdtemp makes it 0700; the project is a plain directory
        try:
            for rel, data in files.items():
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                current = out_dir / rel
                sha = manifest.files[rel]
                if old_files.get(rel) == sha and _file_sha(current) == sha:
                    shutil.copy2(current, target)  # unchanged: keep its timestamp, no rebuild
                else:
                    target.write_bytes(data)
            (tmp / MANIFEST_FILE).write_bytes(manifest_bytes)
            if out_dir.exists():
                _carry_over(out_dir, tmp, set(old_files) | set(files))
                backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".edgekit-old",
                                               dir=out_dir.parent))
                backup.rmdir()
                out_dir.rename(backup)
                tmp.rename(out_dir)
                shutil.rmtree(backup, ignore_errors=True)
            else:
                tmp.rename(out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return True


__all__ = ["MANIFEST_FILE", "MODEL_FILE", "BUILD_DIR", "BUILD_STAMP", "Origin", "ModelRecord",
           "Manifest", "BuildStamp", "StaleBuildError", "Project", "open_project", "read_manifest",
           "write_project", "sha256_bytes"]

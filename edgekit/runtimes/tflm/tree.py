"""Where the TFLM source tree is: the one place that reads --tflm-dir, $TFLM_DIR and what a project
recorded. A tree is made by TFLM's create_tflm_tree.py; one with third_party/cmsis_nn has the
CMSIS-NN kernels."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import MissingToolError

TFLM_DIR_ENV = "TFLM_DIR"
TFLM_TREE_HOWTO = ("pass --tflm-dir DIR or set TFLM_DIR to a tree made by TFLM's "
                   "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py "
                   "(OPTIMIZED_KERNEL_DIR=cmsis_nn in its --makefile_options for CMSIS-NN kernels)")
# What a family's CMakeLists.txt records of the tree generate was given (firmware_templates/stm32).
_RECORDED = re.compile(r'^set\(TFLM_DIR "([^"]*)" CACHE', re.M)


@dataclass(frozen=True)
class TflmTree:
    """A TFLM source tree made by create_tflm_tree.py; `cmsis_nn` when it has CMSIS-NN kernels."""

    root: Path
    cmsis_nn: bool

    @property
    def kind(self) -> str:
        """"cmsis_nn" or "ref" (reference kernels)."""
        return "cmsis_nn" if self.cmsis_nn else "ref"


def given_dirs(flags: Sequence[Path] = ()) -> list[Path]:
    """The trees the user gave: the --tflm-dir flags, else $TFLM_DIR, else none."""
    if flags:
        return [Path(f) for f in flags]
    env = os.environ.get(TFLM_DIR_ENV)
    return [Path(env)] if env else []


def recorded_dir(project_dir: Path) -> Path | None:
    """The tree `edgekit generate` recorded in the project (its CMakeLists.txt), if any."""
    try:
        m = _RECORDED.search((Path(project_dir) / "CMakeLists.txt").read_text(errors="replace"))
    except OSError:
        return None
    return Path(m.group(1)) if m and m.group(1) else None


def find_tree(tflm_dir: Path | str | None) -> TflmTree:
    """The TFLM tree at `tflm_dir` (else $TFLM_DIR); MissingToolError (exit 4) when there is none
    or it is not a tree made by create_tflm_tree.py."""
    dirs = given_dirs([Path(tflm_dir)] if tflm_dir else [])
    if not dirs:
        raise MissingToolError("runtime tflm needs a TFLM source tree: pass --tflm-dir DIR or set TFLM_DIR",
                               hint=TFLM_TREE_HOWTO)
    root = dirs[0].expanduser().resolve()
    if not (root / "tensorflow" / "lite" / "micro" / "micro_interpreter.cc").is_file():
        raise MissingToolError(f"--tflm-dir/TFLM_DIR {root} is not a TFLM source tree "
                               "(no tensorflow/lite/micro/micro_interpreter.cc)", hint=TFLM_TREE_HOWTO)
    return TflmTree(root, (root / "third_party" / "cmsis_nn").is_dir())


__all__ = ["TFLM_DIR_ENV", "TFLM_TREE_HOWTO", "TflmTree", "find_tree", "given_dirs", "recorded_dir"]

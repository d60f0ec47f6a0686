"""Where the TFLM source tree is: the one place that reads --tflm-dir, $TFLM_DIR and what a project
recorded. A tree is made by TFLM's create_tflm_tree.py; one with third_party/cmsis_nn has the
CMSIS-NN kernels."""

from __future__ import annotations

import functools
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


# Test-only or host-only files of a tree, and micro_time.cc, which needs a CMSIS device header
# the tree lacks: the firmware implements tflite::GetCurrentTimeTicks() itself.
_EXCLUDE = re.compile(r"(_test\.cc|/micro_time\.cc|/kernel_runner\.cc|/test_helpers\.cc|"
                      r"/test_helper_custom_ops\.cc|/mock_micro_graph\.cc)$")
KERNEL_DIRS = ("tensorflow/lite/micro/kernels/", "signal/micro/kernels/")
_RESOLVER_H = "tensorflow/lite/micro/micro_mutable_op_resolver.h"
_ADD_METHOD = re.compile(r"TfLiteStatus (Add\w+)\((.*?)\n  \}", re.S)
_REGISTER_DEF = re.compile(r"\bRegister_(\w+)\(\)\s*\{")
_DECLARATION = re.compile(r"TFLMRegistration\*?\s+Register_(\w+)\(\);")


@dataclass(frozen=True)
class TreeKernels:
    """What a tree can run, read from its sources: in micro_mutable_op_resolver.h each AddXxx
    method names its op (a builtin, or "CUSTOM:SignalWindow" for TFLM's signal library) and the
    Register_YYY() registrations it uses; kernel .cc files define those registrations."""

    files: tuple[str, ...]                           # every C/C++ source, relative, minus tests
    methods: dict[str, tuple[str, tuple[str, ...]]]  # op -> (resolver method, registrations)
    defined: dict[str, str]                          # registration -> the kernel file defining it
    declared_in: dict[str, str]                      # registration -> the .cc its header implies


@functools.cache
def tree_kernels(root: Path) -> TreeKernels:
    """The kernels of the tree at `root` (cached per tree and process)."""
    try:
        header = (root / _RESOLVER_H).read_text(errors="replace")
    except OSError:
        raise MissingToolError(f"the TFLM tree {root} has no {_RESOLVER_H}", hint=TFLM_TREE_HOWTO) from None
    methods = {}
    for name, body in _ADD_METHOD.findall(header):
        if name in ("AddBuiltin", "AddCustom"):   # the generic registrars, not an op's
            continue
        ops = (re.findall(r"BuiltinOperator_(\w+)", body)
               or [f"CUSTOM:{c}" for c in re.findall(r'AddCustom\(\s*"(\w+)"', body)])
        if ops:
            methods[ops[0]] = (name, tuple(dict.fromkeys(re.findall(r"Register_(\w+)\(\)", body))))
    files = tuple(sorted(f for f in (p.relative_to(root).as_posix() for p in root.rglob("*")
                                     if p.suffix in (".cc", ".c")) if not _EXCLUDE.search("/" + f)))
    defined: dict[str, str] = {}
    declared: dict[str, str] = {}
    for rel in files:
        if rel.startswith(KERNEL_DIRS):
            for reg in _REGISTER_DEF.findall((root / rel).read_text(errors="replace")):
                defined.setdefault(reg, rel)
    for path in sorted((root / KERNEL_DIRS[0]).rglob("*.h")):
        if path.name != "micro_ops.h":   # micro_ops.h declares every kernel: it names no file
            for reg in _DECLARATION.findall(path.read_text(errors="replace")):
                declared.setdefault(reg, str(path.relative_to(root).with_suffix(".cc")))
    return TreeKernels(files, methods, defined, declared)


def check_tree_ops(tree: TflmTree, ops: Sequence[str]) -> None:
    """MissingToolError (exit 4) naming what the tree lacks for `ops`: an op its resolver does
    not know (this TFLM has no kernel for it), or a kernel whose source file is missing."""
    kernels = tree_kernels(tree.root)
    unknown = [op for op in ops if op not in kernels.methods]
    if unknown:
        raise MissingToolError(f"the TFLM tree {tree.root} has no kernel for {', '.join(unknown)} "
                               f"(its {_RESOLVER_H} does not register it)",
                               hint="use a newer TFLM tree, or --runtime edgekit-rt if it runs the model")
    absent = {reg: kernels.declared_in.get(reg, f"the .cc that defines Register_{reg}()")
              for op in ops for reg in kernels.methods[op][1] if reg not in kernels.defined}
    if absent:
        raise MissingToolError(f"the TFLM tree {tree.root} is missing the kernel source of "
                               + ", ".join(f"{reg} ({where})" for reg, where in absent.items()),
                               hint="remake the tree with TFLM's create_tflm_tree.py")


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


__all__ = ["KERNEL_DIRS", "TFLM_DIR_ENV", "TFLM_TREE_HOWTO", "TflmTree", "TreeKernels", "check_tree_ops", "find_tree",
           "given_dirs", "recorded_dir", "tree_kernels"]

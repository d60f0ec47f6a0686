"""The tflm runtime's generated glue (edgekit_model_tflm.cc) built for this PC against a TFLM
tree, with ekrt_harness's stdin/stdout driver: the firmware's TFLM model API run on the host."""

from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ekrt_harness import CFLAGS, DRIVER

from edgekit.model.tflite_graph import parse_graph
from edgekit.runtimes.tflm.code import tflm_sources
from edgekit.runtimes.tflm.library import library_sources
from edgekit.runtimes.tflm.tree import find_tree

# TFLM's own flags (firmware_templates/stm32/cmake/tflm.cmake.j2) for the host.
DEFINES = ["-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON", "-DTF_LITE_MCU_DEBUG_LOG", "-DNDEBUG"]
TFLM_FLAGS = ["-std=c++17", "-O1", "-fno-rtti", "-fno-exceptions", "-Wno-unused-parameter", *DEFINES]

# What the firmware's port gives TFLM (its clock, its log); unused on the host.
STUBS = r"""
#include <cstdint>
namespace tflite {
uint32_t ticks_per_second() { return 0; }
uint32_t GetCurrentTimeTicks() { return 0; }
}  // namespace tflite
"""


def _run(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"host build failed:\n{' '.join(cmd[:8])}...\n{res.stderr[-4000:]}")


def _includes(root: Path, flag: str) -> list[str]:
    dirs = [root, root / "third_party/flatbuffers/include", root / "third_party/gemmlowp",
            root / "third_party/ruy", root / "third_party/kissfft"]
    return [a for d in dirs for a in (flag, str(d))]


def build_tflm_host(tflite: bytes, tree_dir: Path, workdir: Path, arena_bytes: int = 64 * 1024) -> Path:
    """Compile the model's TFLM sources (cached per tree and source list), the generated glue
    with -Wall -Wextra -Werror, and the driver; returns the executable."""
    graph = parse_graph(tflite)
    tree = find_tree(tree_dir)
    srcs = [s for s in library_sources(tree, graph.op_names()) if s.endswith((".cc", ".c"))]
    key = hashlib.sha256(f"{tree.root}|{srcs}|{TFLM_FLAGS}".encode()).hexdigest()[:16]
    libdir = workdir / f"tflm-{key}"
    lib = libdir / "libtflm.a"
    if not lib.exists():
        libdir.mkdir(parents=True, exist_ok=True)
        objs = [libdir / f"{k}.o" for k in range(len(srcs))]

        def compile_one(k: int) -> None:
            cc = ["g++", *TFLM_FLAGS] if srcs[k].endswith(".cc") else ["gcc", "-O1", *DEFINES]
            _run(["nice", "-n", "10", *cc, *_includes(tree.root, "-I"), "-c", str(tree.root / srcs[k]),
                  "-o", str(objs[k])])

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(compile_one, range(len(srcs))))
        tmp = libdir / f"libtflm.{os.getpid()}.a"
        _run(["ar", "rcs", str(tmp), *map(str, objs)])
        tmp.rename(lib)
    files = tflm_sources(graph, tflite, arena_bytes)
    d = workdir / hashlib.sha256(("".join(files.values()) + key).encode()).hexdigest()[:16]
    exe = d / "model"
    if exe.exists():
        return exe
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "driver.c").write_text(DRIVER)
    (d / "stubs.cc").write_text(STUBS)
    inc = _includes(tree.root, "-isystem")
    objs = []
    for src, cmd in (("edgekit_model_tflm.cc", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1",
                                                 "-fno-rtti", "-fno-exceptions", *DEFINES]),
                     ("stubs.cc", ["g++", "-std=c++17", "-O1"]), ("driver.c", ["gcc", *CFLAGS])):
        objs.append(d / f"{src}.o")
        _run([*cmd, "-I", str(d), *inc, "-c", str(d / src), "-o", str(objs[-1])])
    _run(["g++", *map(str, objs), str(lib), "-o", str(exe)])
    return exe

"""Mutated and truncated .tflite models fed to edgekit's model readers (parse, inspect, generate,
evaluate) in-process: every case must end in success or an EdgekitError, never another
exception, a hang or a crash.

Used by tests/fuzz/test_fuzz_models.py (a bounded run) and benchmarks/fuzz_models.py (a long
one). Run as a worker so a native crash (TFLM in-process) shows as a finding, not a dead
test session:

    python -m tests.fuzz.model_fuzz SEED_MODEL.tflite DATA.npz WORK_DIR SEED CASES [START] [--arena-every N]

prints one JSON line per finding and a last line {"cases": N, "seconds": S}.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Values a corrupt 32-bit field tends to hold: negative sizes, huge counts, off-by-one indices.
_SPECIAL_INT32 = (-1, -2, -128, 0, 1, 2, 255, 0x7FFF, 0x10000, 0x7FFFFFFF, -0x80000000, 0x40000000)


@dataclass
class Mutant:
    """One mutated model: how it was made (to reproduce it) and its bytes."""

    label: str
    data: bytes


def mutants(seed: bytes, rng: np.random.Generator, count: int) -> Iterator[Mutant]:
    """`count` variants of `seed`: truncations, random byte flips and special 32-bit values."""
    n = len(seed)
    for _ in range(count):
        kind = rng.integers(0, 4)
        buf = bytearray(seed)
        if kind == 0:
            cut = int(rng.integers(0, n))
            yield Mutant(f"truncate@{cut}", bytes(buf[:cut]))
            continue
        if kind == 1:
            flips = int(rng.integers(1, 9))
            where = rng.integers(0, n, size=flips)
            for pos in where:
                buf[pos] = int(rng.integers(0, 256))
            yield Mutant("bytes@" + ",".join(str(int(p)) for p in where), bytes(buf))
            continue
        # A 32-bit field (aligned, as flatbuffer scalars are) set to a special value; kind 3
        # aims at the first quarter of the file, where tables, vectors and shapes live.
        top = n // 4 if kind == 3 else n
        pos = int(rng.integers(0, max(1, top // 4))) * 4
        value = int(_SPECIAL_INT32[int(rng.integers(0, len(_SPECIAL_INT32)))])
        buf[pos:pos + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
        yield Mutant(f"int32@{pos}={value}", bytes(buf[:n]))


STEPS = ("inspect", "generate", "evaluate")


def make_data(model_path: Path, out: Path, samples: int = 4) -> Path:
    """A small labelled test set for the (unmutated) model: random inputs, class indices for a
    classifier, one value per output otherwise."""
    from edgekit.data import save_dataset
    from edgekit.model.tflite_graph import load_graph

    graph = load_graph(model_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, *graph.input_tensors[0].shape[1:])).astype(np.float32)
    outputs = int(np.prod(graph.output_tensors[0].shape[1:]))
    y = rng.integers(0, outputs, size=samples) if outputs > 1 else rng.normal(size=(samples, 1)).astype(np.float32)
    save_dataset(out, {"x_test": x, "y_test": y})
    return out


def check_case(path: Path, data_path: Path, work: Path, *, steps: tuple[str, ...] = STEPS,
               measure_arena: bool = False) -> tuple[bool, str | None]:
    """Run the readers on the model at `path`: (whether it parsed, the finding or None). A
    finding is an exception other than EdgekitError, with its innermost frame."""
    from edgekit.boards import load_board
    from edgekit.data import load_dataset
    from edgekit.errors import EdgekitError
    from edgekit.model.evaluate import evaluate_model
    from edgekit.model.tflite_graph import parse_graph
    from edgekit.project.generate import generate_project
    from edgekit.runtimes import EDGEKIT_RT, TFLM
    from edgekit.runtimes.inspect import inspect_model

    try:
        parse_graph(path.read_bytes(), path)
    except EdgekitError:
        return False, None
    except Exception as exc:
        return False, _describe(exc)
    board = load_board("nucleo-f446re")
    sized = (EDGEKIT_RT, TFLM) if measure_arena else (EDGEKIT_RT,)
    actions = {
        "inspect": lambda: inspect_model(path, [board], runtimes=sized),
        "generate": lambda: generate_project(path, board, work / "project", force=True,
                                             runtime=TFLM if measure_arena else EDGEKIT_RT),
        "evaluate": lambda: evaluate_model(path, load_dataset(data_path)),
    }
    for name in steps:
        try:
            actions[name]()
        except EdgekitError:
            continue
        except Exception as exc:
            return True, f"{name}: {_describe(exc)}"
    return True, None


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {str(exc)[:200]} at {frame.filename}:{frame.lineno}"


def run(seed_model: Path, data_path: Path, work: Path, seed: int, cases: int, start: int = 0,
        arena_every: int = 0) -> int:
    """The worker: check mutants start..cases-1 of `seed_model`, print findings as JSON lines."""
    rng = np.random.default_rng(seed)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = 0
    for i, mutant in enumerate(mutants(seed_model.read_bytes(), rng, cases)):
        if i < start:
            continue
        path = work / "mutant.tflite"
        path.write_bytes(mutant.data)
        # The case is announced before it runs, so a crash or hang can be traced to it.
        print(json.dumps({"case": i, "label": mutant.label}), flush=True)
        _, finding = check_case(path, data_path, work, measure_arena=bool(arena_every) and i % arena_every == 0)
        if finding:
            (work / f"finding-{i}.tflite").write_bytes(mutant.data)
            print(json.dumps({"finding": finding, "case": i, "label": mutant.label}), flush=True)
        done += 1
    print(json.dumps({"cases": done, "seconds": time.monotonic() - started}), flush=True)
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    every = 0
    if "--arena-every" in args:
        k = args.index("--arena-every")
        every = int(args[k + 1])
        del args[k:k + 2]
    sys.exit(run(Path(args[0]), Path(args[1]), Path(args[2]), int(args[3]), int(args[4]),
                 int(args[5]) if len(args) > 5 else 0, every))

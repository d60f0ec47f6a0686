#!/usr/bin/env python3
"""A transformer language model of stories260K's shape as a decode step on edgekit-rt: QEMU
instructions per token beside re-running the whole window per token, and its fit on a
NUCLEO-F446RE (512 KB flash, 128 KB RAM) with the full-context KV cache. The decode step's cost
is the mean over positions 1..context of one test sequence stepped on the board, beside its
cost at the first and the last position, and an estimate of its Cortex-M4 cycles (one traced
step at the middle position; Cortex-M4 TRM timings, 0 flash wait states: an estimate).

    python benchmarks/bench_decode.py [-o DIR] [--layers N] [--dim N] [--context N] [--sequences N]

The model: edgekit's TokenAndPositionEmbedding, LAYERS pre-LN blocks (causal MultiHeadAttention
with 8 heads, a GELU feed-forward of 172), a final LayerNormalization and logits over a
512-token vocabulary; about 0.27 M parameters at the defaults (stories260K has 0.26 M). Its
weights are trained for one epoch on a synthetic token rule so the int8 ranges are a trained
model's, not random ones. Both forms go through the CLI as a user's would (`quantize --decode`,
`generate`, `build`, `hil --require-exact`) on the virtual board; the instruction counts are
QEMU's (-icount shift=0): instructions, not cycles.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.console import out, step  # noqa: E402

BOARD, FIT_BOARD = "qemu-netduinoplus2", "nucleo-f446re"
VOCAB, HEADS, FFN = 512, 8, 172


def build_model(layers: int, dim: int, context: int):
    """The causal LM (untrained)."""
    from edgekit.model.decode_layers import TokenAndPositionEmbedding
    from edgekit.model.keras_io import import_tensorflow

    import_tensorflow()
    import keras

    L = keras.layers
    inp = keras.Input((context,), dtype="int32", name="tokens")
    x = TokenAndPositionEmbedding(context, VOCAB, dim)(inp)
    for _ in range(layers):
        h = L.LayerNormalization(epsilon=1e-5)(x)
        x = L.Add()([x, L.MultiHeadAttention(HEADS, dim // HEADS)(h, h, use_causal_mask=True)])
        h = L.LayerNormalization(epsilon=1e-5)(x)
        x = L.Add()([x, L.Dense(dim)(L.Dense(FFN, activation="gelu")(h))])
    return keras.Model(inp, L.Dense(VOCAB, name="logits")(L.LayerNormalization(epsilon=1e-5)(x)))


def sequences(n: int, context: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences where each token is the one before plus a per-sequence stride (wrapping
    over ids 3..VOCAB-1): (tokens, next tokens)."""
    rng = np.random.default_rng(seed)
    words = VOCAB - 3
    start, stride = rng.integers(0, words, (n, 1)), rng.integers(1, 6, (n, 1))
    s = 3 + (start + stride * np.arange(context + 1)) % words
    return s[:, :-1].astype(np.int32), s[:, 1:].astype(np.int64)


def cli(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run an edgekit command (SystemExit with its output when it fails and `check`)."""
    r = subprocess.run([sys.executable, "-m", "edgekit.cli", *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"edgekit {' '.join(map(str, args))} failed:\n{r.stderr}{r.stdout}")
    return r


def fit(model: Path, out_dir: Path) -> tuple[str, str]:
    """Whether the model fits FIT_BOARD (its flash and RAM estimates, or what does not fit), and the
    --optimize generate chose for it: the virtual board's firmware is built the same way, so the
    instructions measured are those of the firmware that fits."""
    r = cli("generate", model, "--board", FIT_BOARD, "-o", out_dir, "--json", "--force", check=False)
    if r.returncode != 0:
        return "no: " + r.stderr.strip().splitlines()[-1].removeprefix("error: ").split(" (use ")[0], "size"
    f = json.loads(r.stdout)
    return (f"yes: flash {f['flash_estimate']:,} B, RAM {f['ram_estimate']:,} B (arena {f['arena_bytes']:,} B; "
            f"--optimize {f['optimize']})", f["optimize"])


def per_position(fw: Path, sequence: np.ndarray) -> np.ndarray:
    """Instructions of each INFER while the decode step in `fw` steps through `sequence` from an
    empty cache (position 0 first)."""
    from contextlib import ExitStack

    from edgekit.boards import load_board
    from edgekit.hil.board_link import open_session
    from edgekit.hil.complete import infer_step
    from edgekit.model.modelio import ModelIO
    from edgekit.project.manifest import open_project

    project = open_project(fw)
    io = ModelIO.of(project.graph)
    with ExitStack() as stack:
        session, _ = open_session(stack, load_board(BOARD), port=None, project=project)
        session.connect()
        session.reset()
        counts = [infer_step(session, io, int(token), t)[1] for t, token in enumerate(sequence)]
    return np.asarray(counts, dtype=np.int64)


def estimate(fw: Path) -> str:
    """Estimated Cortex-M4 cycles of one step at the middle position (edgekit.hil.cycles)."""
    from edgekit.hil.cycles import estimate_invoke, random_input
    from edgekit.project.manifest import open_project

    project = open_project(fw)
    e = estimate_invoke(project.board, project.built_elf(), project.graph, random_input(project.graph))
    return f"{e.invoke_cycles:,} est. cycles ({e.invoke_cycles / 150e6 * 1e3:.2f} ms, " \
           f"{150e6 / e.invoke_cycles:,.0f} tokens/s at 150 MHz, estimated)"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("-o", "--out", type=Path, help="output directory [default: a temporary one]")
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--sequences", type=int, default=2, help="test sequences run on the board")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench-decode-"))
    work.mkdir(parents=True, exist_ok=True)

    with step("training the model for one epoch"):
        import keras

        model = build_model(args.layers, args.dim, args.context)
        x, y = sequences(1024, args.context)
        model.compile(optimizer=keras.optimizers.Adam(0.003),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        model.save(work / "lm.keras")
        xt, yt = sequences(args.sequences, args.context, seed=1)
        np.savez(work / "data.npz", x_train=x[:200], x_test=xt, y_test=yt)
    params = model.count_params()

    rows = []
    for form, extra in (("decode step", ["--decode"]), ("window", [])):
        name = "lm_step" if extra else "lm"
        with step(f"{form}: quantize, generate, build, hil"):
            cli("quantize", work / "lm.keras", "--calib", work / "data.npz", "-o", work / f"{name}.tflite", *extra)
            fits, optimize = fit(work / f"{name}.tflite", work / f"{name}-fit")
            fw = work / f"{name}-fw"
            r = cli("generate", work / f"{name}.tflite", "--board", BOARD, "-o", fw, "--force", "--optimize",
                    optimize, check=False)
            if r.returncode != 0:   # the virtual board's 192 KB of RAM
                rows.append((form, "-", "-", "-", fits))
                continue
            cli("build", fw)
            hil = json.loads(cli("hil", fw, "--data", work / "data.npz", "--runs", "3",
                                 "--require-exact", "--json").stdout)
        exact = f"{hil['agreement']['exact_share']:.0%}"
        if extra:   # one INFER per token: its mean over the positions of a whole sequence
            with step("decode step: instructions at each position, cycle estimate"):
                n = per_position(fw, xt[0])
                est = estimate(fw)
            rows.append((form, f"{n.mean():,.0f} (position 1: {n[0]:,}; {len(n)}: {n[-1]:,})", est, exact, fits))
        else:       # the window model re-runs the whole window for every token
            rows.append((form, f"{hil['infer_cycles']['counts']['p50']:,.0f}", "-", exact, fits))

    t = Table(title=f"{params:,}-parameter causal LM (dim {args.dim}, {args.layers} layers, {HEADS} heads, "
                    f"vocabulary {VOCAB}, context {args.context}) on edgekit-rt, QEMU instructions")
    for col in ("form", "instructions per token (mean over positions)", "Cortex-M4 cycles per token (estimate)",
                "exact", f"fits {FIT_BOARD} (512 KB flash, 128 KB RAM)"):
        t.add_column(col, justify="left" if col in ("form",) or col.startswith("fits") else "right")
    for row in rows:
        t.add_row(*row)
    out.print(t)
    out.print(f"files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The story example's figures: perplexity and top-1 on the test stories of the teacher, the
distilled student, the student trained alone for the same epochs, and the int8 decode step of the
distilled student (host reference), as the README's table.

    python examples/story/measure.py [--epochs N] [--seed N] [-o DIR] [--expected FILE]

Trains the teacher, distils the student and trains the student alone (about 7 minutes at the
default epoch on two cores), then quantizes the distilled student's decode step as
`edgekit quantize --decode` does. `--expected` writes the figures as expected.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from edgekit.console import out, step  # noqa: E402
from edgekit.data import save_dataset  # noqa: E402
from edgekit.examples import story  # noqa: E402
from edgekit.model import metrics  # noqa: E402

# The README's target: int8 perplexity at most this much above the float student's.
INT8_PERPLEXITY_RATIO = 1.05


def scores(model, data) -> tuple[float, float]:
    """(top-1, perplexity) of a float model on the test windows."""
    from edgekit.model.evaluate import run_keras

    logits = run_keras(model, data["x_test"]).values
    return (metrics.task_metric("next-word", data["x_test"], data["y_test"], logits),
            metrics.perplexity(data["y_test"], logits, logits=True))


def main() -> int:
    """Train the three float models, quantize the student, print the table (and write expected.json)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--epochs", type=int, default=story.EPOCHS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path,
                    help="where the models and data go [default: a temporary directory]")
    ap.add_argument("--expected", type=Path, help="write the figures to this expected.json")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="story-measure-"))
    work.mkdir(parents=True, exist_ok=True)

    from edgekit.model.keras_io import import_tensorflow

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(args.seed)   # as `edgekit train` does
    tf.config.experimental.enable_op_determinism()
    data = story.make_data(args.seed)
    seconds: dict[str, float] = {}
    with step(f"training the teacher ({args.epochs} epochs)"):
        started = time.perf_counter()
        teacher = story.fit_alone(story.TEACHER, data, args.epochs, args.seed, "teacher")
        seconds["teacher"] = time.perf_counter() - started
    with step("distilling the student"):
        started = time.perf_counter()
        student = story.distil(teacher, data, args.epochs, args.seed + 1)
        seconds["student"] = time.perf_counter() - started
    with step("training the student alone"):
        started = time.perf_counter()
        alone = story.fit_alone(story.STUDENT, data, args.epochs, args.seed + 1, "student")
        seconds["alone"] = time.perf_counter() - started
    figures = {name: scores(m, data) for name, m in (("teacher", teacher), ("student", student), ("alone", alone))}

    with step("quantizing the student's decode step (int8)"):
        from edgekit.model.quant_report import quantize_file

        for name, model in (("teacher", teacher), ("alone", alone), ("model", student)):
            model.save(work / f"{name}.keras")
        save_dataset(work / "data.npz", data)
        q = quantize_file(work / "model.keras", work / "data.npz", work / "model_step.tflite", task="next-word",
                          decode=True)
    figures["int8"] = (float(q.int8_value or 0.0), q.extra["perplexity"]["int8"])

    params = {"teacher": teacher.count_params(), "student": student.count_params()}
    t = Table(title=f"story: {len(data['x_test'])} test windows of {story.CONTEXT} tokens, seed {args.seed}, "
                    f"{args.epochs} epochs")
    for col in ("model", "parameters", "perplexity", "top-1", "train seconds"):
        t.add_column(col, justify="left" if col == "model" else "right")
    rows = (("teacher (float)", "teacher", params["teacher"], seconds["teacher"]),
            ("distilled student (float)", "student", params["student"], seconds["student"]),
            ("student trained alone (float)", "alone", params["student"], seconds["alone"]),
            (f"int8 student (decode step, {q.int8_backend})", "int8", params["student"], None))
    for label, key, n, secs in rows:
        top1, ppl = figures[key]
        t.add_row(label, f"{n:,}", f"{ppl:.3f}", f"{top1:.4f}", "-" if secs is None else f"{secs:.0f}")
    out.print(t)
    change = figures["int8"][1] / figures["student"][1] - 1
    verdict = "meets" if change <= INT8_PERPLEXITY_RATIO - 1 else "misses"
    out.print(f"int8 perplexity {change:+.2%} against the float student ({verdict} the "
              f"{INT8_PERPLEXITY_RATIO - 1:.0%} target); files in {work}")

    if args.expected:
        expected = {
            "task": "next-word", "metric": "top1_accuracy",
            "float": round(figures["student"][0], 4), "int8": round(figures["int8"][0], 4),
            "top3_float": round(q.extra["top3_accuracy"]["float"], 4),
            "top3_int8": round(q.extra["top3_accuracy"]["int8"], 4),
            "perplexity_teacher": round(figures["teacher"][1], 3),
            "perplexity_float": round(figures["student"][1], 3),
            "perplexity_alone": round(figures["alone"][1], 3),
            "perplexity_int8": round(figures["int8"][1], 3),
            "threshold": round(figures["student"][1] * INT8_PERPLEXITY_RATIO, 3),   # int8 perplexity bound
            "top1_teacher": round(figures["teacher"][0], 4), "top1_alone": round(figures["alone"][0], 4),
            "params_teacher": params["teacher"], "params_student": params["student"],
            "seed": args.seed, "epochs": args.epochs,
            "train_seconds": round(seconds["teacher"] + seconds["student"], 1),
        }
        args.expected.write_text(json.dumps(expected, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

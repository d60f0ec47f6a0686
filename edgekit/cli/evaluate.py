"""`edgekit evaluate`: a .keras or .tflite model's task metric on data (edgekit.model.evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from edgekit.cli.support import custom_objects_option, print_json
from edgekit.console import out, step
from edgekit.model.metrics import TASKS

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.model.evaluate import EvaluationReport


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(TASKS),
              help="Task for the metric [default: inferred].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@custom_objects_option
def evaluate(model: Path, data: Path, task: str | None, as_json: bool) -> None:
    """Task metric of a .keras or .tflite model on DATA (x_test/y_test, else x/y; x_test_<input>
    and y_test_<output> for a model of several inputs or outputs)."""
    from edgekit.data import load_dataset
    from edgekit.model.evaluate import evaluate_model

    dataset = load_dataset(data)
    with step(f"evaluating {model}"):
        report = evaluate_model(model, dataset, task)
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(evaluate_table(report))


def evaluate_table(r: EvaluationReport) -> Table:
    """Model kind, interpreter, sample count, task and metric (a row per output of a model with several)."""
    t = Table(title=f"evaluation of {r.model}")
    heads = r.outputs or [{"name": None, "task": r.task, "metric": r.metric, "value": r.value}]
    for col in ("model", "interpreter", "samples", *(("output",) if r.outputs else ()), "task", "metric"):
        t.add_column(col)
    for j, head in enumerate(heads):
        metric = f"{head['metric']} {head['value']:.4f}" if head["metric"] else "- (no labels)"
        if j == 0 and r.extra:   # beside the first output's metric, e.g. next-word's top-3 and perplexity
            metric += " (" + ", ".join(f"{name} {v:.4f}" for name, v in r.extra.items()) + ")"
        t.add_row(r.kind, r.backend, str(r.samples), *((head["name"],) if r.outputs else ()), head["task"] or "-",
                  metric)
    return t

"""`edgekit train`: train a bundled example (edgekit.model.train)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from edgekit.cli.support import json_option, print_json
from edgekit.console import out, step

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.model.train import TrainResult


@click.command()
@click.argument("example")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory [default: out/EXAMPLE].")
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs [default: the example's CI setting].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for data and weights.")
@json_option
def train(example: str, out_dir: Path | None, epochs: int | None, seed: int, as_json: bool) -> None:
    """Train an example by name (an unknown name lists them): writes model.keras, data.npz, train.json."""
    from edgekit.examples import get_example
    from edgekit.model.train import train_example

    get_example(example)  # unknown names fail before TensorFlow loads
    out_dir = out_dir or Path("out") / example
    with step(f"training '{example}'"):
        result = train_example(example, out_dir, epochs=epochs, seed=seed)
    if as_json:
        print_json(result.to_dict())
        return
    out.print(train_table(result))
    out.print(f"model: {result.model}\ndata:  {result.data}")


def train_table(r: TrainResult) -> Table:
    """Task, float test metric, epochs, seed, parameter count and training time."""
    t = Table(title=f"trained example '{r.example}'")
    for col in ("task", "metric (float, test)", "epochs", "seed", "params", "seconds"):
        t.add_column(col)
    t.add_row(r.task, f"{r.metric} {r.float_test:.4f}", str(r.epochs), str(r.seed), f"{r.params:,}",
              f"{r.train_seconds:.1f}")
    return t

"""`edgekit quantize`: full-integer int8 quantization with a float vs int8 report (edgekit.model.quant_report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from edgekit.cli.support import custom_objects_option, fmt_metric, kib, print_json
from edgekit.console import out, step
from edgekit.model.metrics import HIGHER_IS_BETTER, TASKS

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.model.quant_report import QuantizationReport


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--calib", "calib", required=True, type=click.Path(path_type=Path),
              help=".npz with x_calib (else x_train, else x); its test split is used for the report.")
@click.option("--samples", type=int, default=200, show_default=True, help="Calibration samples.")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Output .tflite [default: MODEL with .tflite suffix].")
@click.option("--test", "test_path", type=click.Path(path_type=Path),
              help="Other .npz to report float vs int8 on [default: the --calib file's x_test/y_test].")
@click.option("--task", type=click.Choice(TASKS),
              help="Task for the metric [default: inferred from labels and output shape].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@custom_objects_option
def quantize(model: Path, calib: Path, samples: int, out_path: Path | None, test_path: Path | None,
             task: str | None, as_json: bool) -> None:
    """Full-integer int8 quantization of a Keras model, verified, with a float vs int8 report."""
    from edgekit.model.quant_report import quantize_file, report_path_for

    with step(f"quantizing {model} to int8"):
        report = quantize_file(model, calib, out_path, samples=samples, task=task, test_path=test_path)
    if as_json:
        print_json(report.to_dict())
        return
    out.print(quant_table(report))
    out.print(f"int8 model: {report.tflite_model} (ops: {', '.join(report.ops)})\n"
              f"report:     {report_path_for(Path(report.tflite_model))}")


def quant_table(r: QuantizationReport) -> Table:
    """Float vs int8 metric and size, and how often int8 agrees with float."""
    t = Table(title=f"int8 quantization of {r.keras_model}")
    t.add_column("")
    t.add_column("float (Keras)", justify="right")
    t.add_column(f"int8 ({r.int8_backend or 'not run'})", justify="right")
    t.add_column("change", justify="right")
    if r.metric:
        delta = (r.int8_value or 0) - (r.float_value or 0)
        better = delta >= 0 if HIGHER_IS_BETTER[r.metric] else delta <= 0
        colour = "green" if better or abs(delta) < 1e-9 else "yellow"
        t.add_row(f"{r.metric} on {r.test_samples} test samples", fmt_metric(r.float_value),
                  fmt_metric(r.int8_value), f"[{colour}]{delta:+.4f}[/]")
        for name, v in r.extra.items():   # e.g. next-word's top-3 accuracy
            t.add_row(name, fmt_metric(v["float"]), fmt_metric(v["int8"]), f"{v['int8'] - v['float']:+.4f}")
    ratio = r.int8_file_bytes / r.float_weight_bytes if r.float_weight_bytes else 0
    t.add_row("size (float weights vs .tflite)", kib(r.float_weight_bytes), kib(r.int8_file_bytes), f"x{ratio:.2f}")
    if r.agreement:
        t.add_row(f"int8 agrees with float ({r.agreement['definition']})", "", f"{r.agreement['share']:.1%}", "")
    return t

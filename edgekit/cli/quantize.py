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
@click.option("--activations", type=click.Choice(["int8", "int16"]), default="int8", show_default=True,
              help="int16: a 16x8 model (int16 activations, int8 weights; more exact, twice the activation RAM).")
@click.option("--decode", is_flag=True,
              help="Convert the decode step of a causal LM: one token in, its logits out, each attention "
                   "layer's keys and values kept on the device (KV cache) [default output: MODEL_step.tflite].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@custom_objects_option
def quantize(model: Path, calib: Path, samples: int, out_path: Path | None, test_path: Path | None,
             task: str | None, activations: str, decode: bool, as_json: bool) -> None:
    """Full-integer quantization of a Keras model (int8, or 16x8), verified, with a float vs
    integer report (one row per output for a model with several)."""
    from edgekit.model.quant_report import quantize_file, report_path_for

    mode = "16x8 (int16 activations)" if activations == "int16" else "int8"
    if decode:
        mode += " decode step"
        out_path = out_path or model.with_name(model.stem + "_step.tflite")
    with step(f"quantizing {model} to {mode}"):
        report = quantize_file(model, calib, out_path, samples=samples, task=task, test_path=test_path,
                               activations=activations, decode=decode)
    if as_json:
        print_json(report.to_dict())
        return
    out.print(quant_table(report))
    out.print(f"{mode} model: {report.tflite_model} (ops: {', '.join(report.ops)})\n"
              f"report:     {report_path_for(Path(report.tflite_model))}")


def quant_table(r: QuantizationReport) -> Table:
    """Float vs integer metric and size, and how often the integer model agrees with float: for
    each output of a model with several."""
    kind = "16x8" if r.activations == "int16" else "int8"
    t = Table(title=f"{kind} quantization of {r.keras_model}")
    t.add_column("")
    t.add_column("float (Keras)", justify="right")
    t.add_column(f"{kind} ({r.int8_backend or 'not run'})", justify="right")
    t.add_column("change", justify="right")
    heads = r.outputs or [{"name": "", **r.to_dict()}]
    for head in heads:
        label = f"{head['name']}: " if r.outputs else ""
        if head.get("metric"):
            f, q = head.get("float_value"), head.get("int8_value")
            delta = (q or 0) - (f or 0)
            better = delta >= 0 if HIGHER_IS_BETTER[head["metric"]] else delta <= 0
            colour = "green" if better or abs(delta) < 1e-9 else "yellow"
            t.add_row(f"{label}{head['metric']} on {head['test_samples']} test samples", fmt_metric(f),
                      fmt_metric(q), f"[{colour}]{delta:+.4f}[/]")
            for name, v in (head.get("extra") or {}).items():   # e.g. next-word's top-3 accuracy
                t.add_row(f"{label}{name}", fmt_metric(v["float"]), fmt_metric(v["int8"]),
                          f"{v['int8'] - v['float']:+.4f}")
        if head.get("agreement"):
            a = head["agreement"]
            t.add_row(f"{label}{kind} agrees with float ({a['definition']})", "", f"{a['share']:.1%}", "")
    ratio = r.int8_file_bytes / r.float_weight_bytes if r.float_weight_bytes else 0
    t.add_row("size (float weights vs .tflite)", kib(r.float_weight_bytes), kib(r.int8_file_bytes), f"x{ratio:.2f}")
    return t

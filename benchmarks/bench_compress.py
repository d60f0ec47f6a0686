"""Benchmark `edgekit compress`: time, sizes and accuracy before and after.

- The examples (trained with their CI settings, seed 0) fit every board as they are, so each
  is compressed to a budget of half its model data: --max-flash = firmware + runtime code +
  50% of the original's int8 model bytes.
- The two done-when models of edgekit/compress/demo.py (a digits MLP over a NUCLEO-F446RE's
  flash, a CNN over its RAM) are compressed to the board's own budget; the result is then
  generated and built for nucleo-f446re (the ELF must fit), and generated, built and run on
  the virtual board (qemu-netduinoplus2: 1 MiB flash, 192 KiB RAM, so what fits the F446RE
  fits there) with `hil --require-exact`; then `deploy --compress` runs the CNN end to end on
  the virtual board, whose 192 KiB of RAM it overflows too.
Wall time on a shared machine is noisy: compare figures from one run.

    python benchmarks/bench_compress.py [--skip-examples] [--skip-demos] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.boards import load_board  # noqa: E402
from edgekit.compress import DoesNotFit, compress_model  # noqa: E402
from edgekit.model.metrics import HIGHER_IS_BETTER  # noqa: E402
from edgekit.runtimes.fit import FIRMWARE_FLASH_BYTES  # noqa: E402
from edgekit.runtimes.registry import get_runtime  # noqa: E402

BOARD = "nucleo-f446re"
VIRTUAL = "qemu-netduinoplus2"
EXAMPLES = ("sine", "digits", "gesture", "anomaly")


def cli(*args: object) -> dict:
    """Run `edgekit ARGS --json` and return its JSON (raises with stderr on failure)."""
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", *map(str, args), "--json"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"edgekit {' '.join(map(str, args))}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def best_tuned(r: dict, prefix: str) -> str:
    """The best int8 metric among the fitting fine-tuned candidates whose id starts with `prefix`
    ("prune-w": uniform width, "prune-layers": width per layer), as "id metric"."""
    tuned = [c for c in r["candidates"] if c["fine_tuned"] and c["fits"] and c["id"].startswith(prefix)]
    if not tuned:
        return "-"
    sign = 1 if HIGHER_IS_BETTER[r["metric"]] else -1
    best = max(tuned, key=lambda c: sign * c["int8_metric"])
    return f"{best['id']} {best['int8_metric']:.4f} ({best['flash']:,} B flash, {best['ram']:,} B RAM)"


def row(name: str, r: dict, seconds: float) -> dict:
    orig = r["candidates"][0]
    chosen = next((c for c in r["candidates"] if c["id"] == r["chosen"]), None)
    print(f"{name}: best uniform width {best_tuned(r, 'prune-w')}; best width per layer "
          f"{best_tuned(r, 'prune-layers')}", flush=True)
    return {"model": name, "seconds": round(seconds, 1), "budget_flash": r["budget"]["flash"],
            "budget_ram": r["budget"]["ram"], "orig_params": orig["params"], "orig_flash": orig["flash"],
            "orig_ram": orig["ram"], "orig_float": orig["float_metric"], "orig_int8": orig["int8_metric"],
            "chosen": r["chosen"], "params": chosen and chosen["params"], "flash": chosen and chosen["flash"],
            "ram": chosen and chosen["ram"], "float": chosen and chosen["float_metric"],
            "int8": chosen and chosen["int8_metric"], "candidates": len(r["candidates"]), "metric": r["metric"]}


def run_compress(name: str, model: Path, data: Path, out: Path, **budget: int) -> dict:
    started = time.perf_counter()
    try:
        result = compress_model(model, data, load_board(BOARD), out_dir=out, **budget)  # type: ignore[arg-type]
        report = result.to_dict()
    except DoesNotFit as exc:
        print(f"{name}: {exc}")
        report = json.loads((out / "compress.json").read_text())
    return row(name, report, time.perf_counter() - started)


def examples(work: Path) -> list[dict]:
    from edgekit.compress.budget import board_budget, footprint
    from edgekit.data import load_dataset
    from edgekit.model.keras_io import load_keras_model
    from edgekit.model.quantize import quantize_model
    from edgekit.model.train import train_example

    rows = []
    for name in EXAMPLES:
        d = work / name
        train_example(name, d)
        _, x_calib = load_dataset(d / "data.npz").calibration()
        tfl, graph = quantize_model(load_keras_model(d / "model.keras"), x_calib)
        board = load_board(BOARD)
        fp = footprint(tfl, graph, board, board_budget(board))
        code = get_runtime(fp.runtime).footprint(graph, tfl, name).code_flash_bytes
        model_bytes = fp.flash - FIRMWARE_FLASH_BYTES - code
        limit = FIRMWARE_FLASH_BYTES + code + model_bytes // 2
        rows.append(run_compress(name, d / "model.keras", d / "data.npz", d / "compressed", max_flash=limit))
        print(rows[-1], flush=True)
    return rows


def demos(work: Path) -> list[dict]:
    from edgekit.compress.demo import DEMOS, train_demo
    from edgekit.data import save_dataset
    from edgekit.examples.digits import make_data

    data = make_data(0)
    save_dataset(work / "digits.npz", data)
    rows = []
    for name in DEMOS:
        d = work / name
        d.mkdir()
        started = time.perf_counter()
        train_demo(name, data).save(d / "model.keras")
        print(f"{name}: trained in {time.perf_counter() - started:.1f} s", flush=True)
        r = run_compress(name, d / "model.keras", work / "digits.npz", d / "compressed")
        if r["chosen"]:
            tflite = d / "compressed" / "compressed.tflite"
            cli("generate", tflite, "--board", BOARD, "-o", d / "fw-f446re", "--data", work / "digits.npz")
            built = cli("build", d / "fw-f446re")
            r["elf_flash"], r["elf_ram"] = built["size"]["flash_used"], built["size"]["ram_used"]
            cli("generate", tflite, "--board", VIRTUAL, "-o", d / "fw-qemu", "--data", work / "digits.npz")
            cli("build", d / "fw-qemu")
            hil = cli("hil", d / "fw-qemu", "--samples", "100", "--runs", "5", "--require-exact")
            agreement, task = hil.get("agreement") or {}, hil.get("task") or {}
            r["qemu_exact"] = agreement.get("exact_share")
            r["qemu_device_metric"] = task.get("device")
        rows.append(r)
        print(rows[-1], flush=True)
    return rows


def deploy_compress(work: Path) -> None:
    """`deploy --compress` of wide_cnn on the virtual board (192 KiB RAM: it overflows there too)."""
    started = time.perf_counter()
    r = cli("deploy", work / "wide_cnn" / "model.keras", "--data", work / "digits.npz", "--compress",
            "--require-exact", "-o", work / "deploy-wide_cnn")
    for step in r["steps"]:
        print(f"  {step['step']:<9} {step['result']}")
    agreement = r["hil"].get("agreement") or {}
    print(f"deploy --compress wide_cnn on {VIRTUAL}: {time.perf_counter() - started:.0f} s, "
          f"{agreement.get('exact_share', 0):.0%} exact", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-examples", action="store_true")
    parser.add_argument("--skip-demos", action="store_true")
    parser.add_argument("--out", type=Path, help="Keep the work here [default: a temporary directory].")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compress-") as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = ([] if args.skip_examples else examples(work)) + ([] if args.skip_demos else demos(work))
        if not args.skip_demos:
            deploy_compress(work)
    print("\nmodel       s   budget flash/RAM     original params/flash/RAM  float/int8 ->  chosen: params/flash/RAM"
          "  float/int8  [F446RE ELF flash/RAM, QEMU exact]")
    for r in rows:
        extra = (f"  [{r['elf_flash']:,}/{r['elf_ram']:,}, {r['qemu_exact']:.0%} exact]" if "elf_flash" in r else "")
        after = (f"{r['chosen']}: {r['params']:,}/{r['flash']:,}/{r['ram']:,}  {r['float']:.4f}/{r['int8']:.4f}"
                 if r["chosen"] else "nothing fits")
        print(f"{r['model']:<10} {r['seconds']:>5.0f}  {r['budget_flash']:,}/{r['budget_ram']:,}  "
              f"{r['orig_params']:,}/{r['orig_flash']:,}/{r['orig_ram']:,}  {r['orig_float']:.4f}/{r['orig_int8']:.4f}"
              f" ({r['metric']}) -> {after}{extra}")


if __name__ == "__main__":
    main()

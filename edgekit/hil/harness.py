"""`edgekit hil`: validate a generated project on its board (or the virtual board).

Sends every test input, compares the board's int8 outputs with the host TFLM reference,
measures the task metric and the latency, and writes the report. A partial report is written
as the run goes, so a board or link that fails mid-run loses nothing already measured.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit import __version__
from edgekit.boards import Board, load_board
from edgekit.data import fit_to_input, load_dataset
from edgekit.errors import DataError, DeviceError, UsageError
from edgekit.hil.board_link import open_session
from edgekit.hil.evaluate import Gates, LinkStats, agreement, latency, task_comparison
from edgekit.hil.report import write_report
from edgekit.model.metrics import infer_task
from edgekit.model.reference import dequantize, int8_interpreter, quantize
from edgekit.model.tflite_graph import load_graph
from edgekit.project.generate import project_model

PARTIAL_EVERY = 25  # samples between partial report writes


@dataclass
class HilOptions:
    port: str | None = None
    data: Path | None = None
    max_samples: int | None = None
    bench_runs: int = 100
    warmup: int = 5
    report_dir: Path | None = None
    junit: Path | None = None
    gates: Gates = field(default_factory=Gates)
    baud: int | None = None
    float_reference: bool = True
    boards_dirs: tuple[Path, ...] = ()


@dataclass
class HilResult:
    report: dict[str, Any]
    paths: list[Path]

    @property
    def failed_gates(self) -> list[str]:
        """The message of each gate that was not met."""
        return [g["message"] for g in self.report.get("gates", []) if not g["passed"]]

    @property
    def gates_passed(self) -> bool:
        return not self.failed_gates and not self.report.get("error")


def _board_for(project_dir: Path, manifest: dict[str, Any], board_id: str | None,
               boards_dirs: tuple[Path, ...]) -> Board:
    built_for = manifest["board"]
    if board_id and board_id != built_for:
        raise UsageError(f"{project_dir} was generated for board '{built_for}', not '{board_id}'",
                         hint=f"regenerate it with --board {board_id}, or drop --board")
    return load_board(built_for, boards_dirs)


def _test_data(manifest: dict[str, Any], data: Path | None, input_shape: tuple[int, ...],
               max_samples: int | None) -> tuple[np.ndarray, np.ndarray | None, str]:
    path = data or (Path(manifest["model"]["test_data"]) if manifest.get("model", {}).get("test_data") else None)
    if path is None:
        raise UsageError("no test data: the project does not know its model's data", hint="pass --data TEST.npz")
    dataset = load_dataset(path)
    key, x, y = dataset.evaluation()
    x = fit_to_input(x, input_shape, what=f"{path}:{key}")
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: {len(x)} inputs but {len(y)} labels")
    if max_samples is not None:
        x, y = x[:max_samples], (None if y is None else y[:max_samples])
    return x, y, str(path)


def run_hil(project_dir: Path, *, board_id: str | None = None, options: HilOptions | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> HilResult:
    """Validate the project's firmware on its board; see the module docstring."""
    opts = options or HilOptions()
    manifest, model_path = project_model(project_dir)
    board = _board_for(project_dir, manifest, board_id, opts.boards_dirs)
    graph = load_graph(model_path)
    tin, tout = graph.input_tensors[0], graph.output_tensors[0]
    in_scale, in_zp = float(tin.quant.scale[0]), int(tin.quant.zero_point[0])
    out_scale, out_zp = float(tout.quant.scale[0]), int(tout.quant.zero_point[0])
    x, y, data_name = _test_data(manifest, opts.data, tin.shape[1:], opts.max_samples)
    xq = quantize(x, in_scale, in_zp)
    host = int8_interpreter(model_path.read_bytes(), graph)
    host_q = host.run(xq)
    report_dir = opts.report_dir or Path(project_dir) / "hil-report"
    report: dict[str, Any] = {
        "edgekit_version": __version__, "board": board.id, "virtual": board.virtual,
        "project": str(project_dir), "model_sha256": graph.sha256, "data": data_name,
        "samples_planned": len(x), "host_reference": host.backend, "status": "running", "error": None,
    }
    device_q: list[np.ndarray] = []
    cycles: list[int] = []
    bench: list[int] = []

    def finish(status: str, error: str | None) -> HilResult:
        report["status"], report["error"] = status, error
        _fill_figures(report, manifest, x, y, xq, host_q, device_q, cycles, bench, out_scale, out_zp, opts)
        if status != "running":
            report["gates"] = opts.gates.evaluate(report)
        paths = write_report(report, report_dir, cycles=bench or cycles, junit=opts.junit,
                             plots=status != "running")
        return HilResult(report, paths)

    with ExitStack() as stack:
        try:
            session, qemu = open_session(stack, board, port=opts.port, project_dir=Path(project_dir),
                                         baud=opts.baud)
            report["port"] = session.url
            if qemu is not None:
                report["virtual_board"] = {"argv": qemu.argv}
            session.connect()
            info = session.device
            if info.model_sha256 != graph.sha256:
                raise DeviceError(
                    f"the board on {report['port']} runs model sha256:{info.model_sha256[:16]}…, "
                    f"this project's model is sha256:{graph.sha256[:16]}…",
                    hint="flash this project's firmware (edgekit build + edgekit flash)")
            report["device"] = {"board_id": info.board_id, "firmware_version": info.firmware_version,
                                "runtime": info.runtime, "arena_bytes": info.arena_bytes,
                                "max_payload": info.max_payload}
            report["cycles_hz"] = info.cycles_hz
            started = time.monotonic()
            link = session.link
            bytes0 = (link.bytes_out, link.bytes_in)
            for i, sample in enumerate(xq):
                out, n = session.infer(sample)
                device_q.append(np.asarray(out, dtype=np.int8).reshape(tout.shape[1:]))
                cycles.append(int(n))
                if on_progress:
                    on_progress(i + 1, len(xq))
                if (i + 1) % PARTIAL_EVERY == 0:
                    finish("running", None)
            elapsed = time.monotonic() - started
            report["link"] = LinkStats(link.bytes_out - bytes0[0], link.bytes_in - bytes0[1], elapsed,
                                       None if _is_pty_or_socket(report["port"]) else opts.baud or board.baud,
                                       {"inferences_per_second": len(xq) / elapsed if elapsed else None,
                                        "resends": session.resends}).to_dict()
            if opts.bench_runs > 0:
                bench = session.bench(opts.warmup, opts.bench_runs)
        except (DeviceError, KeyboardInterrupt) as exc:
            message = "interrupted" if isinstance(exc, KeyboardInterrupt) else exc.message
            where = f"after {len(device_q)} of {len(xq)} samples: {message}"
            result = finish("failed", where)
            if isinstance(exc, KeyboardInterrupt):
                raise
            kept = f"the {len(device_q)} samples measured are in {result.paths[0]}"
            raise DeviceError(where, hint=f"{exc.hint}; {kept}" if exc.hint else kept) from None
    return finish("complete", None)


def _is_pty_or_socket(port: str) -> bool:
    return "://" in port or port.startswith("/dev/pts/")


def _fill_figures(report: dict[str, Any], manifest: dict[str, Any], x: np.ndarray, y: np.ndarray | None,
                  xq: np.ndarray, host_q: np.ndarray, device_q: list[np.ndarray], cycles: list[int],
                  bench: list[int], out_scale: float, out_zp: int, opts: HilOptions) -> None:
    n = len(device_q)
    report["samples_measured"] = n
    if n == 0:
        return
    dev = np.stack(device_q)
    report["agreement"] = agreement(dev, host_q[:n], out_scale, out_zp)
    dev_f = dequantize(dev, out_scale, out_zp)
    host_f = dequantize(host_q[:n], out_scale, out_zp)
    task = manifest.get("model", {}).get("task") or infer_task(x, y, (1,) + dev.shape[1:])
    float_out = _float_outputs(manifest, x[:n]) if opts.float_reference and report["status"] != "running" else None
    cmp = task_comparison(task, x[:n], y, dev_f, host_f, float_out, _class_names(manifest))
    report["task"] = {k: v for k, v in cmp.__dict__.items()}
    report["infer_cycles"] = latency(cycles, report.get("cycles_hz") or 1)
    hz = report.get("cycles_hz") or 1
    if bench:  # the device ran the warm-up itself and returned only the timed runs
        report["latency"] = {**latency(bench, hz), "warmup": opts.warmup,
                             "source": "BENCH: the last input, back to back, after warm-up on the device"}
    else:
        report["latency"] = {**latency(cycles, hz, warmup=min(opts.warmup, max(0, len(cycles) - 1))),
                             "source": "INFER replies (each test input once)"}


def _float_outputs(manifest: dict[str, Any], x: np.ndarray) -> np.ndarray | None:
    path = manifest.get("model", {}).get("float_model")
    if not path or not Path(path).is_file():
        return None
    from edgekit.model.evaluate import run_keras
    from edgekit.model.keras_io import load_keras_model

    return run_keras(load_keras_model(Path(path)), x).values


def _class_names(manifest: dict[str, Any]) -> list[str] | None:
    name = manifest.get("model", {}).get("example")
    if not name:
        return None
    from edgekit.examples import EXAMPLES

    example = EXAMPLES.get(name)
    return list(example.class_names) if example and example.class_names else None

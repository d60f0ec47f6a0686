"""`edgekit hil`: validate a generated project on its board (or the virtual board).

Sends every test input, compares the board's outputs with the host TFLM reference, measures
the task metric (one per output of a model with several) and the latency, and writes the
report. A partial report is written as the run goes, so a board or link that fails mid-run
loses nothing already measured. Everything about the model and where it came from is read from the opened
:class:`~edgekit.project.manifest.Project`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from edgekit import __version__
from edgekit.data import draw_samples, fit_to_input, load_dataset, require_writable
from edgekit.errors import DataError, DeviceError, UsageError
from edgekit.hil.board_link import open_session
from edgekit.hil.evaluate import Gates, LinkStats, OutputFigures, agreement, agreement_of, latency, task_comparison
from edgekit.hil.history import new_run_dir, publish
from edgekit.hil.profile import profile_on_device, require_profiler
from edgekit.hil.protocol import DeviceInfo
from edgekit.hil.report import DeviceRecord, HilReport, Status, write_report
from edgekit.hil.session import Session
from edgekit.model.decode import SampleShapes, run_sequences
from edgekit.model.metrics import check_labels, class_id_scores, class_id_shape, infer_task, label_classes
from edgekit.model.modelio import ModelIO
from edgekit.model.reference import int8_interpreter
from edgekit.model.tensor_data import dequantize, model_inputs
from edgekit.project.manifest import Project

PARTIAL_EVERY = 25  # samples between partial report writes
REPORT_DIR = "hil-report"  # under the project, unless HilOptions.report_dir says otherwise
_BENCH_SOURCE = "BENCH: the last input, back to back, after warm-up on the device"
_INFER_SOURCE = "INFER replies (each test input once)"


@dataclass
class HilOptions:
    """How to run the validation: where the board is, which data, what to time and gate."""

    port: str | None = None              # None: the virtual board started here, else found by USB id
    data: Path | None = None             # None: the test data the project's origin names
    max_samples: int | None = None      # a seeded, stratified draw of this many (data.draw_samples)
    task: str | None = None              # None: the project's, else inferred from the data
    bench_runs: int = 100                # timed BENCH runs after the test inputs (0: none)
    warmup: int = 5
    report_dir: Path | None = None       # None: PROJECT/hil-report
    junit: Path | None = None
    gates: Gates = field(default_factory=Gates)
    baud: int | None = None              # None: the board file's
    float_reference: bool = True         # also run the float model, when the project names one
    profile: bool = False                # per-op profile of one invoke (the first test input)


@dataclass
class HilResult:
    """The report of a run and the files written for it."""

    report: HilReport
    paths: list[Path]

    @property
    def failed_gates(self) -> list[str]:
        """The message of each gate that was not met."""
        return [g.message for g in self.report.gates or [] if not g.passed]

    @property
    def gates_passed(self) -> bool:
        """Every gate met and the run completed."""
        return not self.failed_gates and not self.report.error


def _test_data(project: Project, shapes: SampleShapes, data: Path | None, max_samples: int | None,
               task: str | None) -> tuple[list[np.ndarray], list[np.ndarray | None], list[str | None], str]:
    """The test inputs (one array per model input), each output's labels (None without) and
    task, and the data's name for the report."""
    origin_data = project.origin.test_data
    path = data or (Path(origin_data) if origin_data else None)
    if path is None:
        raise UsageError("no test data: the project does not know its model's data", hint="pass --data TEST.npz")
    dataset = load_dataset(path)
    io = ModelIO.of(project.graph)
    prefix, xs, keys = dataset.model_inputs("evaluation", shapes.input_names)
    xs = [fit_to_input(x, shape, what=f"{path}:{key}") for x, shape, key in zip(xs, shapes.inputs, keys)]
    if len({len(x) for x in xs}) > 1:
        raise DataError(f"{path}: the inputs' arrays {', '.join(keys)} hold different numbers of samples "
                        f"({', '.join(str(len(x)) for x in xs)})")
    # Labels against the model and task before any device work (exit 2, not a failed run). A
    # class-id output (ARG_MAX) is checked as the classifier it is: one score per class. The
    # task given (or the project's) is the first output's; the others' come from their labels.
    ys: list[np.ndarray | None] = []
    tasks: list[str | None] = []
    labels = dataset.model_labels(prefix, io.output_names)
    for j, (port, shape, (where, y)) in enumerate(zip(io.outputs, shapes.outputs, labels)):
        out_shape = class_id_shape(y, (1, *shape), port.tensor.dtype)
        tasks.append(check_labels(xs[0], y, out_shape, (task or project.origin.task) if j == 0 else None,
                                  where=where))
        ys.append(y)
    name = str(path)
    if max_samples is not None and max_samples < len(xs[0]):
        # A seeded, stratified draw: the first N of a test set sorted by label would leave
        # classes (an autoencoder's anomalies) out.
        keep = draw_samples(len(xs[0]), max_samples, ys[0])
        name += (f" ({max_samples} of {len(xs[0])} samples: seeded draw"
                 f"{', stratified by class' if ys[0] is not None else ''})")
        xs, ys = [x[keep] for x in xs], [None if y is None else y[keep] for y in ys]
    return xs, ys, tasks, name


@dataclass
class HilRun:
    """One validation run: its inputs, the host reference, and what the board returned so far.
    Per-input and per-output lists follow the graph's order (ModelIO)."""

    project: Project
    opts: HilOptions
    report: HilReport
    io: ModelIO
    x: list[np.ndarray]                               # each input's test data (float)
    y: list[np.ndarray | None]                        # each output's labels
    tasks: list[str | None]                           # each output's task
    host_q: list[np.ndarray]                          # each output of the host reference
    blocks: np.ndarray                                # (samples[, steps], input bytes): INFER's input blocks
    device_q: list[list[np.ndarray]] = field(default_factory=list)  # per sample, each output
    cycles: list[int] = field(default_factory=list)   # per INFER reply
    bench: list[int] = field(default_factory=list)    # per timed BENCH run
    order: list[int] | None = None   # which test inputs device_q holds (a farm's boards); None: the first ones
    run_dir: Path | None = None      # this run's own report directory (history.py), made at the first write

    def infer(self, session: Session, i: int) -> tuple[list[np.ndarray], int]:
        """Test input `i` on the board: each output as the host reference holds it, and the count
        (of a decode step: a soft RESET empties its cache, then one INFER per position; the count
        is per token)."""
        if self.blocks.ndim == 2:
            out, n = session.infer_block(self.blocks[i].tobytes())
            return self.io.unpack(out), int(n)
        session.reset()
        steps = [session.infer_block(block.tobytes()) for block in self.blocks[i]]
        outs = [self.io.unpack(out) for out, _ in steps]
        per_position = [np.stack([o[j].reshape(h.shape[2:]) for o in outs]) for j, h in enumerate(self.host_q)]
        return per_position, round(sum(n for _, n in steps) / len(steps))

    @property
    def staged_block(self) -> bytes:
        """The first test input's (last) INFER block: what a profile runs."""
        return bytes(self.blocks[0].reshape(-1, self.blocks.shape[-1])[-1].tobytes())

    @property
    def report_dir(self) -> Path:
        """The report root: every run's report under runs/, the last complete one's at the root."""
        return self.opts.report_dir or self.project.root / REPORT_DIR

    def finish(self, status: Status, error: str | None) -> HilResult:
        """Set the status, compute the figures and write the report into this run's directory
        (partial while running); a complete run's report also becomes the root's."""
        self.report.status, self.report.error = status, error
        self._fill_figures()
        if status != "running":
            self.report.gates = self.opts.gates.evaluate(self.report)
        if self.run_dir is None:
            self.run_dir = new_run_dir(self.report_dir)
        paths = write_report(self.report, self.run_dir, cycles=self.bench or self.cycles,
                             junit=self.opts.junit, plots=status != "running")
        if status == "complete":
            paths = publish(self.run_dir, self.report_dir, paths)
        return HilResult(self.report, paths)

    def _fill_figures(self) -> None:
        report, n = self.report, len(self.device_q)
        report.samples_measured = n
        if n == 0:
            return
        idx = np.asarray(self.order if self.order is not None else range(n), dtype=np.int64)
        x0 = self.x[0][idx]
        float_outs = (self._float_outputs(idx)
                      if self.opts.float_reference and report.status != "running" else None)
        class_names = list(self.project.origin.class_names) if self.project.origin.class_names else None
        parts, figures = [], []
        for j, port in enumerate(self.io.outputs):
            labels = self.y[j]
            tout, y = port.tensor, (None if labels is None else labels[idx])
            out_scale, out_zp = (tout.scale, tout.zero_point) if tout.quant is not None else (1.0, 0)
            dev, host = np.stack([d[j] for d in self.device_q]), self.host_q[j][idx]
            parts.append((dev, host, out_scale, out_zp))
            dev_f, host_f = dequantize(dev, out_scale, out_zp), dequantize(host, out_scale, out_zp)
            float_out = None if float_outs is None else float_outs[j]
            if tout.dtype == "int32" and y is not None:   # class ids (ARG_MAX): scored as a classifier
                k = max(label_classes(y), int(dev.max()) + 1, int(host.max()) + 1)
                dev_f, host_f = class_id_scores(dev, k), class_id_scores(host, k)
                float_out = None if float_out is None else class_id_scores(float_out, k)
            task = self.tasks[j] if j else (self.opts.task or self.tasks[0]
                                            or infer_task(x0, y, (1,) + dev_f.shape[1:]))
            comparison = task_comparison(task, x0, y, dev_f, host_f, float_out,
                                         class_names if j == 0 else None)
            figures.append(OutputFigures(port.name, agreement(dev, host, out_scale, out_zp), comparison))
        report.agreement = agreement_of(parts)
        report.task = figures[0].task
        report.outputs = figures if len(figures) > 1 else None
        hz = report.cycles_hz or 1
        report.infer_cycles = latency(self.cycles, hz)
        if self.bench:  # the device ran the warm-up itself and returned only the timed runs
            report.latency = replace(latency(self.bench, hz), warmup=self.opts.warmup, source=_BENCH_SOURCE)
        else:
            warmup = min(self.opts.warmup, max(0, len(self.cycles) - 1))
            report.latency = replace(latency(self.cycles, hz, warmup=warmup), source=_INFER_SOURCE)

    def _float_outputs(self, idx: np.ndarray) -> list[np.ndarray] | None:
        path = self.project.origin.float_model
        if not path or not Path(path).is_file():
            return None
        from edgekit.model.evaluate import run_keras_all
        from edgekit.model.keras_io import load_keras_model

        return [o.values for o in run_keras_all(load_keras_model(Path(path)), [x[idx] for x in self.x])]


def prepare_run(project: Project, opts: HilOptions) -> HilRun:
    """A run's test inputs, host reference and empty report, before any device work (also the start
    of a farm's scale-out, edgekit.farm.scaleout)."""
    project.check_build()   # a stale image would run the old code and blame the data
    board, graph = project.board, project.graph
    io = ModelIO.of(graph)
    shapes = SampleShapes.of(graph, str(project.model_path))
    xs, ys, tasks, data_name = _test_data(project, shapes, opts.data, opts.max_samples, opts.task)
    xq = model_inputs(graph, xs, where=data_name)  # quantized, or token ids
    host = int8_interpreter(project.model_path.read_bytes(), graph)
    report = HilReport(edgekit_version=__version__, board=board.id, virtual=board.virtual,
                       project=str(project.root), model_sha256=graph.sha256, data=data_name,
                       samples_planned=len(xs[0]), host_reference=host.label, decode_steps=shapes.steps or None)
    if shapes.steps:  # a decode step: each sequence stepped position by position
        tokens = xq[0]
        blocks = np.stack([io.pack([tokens[:, t:t + 1], np.full((len(tokens), 1), t, np.int32)])
                           for t in range(shapes.steps)], axis=1)
        run = HilRun(project, opts, report, io, xs, ys, tasks, run_sequences(host, graph, tokens), blocks)
    else:
        run = HilRun(project, opts, report, io, xs, ys, tasks, host.run_all(xq), io.pack(xq))
    require_writable(run.report_dir)   # a report that cannot be written fails now, not after the run
    return run


def connect_checked(session: Session, project: Project) -> DeviceInfo:
    """Handshake, and DeviceError unless the board runs this project's model."""
    info = session.connect()
    sha = project.graph.sha256
    if info.model_sha256 != sha:
        raise DeviceError(
            f"the board on {session.url} runs model sha256:{info.model_sha256[:16]}…, "
            f"this project's model is sha256:{sha[:16]}…",
            hint="flash this project's firmware (edgekit build + edgekit flash)")
    return info


def run_hil(project: Project, *, options: HilOptions | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> HilResult:
    """Validate the project's firmware on its board; see the module docstring.

    `on_progress(done, total)` is called after each test input. A board or link failure
    raises DeviceError naming how far the run got, after the partial report is written.
    """
    opts = options or HilOptions()
    run = prepare_run(project, opts)
    board, graph, report, blocks = project.board, project.graph, run.report, run.blocks

    with ExitStack() as stack:
        try:
            session, qemu = open_session(stack, board, port=opts.port, project=project, baud=opts.baud)
            report.port = session.url
            if qemu is not None:
                report.qemu_argv = qemu.argv
            info = connect_checked(session, project)
            report.device = DeviceRecord.from_info(info)
            if opts.profile:
                require_profiler(info)  # before the run, not after it
            report.cycles_hz = info.cycles_hz
            started = time.monotonic()
            link = session.link
            assert link is not None  # connected above
            bytes0 = (link.bytes_out, link.bytes_in)
            for i in range(len(blocks)):
                outs, n = run.infer(session, i)
                run.device_q.append(outs)
                run.cycles.append(n)
                if on_progress:
                    on_progress(i + 1, len(blocks))
                if (i + 1) % PARTIAL_EVERY == 0:
                    run.finish("running", None)
            elapsed = time.monotonic() - started
            report.link = LinkStats(
                link.bytes_out - bytes0[0], link.bytes_in - bytes0[1], elapsed,
                baud=None if _is_pty_or_socket(session.url) else opts.baud or board.baud,
                inferences_per_second=len(blocks) / elapsed if elapsed else None, resends=session.resends)
            if opts.bench_runs > 0:
                run.bench = session.bench(opts.warmup, opts.bench_runs)
            if opts.profile:  # after BENCH, which times the last input staged by the accuracy pass
                report.profile = profile_on_device(session, graph, run.staged_block, unit=report.counter_unit)
        except (DeviceError, KeyboardInterrupt) as exc:
            message = "interrupted" if isinstance(exc, KeyboardInterrupt) else exc.message
            where = f"after {len(run.device_q)} of {len(blocks)} samples: {message}"
            result = run.finish("failed", where)
            if isinstance(exc, KeyboardInterrupt):
                raise
            kept = f"the {len(run.device_q)} samples measured are in {result.paths[0]}"
            raise DeviceError(where, hint=f"{exc.hint}; {kept}" if exc.hint else kept) from None
    return run.finish("complete", None)


def _is_pty_or_socket(port: str) -> bool:
    return "://" in port or port.startswith("/dev/pts/")


__all__ = ["HilOptions", "HilResult", "HilRun", "PARTIAL_EVERY", "REPORT_DIR", "connect_checked", "prepare_run",
           "run_hil"]

"""Output a person and a script can use (issue 9): tables that never cut ids, piped output
never wrapped, `sim start` scriptable, --json on every command that reports a result, one
error line meaning one line, and a latency plot of exactly the timed runs.

Each test runs the real CLI as a user would: in an 80-column terminal (a pseudo-terminal) or
piped with COLUMNS=80.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

BOARD = "qemu-netduinoplus2"
NARROW = {"COLUMNS": "80"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07")


def run_in_terminal(*args: str | Path, columns: int = 80, stdout_tty: bool = True,
                    timeout: float = 600) -> tuple[int, str, str]:
    """Run `edgekit ARGS` with a pseudo-terminal of `columns` columns on stdout (or on stderr
    with `stdout_tty=False`, stdout then piped); returns (exit code, stdout, stderr), with
    terminal escape sequences and carriage returns removed from what the terminal showed."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "24", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli", *map(str, args)], env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=slave if stdout_tty else subprocess.PIPE,
                            stderr=subprocess.PIPE if stdout_tty else slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    piped_stream = proc.stderr if stdout_tty else proc.stdout
    assert piped_stream is not None
    piped = piped_stream.read().decode()
    code = proc.wait(timeout=timeout)
    os.close(master)
    shown = _ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r", "")
    return (code, shown, piped) if stdout_tty else (code, piped, shown)


def board_ids() -> list[str]:
    from edgekit.boards import list_boards

    return [b.id for b in list_boards()]


# 1. Tables never cut ids, op names or tool names.

def test_boards_table_keeps_every_id_whole_in_80_columns() -> None:
    code, shown, _ = run_in_terminal("boards")
    assert code == 0
    assert "…" not in shown, shown
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    for board_id in board_ids():
        assert re.search(rf"│ {re.escape(board_id)}\*? +│", shown), (board_id, shown)


def test_boards_table_piped_is_whole() -> None:
    r = run_cli("boards", env=NARROW)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout
    for board_id in board_ids():
        assert board_id in r.stdout
    assert "stm32cubeprogrammer" in r.stdout  # every column is there when nothing limits the width


def test_doctor_keeps_tool_names_and_paths_whole_in_80_columns() -> None:
    from edgekit.tools import TOOLS

    code, shown, _ = run_in_terminal("doctor")
    assert code == 0
    assert "…" not in shown, shown
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    for name in TOOLS:
        assert re.search(rf"│ {re.escape(name)} +│", shown), (name, shown)
    # A long path folds over lines instead of being cut: glued back, it is whole.
    glued = "".join(line.split("│")[3].strip() for line in shown.splitlines() if line.count("│") == 4)
    tf_path = json.loads(run_cli("doctor", "--json").stdout)[0]["detail"]
    assert tf_path in glued, (tf_path, glued)


def test_inspect_keeps_op_names_whole_in_80_columns(benchmark_model) -> None:
    code, shown, _ = run_in_terminal("inspect", benchmark_model("ds_cnn_kws"), "--board", BOARD)
    assert code == 0, shown
    assert "…" not in re.sub(r"[0-9a-f]+…", "", shown), shown  # the title's shortened sha256 aside
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        assert re.search(rf"│ {op} +│", shown), (op, shown)


# 2. Piped output is never wrapped; a printed command is one line that runs as printed.

@pytest.fixture(scope="module")
def nucleo_project(tmp_path_factory, benchmark_model) -> Path:
    # A long directory name, so the openocd command is far over 80 columns.
    project = tmp_path_factory.mktemp("output") / ("a-project-directory-with-a-rather-long-name " * 2).strip() / "fw"
    r = run_cli("generate", benchmark_model("sine"), "--board", "nucleo-f446re", "-o", project)
    assert r.returncode == 0, r.stderr
    r = run_cli("build", project)
    assert r.returncode == 0, r.stderr
    return project


@pytest.mark.toolchain
def test_flash_dry_run_piped_is_one_line_that_splits_to_the_argv(nucleo_project: Path) -> None:
    r = run_cli("flash", nucleo_project, "--runner", "openocd", "--dry-run", env=NARROW)
    assert r.returncode == 0, r.stderr
    elf = nucleo_project / "build" / "firmware.elf"
    lines = [line for line in r.stdout.splitlines() if line.startswith("would run: ")]
    assert len(lines) == 1 and len(r.stdout.splitlines()) == 1, r.stdout
    assert len(lines[0]) > 80
    argv = shlex.split(lines[0].removeprefix("would run: "))
    assert argv == ["openocd", "-f", "board/st_nucleo_f4.cfg", "-c", f"program {elf} verify reset exit"]


@pytest.mark.toolchain
def test_flash_dry_run_in_a_terminal_is_one_line(nucleo_project: Path) -> None:
    code, shown, _ = run_in_terminal("flash", nucleo_project, "--runner", "openocd", "--dry-run")
    assert code == 0, shown
    lines = [line for line in shown.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("would run: openocd "), shown


# 3. sim start: the port alone on stdout, the sentence on stderr; exit 2 for a physical board.

@pytest.mark.toolchain
@pytest.mark.qemu
def test_sim_start_prints_the_bare_port_on_stdout(built_project: Path) -> None:
    r = run_cli("sim", "start", BOARD, built_project, env=NARROW)
    try:
        assert r.returncode == 0, r.stderr
        port = r.stdout.strip()
        assert r.stdout == port + "\n" and port.startswith("/dev/") and os.path.exists(port), r.stdout
        assert "virtual board running" in r.stderr and port in r.stderr
        assert json.loads((built_project / "build" / "sim.json").read_text())["pty"] == port
    finally:
        assert run_cli("sim", "stop", BOARD, built_project).returncode == 0
    r = run_cli("sim", "start", BOARD, built_project, "--json")
    try:
        assert r.returncode == 0, r.stderr
        state = json.loads(r.stdout)
        assert os.path.exists(state["pty"]) and state["pid"] > 0 and state["argv"][0].endswith("qemu-system-arm")
    finally:
        assert run_cli("sim", "stop", BOARD, built_project).returncode == 0


@pytest.mark.toolchain
def test_sim_start_of_a_physical_board_is_a_usage_error(nucleo_project: Path) -> None:
    r = run_cli("sim", "start", "nucleo-f446re", nucleo_project)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "not a virtual board" in r.stderr
    assert r.stdout == ""


# 4. --json on every command that reports a result: JSON alone on stdout.

def json_stdout(*args: str | Path) -> dict | list:
    r = run_cli(*args, env=NARROW)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # the whole of stdout is one JSON document


def test_json_doctor_and_boards_show() -> None:
    from edgekit.tools import TOOLS

    checks = json_stdout("doctor", "--json")
    assert isinstance(checks, list) and [c["tool"] for c in checks] == list(TOOLS)
    board = json_stdout("boards", "show", BOARD, "--json")
    assert isinstance(board, dict) and board["id"] == BOARD and board["virtual"] is True
    assert {s["id"] for s in board["sensors"]} >= {"accel"}


@pytest.fixture(scope="module")
def built_project(tmp_path_factory, benchmark_model) -> Path:
    """generate --json and build --json of the sine model on the virtual board."""
    project = tmp_path_factory.mktemp("output-json") / "fw"
    gen = json_stdout("generate", benchmark_model("sine"), "--board", BOARD, "-o", project, "--json")
    assert isinstance(gen, dict) and Path(gen["project_dir"]) == project and gen["board"] == BOARD
    assert gen["arena_bytes"] > 0 and gen["ops"]
    built = json_stdout("build", project, "--json")
    assert isinstance(built, dict) and Path(built["elf"]).is_file()
    assert built["size"]["fits"] is True and built["size"]["flash_used"] > 0
    return project


@pytest.fixture
def sine_inputs(tmp_path: Path) -> Path:
    import numpy as np

    path = tmp_path / "x.npz"
    np.savez(path, x=np.linspace(0, 6.28, 8, dtype=np.float32).reshape(8, 1))
    return path


@pytest.mark.toolchain
@pytest.mark.qemu
def test_json_hil_with_few_runs_says_why_there_is_no_histogram(built_project: Path, sine_inputs: Path,
                                                               tmp_path: Path) -> None:
    report = json_stdout("hil", built_project, "--data", sine_inputs, "--samples", "4", "--runs", "3",
                         "--report", tmp_path, "--json")
    assert isinstance(report, dict) and report["status"] == "complete" and report["gates_passed"] is True
    assert report["latency"]["runs"] == 3
    assert str(tmp_path / "report.json") in report["files"]
    assert str(tmp_path / "latency.png") in report["files"]
    assert "only 3 timed runs: too few for a latency histogram" in (tmp_path / "report.md").read_text()


@pytest.mark.toolchain
@pytest.mark.qemu
def test_json_stream(built_project: Path, tmp_path: Path) -> None:
    rec = json_stdout("stream", "--board", BOARD, "--project", built_project, "--sensor", "accel", "--rate", "50",
                      "--seconds", "0.5", "-o", tmp_path / "rec.csv", "--json")
    assert isinstance(rec, dict) and rec["received"] > 0 and Path(rec["path"]) == tmp_path / "rec.csv"


@pytest.mark.tf
@pytest.mark.toolchain
@pytest.mark.qemu
def test_json_train_and_deploy_with_epochs_progress_only_while_inferring(tmp_path: Path) -> None:
    trained = json_stdout("train", "sine", "--epochs", "1", "-o", tmp_path / "t", "--json")
    assert isinstance(trained, dict) and trained["epochs"] == 1 and trained["example"] == "sine"
    # deploy with its stderr on a terminal (the progress bar is drawn) and stdout piped (JSON).
    code, stdout, shown = run_in_terminal("deploy", "sine", "--epochs", "1", "-o", tmp_path / "d", "--json",
                                          stdout_tty=False)
    assert code == 0, shown
    result = json.loads(stdout)
    assert [s["step"] for s in result["steps"]] == ["train", "quantize", "generate", "build", "flash", "hil"]
    assert result["hil"]["status"] == "complete"
    assert json.loads((tmp_path / "d" / "train.json").read_text())["epochs"] == 1
    assert "inferring on the board" in shown
    assert shown.index("inferring on the board") > shown.index("done building"), shown


def test_deploy_epochs_refused_for_a_model_file(benchmark_model, tmp_path: Path) -> None:
    r = run_cli("deploy", benchmark_model("sine"), "--epochs", "3", "-o", tmp_path / "d")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "--epochs" in r.stderr, r.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("extra, said", [((), "--decode converts a Keras causal LM"),
                                         (("--compress",), "--compress does not take a decode step")])
def test_deploy_decode_refusals(benchmark_model, tmp_path: Path, extra: tuple[str, ...], said: str) -> None:
    r = run_cli("deploy", benchmark_model("sine"), "--decode", *extra, "-o", tmp_path / "d")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and said in r.stderr, r.stderr
    assert not (tmp_path / "d").exists()


# 5. One error line is one line: nothing before it, not even an empty line.

@pytest.mark.toolchain
@pytest.mark.qemu
def test_error_after_the_progress_bar_is_exactly_one_line(built_project: Path, sine_inputs: Path,
                                                         tmp_path: Path) -> None:
    r = run_cli("hil", built_project, "--data", sine_inputs, "--port", str(tmp_path / "no-such-port"), env=NARROW)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, repr(r.stderr)


@pytest.mark.parametrize("args", [("hil",), ("boards", "show", BOARD, "--jsn"), ("frob",),
                                  ("train", "sine", "--epochs", "0")])
def test_usage_errors_are_one_line(args: tuple[str, ...]) -> None:
    r = run_cli(*args, env=NARROW)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "--help" in r.stderr, repr(r.stderr)
    assert r.stdout == ""


# 6. The latency plot draws exactly the timed runs.

def _report(runs: int, warmup: int, counts: list[int], virtual: bool = False):
    from edgekit.hil.evaluate import latency
    from edgekit.hil.report import HilReport

    report = HilReport("0", BOARD, virtual, "p", "0" * 64, "d", 1, "tflm")
    report.cycles_hz = 1_000_000
    report.latency = latency(counts, 1_000_000, warmup=warmup)
    assert report.latency.runs == runs
    return report


def test_timed_runs_are_the_last_runs_whatever_the_source() -> None:
    from dataclasses import replace

    from edgekit.hil.report import timed_runs

    infer = [1000] * 5 + list(range(100))   # INFER replies: warm-up first, counted out of runs
    report = _report(100, 5, infer)
    assert timed_runs(report, infer) == list(range(100))
    bench = list(range(100))                # BENCH replies: the device ran the warm-up itself
    report = _report(100, 0, bench)
    report.latency = replace(report.latency, warmup=5)
    assert timed_runs(report, bench) == bench


def test_latency_note_for_identical_runs(tmp_path: Path) -> None:
    from edgekit.hil.report import latency_plot_note, markdown, write_plots

    report = _report(20, 0, [5000] * 20, virtual=True)
    note = latency_plot_note(report)
    assert note and "all 20 timed runs took 5,000 instructions" in note
    assert note in markdown(report)
    assert write_plots(report, [5000] * 20, tmp_path) == [tmp_path / "latency.png"]
    assert latency_plot_note(_report(20, 0, list(range(20)))) is None

"""`edgekit deploy --compress` on the virtual board: a model over the board's flash is
compressed, deployed and runs exactly; a model that fits is deployed as it is, with no
compression written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edgekit.boards import load_board
from edgekit.deploy import deploy
from edgekit.hil.evaluate import Gates
from edgekit.hil.harness import HilOptions

pytestmark = [pytest.mark.tf, pytest.mark.toolchain, pytest.mark.qemu]

REPO = Path(__file__).resolve().parents[2]
# The test MLP needs ~25 KB of firmware flash on edgekit-rt: a virtual board with 19 KiB of flash
# (QEMU's netduinoplus2 otherwise) makes it overflow.
TINY_FLASH = 0x4C00


def _tiny_board(boards_dir: Path) -> Path:
    text = (REPO / "boards" / "qemu-netduinoplus2.toml").read_text()
    assert 'id = "qemu-netduinoplus2"' in text and "size = 0x10_0000" in text
    text = text.replace('id = "qemu-netduinoplus2"', 'id = "qemu-tiny-flash"').replace(
        "size = 0x10_0000", f"size = {TINY_FLASH:#x}")
    boards_dir.mkdir()
    (boards_dir / "qemu-tiny-flash.toml").write_text(text)
    return boards_dir


def _deploy(model: Path, data: Path, board_id: str, out: Path, boards_dirs: tuple[Path, ...] = ()):
    """The library call `edgekit deploy --compress --require-exact` makes, on fewer samples, pruning only."""
    opts = HilOptions(max_samples=40, bench_runs=2, warmup=1, gates=Gates(require_exact=True))
    return deploy(str(model), load_board(board_id, boards_dirs), out, data=data, hil_options=opts,
                  step=lambda message: _NoStep(), compress=True, compress_methods=("prune", "distill"))


class _NoStep:
    def __enter__(self) -> Callable[[str], None]:
        return lambda text: None   # the stage's progress note

    def __exit__(self, *exc: object) -> None:
        return None


def test_deploy_compresses_a_model_that_does_not_fit_and_runs_it_exactly(digits_mlp, digits_npz, tmp_path):
    _, path = digits_mlp
    boards = _tiny_board(tmp_path / "boards")
    result = _deploy(path, digits_npz, "qemu-tiny-flash", tmp_path / "out", (boards,))
    steps = dict(result.steps)
    assert "compressed.tflite" in steps["compress"] and "flash ~" in steps["compress"]
    assert result.hil.gates_passed and result.hil.report.agreement.exact_share == 1.0
    assert result.hil.report.board == "qemu-tiny-flash"
    assert (tmp_path / "out" / "compress" / "compress.json").is_file()
    assert steps["compress"].startswith("prune-")
    built = steps["build"]
    flash_used = int(built.split("flash ")[1].split(" B")[0].replace(",", ""))
    assert flash_used <= TINY_FLASH


def test_deploy_of_a_model_that_fits_writes_no_compression(digits_mlp, digits_npz, tmp_path):
    _, path = digits_mlp
    result = _deploy(path, digits_npz, "qemu-netduinoplus2", tmp_path / "out")
    assert dict(result.steps)["compress"].startswith("not needed: the int8 model fits qemu-netduinoplus2")
    assert result.hil.gates_passed and result.hil.report.agreement.exact_share == 1.0
    assert not (tmp_path / "out" / "compress").exists()

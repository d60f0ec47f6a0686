"""The budget: the board's sizes unless overridden, latency predicted from MACs, and the
distance to the budget in words."""

from __future__ import annotations

import pytest

from edgekit.boards import load_board
from edgekit.compress.budget import CandidateFit, board_budget, describe_overflow, predicted_latency_ms
from edgekit.compress.run import parse_methods
from edgekit.errors import UsageError
from edgekit.runtimes import EDGEKIT_RT, TFLM
from edgekit.runtimes.registry import get_runtime


def test_budget_comes_from_the_board_unless_overridden():
    board = load_board("nucleo-f446re")
    b = board_budget(board)
    assert (b.flash, b.ram, b.latency_ms, b.flash_from) == (512 * 1024, 128 * 1024, None, "board")
    b = board_budget(board, EDGEKIT_RT, max_flash=100_000, max_latency_ms=2.5)
    assert (b.flash, b.ram, b.latency_ms, b.flash_from, b.ram_from) == (100_000, 128 * 1024, 2.5, "--max-flash",
                                                                         "board")
    with pytest.raises(UsageError, match="--max-ram must be positive"):
        board_budget(board, max_ram=0)
    with pytest.raises(UsageError, match="unknown runtime"):
        board_budget(board, "tvm")


def test_latency_prediction_and_overflow():
    # 1 M MACs at 180 MHz on edgekit-rt: 2.807 instructions per MAC plus 1,266 per invoke.
    assert predicted_latency_ms(1_000_000, EDGEKIT_RT, 180_000_000) == pytest.approx((2.807e6 + 1266) / 180e6 * 1e3)
    assert get_runtime(TFLM).instructions_per_mac > get_runtime(EDGEKIT_RT).instructions_per_mac
    budget = board_budget(load_board("nucleo-f446re"), max_flash=50_000, max_latency_ms=1.0)
    fp = CandidateFit(EDGEKIT_RT, flash=60_000, ram=1_000, arena=200, macs=10, latency_ms=1.5)
    assert fp.overflow(budget) == {"flash": 10_000, "latency_ms": 0.5}
    assert describe_overflow(fp.overflow(budget)) == "flash 10,000 B over, latency 0.50 ms over"
    assert CandidateFit(EDGEKIT_RT, 50_000, 1_000, 200, 10, 1.0).overflow(budget) == {}


def test_methods_are_checked():
    assert parse_methods("prune, qat") == ("prune", "qat")
    with pytest.raises(UsageError, match="unknown compression method 'zip'"):
        parse_methods("prune,zip")


@pytest.mark.tf
def test_pruning_a_wide_conv_shrinks_the_planned_ram(digits):
    """The RAM a candidate needs is the edgekit-rt plan of its converted graph: fewer filters,
    smaller activations, smaller arena."""
    from edgekit.compress.budget import footprint
    from edgekit.compress.prune import prune_model
    from edgekit.model.quantize import convert_int8
    from edgekit.model.tflite_graph import parse_graph
    from tests.conftest import import_keras

    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(96, 3, padding="same", activation="relu"),
                              L.MaxPooling2D(2), L.Flatten(), L.Dense(10, activation="softmax")])
    board = load_board("nucleo-f446re")
    budget = board_budget(board, max_ram=16_000)
    sizes = []
    for m in (model, prune_model(model, 0.25)):
        tflite = convert_int8(m, digits["x_calib"][:50])
        sizes.append(footprint(tflite, parse_graph(tflite), board, budget))
    big, small = sizes
    assert big.runtime == small.runtime == EDGEKIT_RT
    assert big.arena >= 8 * 8 * 96 and small.arena < big.arena / 3    # conv output 6 KiB -> 1.5 KiB
    assert big.ram - small.ram == big.arena - small.arena               # the rest of the firmware is fixed
    assert "ram" in big.overflow(budget) and small.overflow(budget) == {}


def test_drop_is_points_of_accuracy_and_percent_of_an_error():
    from edgekit.compress.search import drop_points, within_drop

    assert drop_points("accuracy", 0.97, 0.95) == pytest.approx(2.0)
    assert drop_points("roc_auc", 0.90, 0.93) == pytest.approx(-3.0)       # better: a negative drop
    assert drop_points("mae", 0.010, 0.012) == pytest.approx(20.0)          # 20 % more error
    assert within_drop(drop_points("accuracy", 0.9688888888888889, 0.9488888888888889), 2.0)
    assert not within_drop(2.01, 2.0)


def test_fine_tuning_margin_bounds_the_shift_arrays_new_weights_can_add(benchmark_model) -> None:
    """edgekit-rt stores a layer's per-channel shifts as one byte per channel unless they pack
    into its multipliers, which depends on the weight scales: the margin covers every such layer."""
    from edgekit.codegen import compile_model
    from edgekit.model.tflite_graph import load_graph

    graph = load_graph(benchmark_model("ds_cnn_kws"))
    per_channel = [graph.tensors[op.inputs[1]].quant.scale.size for op in graph.operators
                   if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                   and graph.tensors[op.inputs[1]].quant.per_channel]
    margin = get_runtime(EDGEKIT_RT).fine_tune_flash_margin(graph)
    assert margin == sum(per_channel) > 0 and get_runtime(TFLM).fine_tune_flash_margin(graph) == 0
    shift_bytes = sum(c.nbytes for st in compile_model(graph).steps for c in st.consts if c.name.endswith("_s"))
    assert shift_bytes <= margin      # what this model stores now; fine-tuning can add at most the rest

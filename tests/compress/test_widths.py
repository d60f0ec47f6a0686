"""Width per layer: the refinement of the uniform pruning width that fits, on a made-up cost and
on real sizes (a CNN over RAM keeps its small layer whole and narrows the big activation)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.compress.budget import board_budget, footprint
from edgekit.compress.prune import ChannelGroup, describe_groups, prune_model
from edgekit.compress.widths import (
    damage_order,
    group_widths,
    ladder,
    output_damage,
    pruning_damage,
    refine_widths,
    uniform_kept,
    width_fractions,
)
from edgekit.model.quantize import convert_int8
from edgekit.model.tflite_graph import parse_graph
from tests.conftest import import_keras


def test_ladder_order_and_damage():
    assert ladder(10, 5) == [6, 7, 8, 9, 10]                    # 1/20 steps round to whole channels
    assert ladder(100, 25) == list(range(30, 101, 5))
    assert ladder(8, 8) == []
    assert damage_order([0.1, 0.5, 0.5]) == [1, 2, 0]          # ties in layer order
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert output_damage(t, t) == 0.0 and output_damage(np.zeros_like(t), t) == pytest.approx(1.0)


def test_refinement_widens_what_costs_nothing_and_bisects_what_does():
    big, small = ChannelGroup(("conv1",), 100, True), ChannelGroup(("conv2",), 10, True)
    groups = [big, small]
    sized: list[list[int]] = []

    def fits(kept: list[int]) -> bool:     # RAM: the big layer's activation only
        sized.append(kept)
        return kept[0] * 50 <= 3_000

    start = uniform_kept(groups, 0.25)
    assert start == [25, 2]
    # the small group does the most damage: it goes first, straight to full width (one sizing)
    assert refine_widths(groups, start, [0.1, 0.9], fits) == [60, 10]
    assert sized[0] == [25, 10] and len(sized) <= 1 + 1 + 4     # full width, then bisection over 14 steps
    assert group_widths(groups, [60, 10])[0].kept == 60
    assert width_fractions(groups, [60, 10]) == {"conv1": 0.6, "conv2": 1.0}


@pytest.mark.tf
def test_cnn_over_ram_keeps_its_small_layer_whole(digits):
    """Real sizes: conv1's 8x8x96 activation dominates the RAM; conv2 (8 filters after pooling)
    costs nothing there, so the refinement restores it and keeps conv1 as narrow as the RAM needs."""
    keras = import_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(96, 3, padding="same", activation="relu", name="conv1"),
                              L.MaxPooling2D(2), L.Conv2D(8, 1, activation="relu", name="conv2"), L.Flatten(),
                              L.Dense(10, activation="softmax", name="out")])
    board = load_board("nucleo-f446re")
    calib = digits["x_calib"][:50]

    def size(m):
        tflite = convert_int8(m, calib)
        return footprint(tflite, parse_graph(tflite), board, budget)

    budget = board_budget(board)
    whole = size(model)
    budget = board_budget(board, max_ram=whole.ram - whole.arena * 3 // 5)    # 60% of the arena must go
    groups = [g for g in describe_groups(model) if g.prunable]
    assert [g.layers for g in groups] == [("conv1",), ("conv2",)]
    start = uniform_kept(groups, 0.35)
    assert size(prune_model(model, 0.35)).overflow(budget) == {}         # a uniform cut that fits
    damage = pruning_damage(model, groups, start, digits["x_train"][:64], model.predict(digits["x_train"][:64],
                                                                                       verbose=0))
    kept = refine_widths(groups, start, damage,
                         lambda k: not size(prune_model(model, width_fractions(groups, k))).overflow(budget))
    assert kept[1] == 8 and start[0] <= kept[0] < 96

"""Width per layer: refine the uniform pruning width that fits into a width for each channel group.

The search first finds, by bisection, the largest uniform width (every prunable group cut to
the same fraction) that fits the budget. A uniform cut is blind to two things:
- what each group costs: the resource that overflows is usually dominated by a few layers
  (an MLP over flash: its biggest weight matrices; a CNN over RAM: the layers with the biggest
  activations), and cutting the others saves almost nothing;
- what each group is worth: some layers lose much more accuracy than others when narrowed.

`refine_widths` starts from that uniform fit and widens the groups one after the other, in
order of the damage their pruning does (the group whose pruning alone changes the model's
outputs most goes first): each group is tried at full width, else widened by bisection over a
ladder of channel counts between its current width and its full width, as far as the
candidate still fits with the other groups where they are. A group that costs nothing in
the overflowing resource (a small layer after the big activation, say) goes back to full
width; the groups that dominate the overflow stay as narrow as the budget needs. Every step
is a real candidate, converted and sized (no size model to drift from the fit check); sizes
grow with any one group's width, so bisection finds the widest fitting setting with a few
sizings per group. The search fine-tunes both the uniform fit and the refined one and keeps
the better int8 metric, so the refinement never makes the answer worse. Damage is measured
without fine-tuning on a fixed slice of the training data, so the result depends only on the
model, the data and the budget: deterministic, seed or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.compress.prune import ChannelGroup, Scores, kept_channels

LADDER_STEPS = 20          # the widening ladder: multiples of 1/20 of a group's full width
DAMAGE_SAMPLES = 256       # training inputs the damage of pruning a group alone is measured on


@dataclass(frozen=True)
class LayerWidth:
    """Channels (units, filters) or rank `kept` of layer `layer`, out of `of`."""

    layer: str
    kept: int
    of: int


def group_widths(groups: list[ChannelGroup], kept: list[int]) -> list[LayerWidth]:
    """The width of every layer of the prunable `groups` when group i keeps kept[i] channels."""
    return [LayerWidth(name, k, g.width) for g, k in zip(groups, kept) for name in g.layers]


def uniform_kept(groups: list[ChannelGroup], width: float) -> list[int]:
    """The channels each group keeps at one uniform `width` (as prune_model cuts them)."""
    return [kept_channels(g.width, width) for g in groups]


def width_fractions(groups: list[ChannelGroup], kept: list[int]) -> dict[str, float]:
    """prune_model's per-layer argument for `kept` channels per group (a fraction that rounds back to it)."""
    return {name: k / g.width for g, k in zip(groups, kept) for name in g.layers}


def ladder(full: int, current: int) -> list[int]:
    """The channel counts a group may widen to, ascending: multiples of full/LADDER_STEPS above
    `current`, and `full`."""
    steps = {kept_channels(full, i / LADDER_STEPS) for i in range(1, LADDER_STEPS + 1)}
    return sorted(k for k in steps | {full} if current < k <= full)


def output_damage(outputs: np.ndarray, teacher: np.ndarray) -> float:
    """How far `outputs` are from the original model's: mean squared difference relative to the
    mean square of the original's outputs (task-agnostic: probabilities, values, reconstructions)."""
    o = outputs.reshape(len(outputs), -1).astype(np.float64)
    t = teacher.reshape(len(teacher), -1).astype(np.float64)
    return float(np.mean((o - t) ** 2) / (np.mean(t ** 2) + 1e-12))


def damage_order(damage: list[float]) -> list[int]:
    """Group indices, most damaged first (ties in layer order)."""
    return sorted(range(len(damage)), key=lambda i: (-damage[i], i))


def refine_widths(groups: list[ChannelGroup], start: list[int], damage: list[float],
                  fits: Callable[[list[int]], bool]) -> list[int]:
    """Per-group channel counts from the fitting `start`: each group, most damaged first, widened
    as far as `fits(kept)` allows with the others held (see the module docstring)."""
    kept = list(start)
    for i in damage_order(damage):
        steps = ladder(groups[i].width, kept[i])
        if not steps:
            continue
        full = [*kept[:i], steps[-1], *kept[i + 1:]]
        if fits(full):      # full width first: the usual answer for a group the overflow does not hinge on
            kept = full
            continue
        lo, hi = 0, len(steps) - 2
        while lo <= hi:
            mid = (lo + hi) // 2
            trial = [*kept[:i], steps[mid], *kept[i + 1:]]
            if fits(trial):
                kept, lo = trial, mid + 1
            else:
                hi = mid - 1
    return kept


def pruning_damage(model: Any, groups: list[ChannelGroup], kept: list[int], x: np.ndarray,
                   teacher: np.ndarray, scores: Scores | None = None) -> list[float]:
    """For each group, the output damage (on `x`, against the original's outputs `teacher`) of
    pruning that group alone to its `kept` channels (by `scores`, else L1), before any fine-tuning."""
    from edgekit.compress.prune import prune_model
    from edgekit.model.evaluate import run_keras

    damage = []
    for i in range(len(groups)):
        alone = [g.width if j != i else kept[i] for j, g in enumerate(groups)]
        pruned = prune_model(model, width_fractions(groups, alone), scores=scores)
        damage.append(output_damage(run_keras(pruned, x).values, teacher))
    return damage


__all__ = ["LayerWidth", "group_widths", "uniform_kept", "width_fractions", "ladder", "output_damage",
           "damage_order", "refine_widths", "pruning_damage", "LADDER_STEPS", "DAMAGE_SAMPLES"]

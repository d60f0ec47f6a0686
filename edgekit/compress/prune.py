"""Structured pruning: fewer units and filters, a genuinely smaller dense model.

Unstructured sparsity saves nothing on TFLM or edgekit-rt (no sparse kernels), so pruning
here removes whole output channels of Dense, Conv2D and Conv1D layers, and with them the matching
input channels of whatever reads them (BatchNormalization, DepthwiseConv2D, Flatten, the next
Dense/Conv2D). Channels that meet at a residual Add (or any elementwise merge) must stay
aligned: the layers feeding one merge form a channel group, pruned together by their summed
importance. Concatenate keeps each input's own choice, shifted by its offset. A group whose
channels reach the model output or a layer this module does not know stays whole.

Importance is the L1 norm of each output channel's kernel slice (or scores given per layer,
e.g. the gradient-based ones of taylor.py), normalised per layer so layers of different scale
count alike in a group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.compress.graph import LayerCall, ModelGraph, call_layer, clone_layer, copy_call, layer_calls, rebuild

SOURCES = ("Dense", "Conv2D", "Conv1D")
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
PASS_THROUGH = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "Dropout", "MaxPooling2D",
                "AveragePooling2D", "MaxPooling1D", "AveragePooling1D", "ZeroPadding2D", "GlobalAveragePooling2D",
                "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "DepthwiseConv2D",
                "SpatialDropout2D", "GaussianNoise", "Identity")


@dataclass(frozen=True)
class ChannelGroup:
    """Layers whose output channels are pruned together, their width, and whether they may be."""

    layers: tuple[str, ...]
    width: int
    prunable: bool


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _kind(layer: Any) -> str:
    return type(layer).__name__


def _groups_of(carrier: Any) -> list[int]:
    """The source indices a tensor's channels come from (a carrier is None, an int, or a tuple)."""
    if carrier is None:
        return []
    if isinstance(carrier, int):
        return [carrier]
    return [g for c in carrier[1] for g in _groups_of(c)]


def _is_last_axis(layer: Any, rank: int) -> bool:
    axis = layer.get_config().get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    return isinstance(axis, int) and axis in (-1, rank)


def _prunable_call(call: LayerCall) -> bool:
    layer = call.layer
    if _kind(layer) in ("Conv2D", "Conv1D"):
        return int(layer.get_config().get("groups", 1)) == 1
    return _kind(layer) == "Dense"


def channel_groups(graph: ModelGraph) -> tuple[list[LayerCall], list[int], set[int]]:
    """Analyse `graph`: the source calls (Dense/Conv2D/Conv1D), each one's group root, and the roots
    that must stay whole."""
    sources = [c for c in graph.calls if _prunable_call(c)]
    index = {id(c): i for i, c in enumerate(sources)}
    uf = _UnionFind(len(sources))
    carrier: dict[int, Any] = {graph.input: None}
    fixed: set[int] = set()
    for call in graph.calls:
        kind, ins = _kind(call.layer), [carrier.get(i) for i in call.inputs]
        rank = len(graph.shapes[call.output])
        if id(call) in index:
            out: Any = index[id(call)]
        elif kind == "DepthwiseConv2D" and int(call.layer.get_config().get("depth_multiplier", 1)) != 1:
            fixed.update(_groups_of(ins[0]))
            out = None
        elif kind == "BatchNormalization" and not _is_last_axis(call.layer, rank):
            fixed.update(_groups_of(ins[0]))
            out = None
        elif kind in PASS_THROUGH:
            out = ins[0]
        elif kind in MERGES:
            singles = [c for c in ins if isinstance(c, int)]
            if len(singles) != len(ins):      # a merge of whole tensors, concatenations or flattenings
                fixed.update(g for c in ins for g in _groups_of(c))
            for c in singles[1:]:
                uf.union(c, singles[0])
            out = singles[0] if singles and len(singles) == len(ins) else None
        elif kind == "Concatenate" and _is_last_axis(call.layer, rank):
            out = ("cat", tuple(ins)) if any(c is not None for c in ins) else None
        elif kind == "Flatten":
            out = ("flat", (ins[0],)) if ins[0] is not None else None
        else:
            fixed.update(g for c in ins for g in _groups_of(c))
            out = None
        carrier[call.output] = out
    fixed.update(_groups_of(carrier.get(graph.output)))
    roots = [uf.find(i) for i in range(len(sources))]
    return sources, roots, {roots[g] for g in fixed}


def describe_groups(model: Any) -> list[ChannelGroup]:
    """The channel groups of `model`, in layer order."""
    graph = layer_calls(model)
    sources, roots, fixed = channel_groups(graph)
    out = []
    for root in dict.fromkeys(roots):
        members = [s for s, r in zip(sources, roots) if r == root]
        out.append(ChannelGroup(tuple(m.layer.name for m in members), _width(members[0].layer),
                                root not in fixed))
    return out


def _width(layer: Any) -> int:
    return int(layer.get_config().get("units") or layer.get_config()["filters"])


def kept_channels(n: int, width: float) -> int:
    """The channels a group of `n` keeps at fraction `width` (at least one)."""
    return min(n, max(1, int(round(width * n))))


# Importance scores of the output channels, per layer name (taylor.py); absent layers use L1.
Scores = dict[str, np.ndarray]


def _importance(layer: Any, scores: Scores | None) -> np.ndarray:
    if scores is not None and layer.name in scores:
        score = np.asarray(scores[layer.name], dtype=np.float64)
    else:
        kernel = np.asarray(layer.get_weights()[0], dtype=np.float64)
        score = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    return score / (score.mean() + 1e-12)


def _kept(graph: ModelGraph, width: float | dict[str, float], scores: Scores | None) -> dict[int, np.ndarray]:
    """Output channels kept for each source call (by id(call)); whole groups are absent."""
    sources, roots, fixed = channel_groups(graph)
    kept: dict[int, np.ndarray] = {}
    for root in dict.fromkeys(roots):
        if root in fixed:
            continue
        members = [s for s, r in zip(sources, roots) if r == root]
        n = _width(members[0].layer)
        frac = width if isinstance(width, float) else min(width.get(m.layer.name, 1.0) for m in members)
        keep = kept_channels(n, frac)
        if keep >= n:
            continue
        score = sum(_importance(m.layer, scores) for m in members)
        chosen = np.sort(np.argsort(-score, kind="stable")[:keep])
        for m in members:
            kept[id(m)] = chosen
    return kept


def prune_model(model: Any, width: float | dict[str, float], *, name: str | None = None,
                scores: Scores | None = None) -> Any:
    """A new model with each prunable channel group cut to `width` (a fraction, or a fraction
    per layer name: a group takes the smallest of its members') by importance (`scores` per
    layer name, else L1); the kept weights are copied, so the result predicts close to the
    original before fine-tuning."""
    graph = layer_calls(model)
    kept_out = _kept(graph, width, scores)
    kept: dict[int, np.ndarray | None] = {graph.input: None}

    def replace(call: LayerCall, inputs: list[Any]) -> Any:
        kind = _kind(call.layer)
        ins = [kept.get(i) for i in call.inputs]
        shape_in = graph.shapes[call.inputs[0]] if call.inputs else ()
        if id(call) in kept_out or (_prunable_call(call) and ins[0] is not None):
            out_idx = kept_out.get(id(call))
            weights = [np.asarray(w) for w in call.layer.get_weights()]
            if ins[0] is not None:
                weights[0] = np.take(weights[0], ins[0], axis=-2)
            if out_idx is not None:
                weights = [np.take(w, out_idx, axis=-1) for w in weights]
            size = int(weights[0].shape[-1])
            layer = clone_layer(call.layer, **({"units": size} if kind == "Dense" else {"filters": size}))
            result = call_layer(layer, inputs)
            layer.set_weights(weights)
            kept[call.output] = out_idx
            return result
        if kind in ("BatchNormalization", "DepthwiseConv2D") and ins[0] is not None:
            idx = ins[0]
            layer = clone_layer(call.layer)
            result = call_layer(layer, inputs)
            weights = [np.take(np.asarray(w), idx, axis=2 if w.ndim == 4 else -1) for w in call.layer.get_weights()]
            layer.set_weights(weights)
            kept[call.output] = idx
            return result
        if kind == "Concatenate":
            parts, offset = [], 0
            for i, k in zip(call.inputs, ins):
                c = graph.shapes[i][-1]
                parts.append((np.arange(c) if k is None else k) + offset)
                offset += c
            kept[call.output] = None if all(k is None for k in ins) else np.concatenate(parts)
        elif kind == "Flatten" and ins[0] is not None:
            c, positions = shape_in[-1], int(np.prod(shape_in[:-1]))
            kept[call.output] = (np.arange(positions)[:, None] * c + ins[0][None, :]).reshape(-1)
        else:
            kept[call.output] = ins[0] if ins else None
        return copy_call(call, inputs)

    input_shape = graph.shapes[graph.input]
    return rebuild(graph, input_shape, replace, name or f"{model.name}_pruned")


__all__ = ["ChannelGroup", "Scores", "channel_groups", "describe_groups", "kept_channels", "prune_model"]

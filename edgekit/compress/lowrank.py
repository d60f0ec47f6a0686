"""Low-rank factorization: a Dense (or 1x1 Conv2D) layer as two thinner ones.

A kernel W (in x out) is replaced by its truncated SVD, W ~ (U_r sqrt(S_r)) (sqrt(S_r) V_r^T):
a linear layer of r units without bias, then the original layer with r inputs, its bias and
activation. That saves weights when r (in + out) < in * out. The rank is the smallest that
keeps a share `energy` of the squared singular values, or one given per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.compress.graph import LayerCall, call_layer, clone_layer, copy_call, layer_calls, rebuild


@dataclass(frozen=True)
class Factorization:
    """One layer's factorization: its shape, the rank kept and the share of energy retained."""

    layer: str
    inputs: int
    outputs: int
    rank: int
    energy: float

    @property
    def saves(self) -> bool:
        """Whether two layers of this rank hold fewer weights than the one they replace."""
        return self.rank * (self.inputs + self.outputs) < self.inputs * self.outputs


def rank_for_energy(singular_values: np.ndarray, energy: float) -> int:
    """The smallest rank whose singular values keep at least `energy` of the total squared sum."""
    sq = np.asarray(singular_values, dtype=np.float64) ** 2
    if sq.sum() == 0:
        return 1
    cumulative = np.cumsum(sq) / sq.sum()
    return min(len(sq), int(np.searchsorted(cumulative, energy - 1e-12)) + 1)


def factor_kernel(kernel: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with A: in x rank and B: rank x out, A @ B the best rank-`rank` approximation of `kernel`."""
    u, s, vt = np.linalg.svd(np.asarray(kernel, dtype=np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    return (u[:, :rank] * root).astype(np.float32), (root[:, None] * vt[:rank]).astype(np.float32)


def _matrix(layer: Any) -> np.ndarray | None:
    """The 2-D kernel of a Dense or 1x1, stride-1, ungrouped Conv2D layer; None for other layers."""
    kind = type(layer).__name__
    if kind == "Dense":
        return np.asarray(layer.get_weights()[0])
    if kind == "Conv2D":
        cfg = layer.get_config()
        kernel = np.asarray(layer.get_weights()[0])
        if kernel.shape[:2] == (1, 1) and tuple(cfg.get("strides", (1, 1))) == (1, 1) and cfg.get("groups", 1) == 1:
            return kernel[0, 0]
    return None


def plan_factorization(model: Any, energy: float, *, skip: tuple[str, ...] = ()) -> list[Factorization]:
    """The rank each Dense / 1x1 Conv2D layer would get at `energy`; only those that save weights."""
    plans = []
    for call in layer_calls(model).calls:
        w = _matrix(call.layer)
        if w is None or call.layer.name in skip or min(w.shape) < 2:
            continue
        s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
        r = rank_for_energy(s, energy)
        kept = float((s[:r] ** 2).sum() / max((s ** 2).sum(), 1e-30))
        f = Factorization(call.layer.name, int(w.shape[0]), int(w.shape[1]), r, kept)
        if f.saves:
            plans.append(f)
    return plans


def factorize_model(model: Any, energy: float | dict[str, int], *, skip: tuple[str, ...] = (),
                    name: str | None = None) -> tuple[Any, list[Factorization]]:
    """A new model with each Dense / 1x1 Conv2D layer that saves weights split in two by
    truncated SVD (`energy`: the share kept, or a rank per layer name); returns it and the
    factorizations made."""
    if isinstance(energy, dict):
        plans = []
        for call in layer_calls(model).calls:
            w = _matrix(call.layer)
            if w is not None and call.layer.name in energy:
                f = Factorization(call.layer.name, int(w.shape[0]), int(w.shape[1]), energy[call.layer.name], 0.0)
                if f.saves:
                    plans.append(f)
    else:
        plans = plan_factorization(model, energy, skip=skip)
    by_name = {f.layer: f for f in plans}
    graph = layer_calls(model)

    def replace(call: LayerCall, inputs: list[Any]) -> Any:
        plan = by_name.get(call.layer.name)
        if plan is None:
            return copy_call(call, inputs)
        import keras

        a, b = factor_kernel(_matrix(call.layer), plan.rank)     # type: ignore[arg-type]
        weights = call.layer.get_weights()
        if type(call.layer).__name__ == "Dense":
            first = keras.layers.Dense(plan.rank, use_bias=False, name=f"{call.layer.name}_lr")
            second = clone_layer(call.layer)
        else:
            first = keras.layers.Conv2D(plan.rank, 1, use_bias=False, name=f"{call.layer.name}_lr")
            second = clone_layer(call.layer)
            a, b = a[None, None], b[None, None]
        out = call_layer(second, [first(inputs[0])])
        first.set_weights([a])
        second.set_weights([b, *weights[1:]])
        return out

    return rebuild(graph, graph.shapes[graph.input], replace, name or f"{model.name}_lowrank"), plans


__all__ = ["Factorization", "rank_for_energy", "factor_kernel", "plan_factorization", "factorize_model"]

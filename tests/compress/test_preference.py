"""The search's choice among candidates that fit: the best int8 metric, and among equals never one
that another candidate dominates (same metric and flash, less RAM)."""

from __future__ import annotations

from edgekit.compress.search import Candidate, preference


def _cand(cid: str, metric: float, flash: int, ram: int, macs: int = 100) -> Candidate:
    return Candidate(cid, "prune", 1000, flash=flash, ram=ram, macs=macs, int8_metric=metric, fits=True)


def test_ties_go_to_the_smaller_candidate() -> None:
    cands = [_cand("more-ram", 0.95, 40_000, 9_000), _cand("less-ram", 0.95, 40_000, 7_000),
             _cand("worse", 0.90, 10_000, 1_000), _cand("more-flash", 0.95, 41_000, 1_000)]
    assert [c.id for c in sorted(cands, key=preference("accuracy"))] == \
        ["less-ram", "more-ram", "more-flash", "worse"]


def test_lower_is_better_metrics_come_first_when_smaller() -> None:
    cands = [_cand("a", 0.20, 10, 10), _cand("b", 0.10, 99, 99), _cand("c", 0.10, 99, 50)]
    assert [c.id for c in sorted(cands, key=preference("mae"))] == ["c", "b", "a"]

"""Pareto front of quality against cost: the rows nothing else beats on both at once."""
from __future__ import annotations

from typing import Sequence


def pareto_front(points: Sequence[tuple[float, float | None]], higher_is_better: bool = True) -> list[bool]:
    """For each ``(quality, cost)`` point, whether it is on the Pareto front.

    A point is dominated when another point is at least as good in quality and at least as cheap,
    and strictly better in one of the two. Lower cost is always better; quality direction follows
    ``higher_is_better``. Points whose cost is unknown (None) are neither on the front nor dominate.
    Identical points do not dominate each other, so both stay on the front.
    """
    sign = 1.0 if higher_is_better else -1.0
    pts = [(sign * q, c) for q, c in points]
    front = []
    for i, (qi, ci) in enumerate(pts):
        if ci is None or qi is None:
            front.append(False)
            continue
        dominated = any(
            j != i and cj is not None and qj is not None and qj >= qi and cj <= ci and (qj > qi or cj < ci)
            for j, (qj, cj) in enumerate(pts))
        front.append(not dominated)
    return front

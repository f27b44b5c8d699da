"""Reciprocal rank fusion (Cormack, Clarke & Buettcher, 2009): a passage's fused score is
``sum over rankings of 1 / (k0 + rank)`` (rank 1 = best), so two rankings with incomparable scores
(BM25 and cosine) combine without calibration. ``k0 = 60`` is the paper's constant."""
from __future__ import annotations

RRF_K0 = 60


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], k: int, k0: int = RRF_K0) -> list[tuple[int, float]]:
    """Fuse ``rankings`` (each a best-first list of ``(row, score)``) into the ``k`` best ``(row, fused
    score)``; ties go to the row ranked better in the first ranking, then the lower row."""
    fused: dict[int, float] = {}
    first_rank: dict[int, tuple[int, int]] = {}
    for r_i, ranking in enumerate(rankings):
        for rank, (row, _) in enumerate(ranking, 1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k0 + rank)
            first_rank.setdefault(row, (r_i, rank))
    order = sorted(fused, key=lambda r: (-fused[r], first_rank[r], r))
    return [(r, fused[r]) for r in order[:k]]

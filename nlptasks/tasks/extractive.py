"""Extractive sentence selection over sentence embeddings (MMR around the document centroid).

Pure numpy: ``select_sentences(embeddings, k)`` returns the indices of ``k`` sentences that are central
to the document (close to the mean embedding) and not redundant with each other (maximal marginal
relevance), in document order.
"""
from __future__ import annotations

import math

import numpy as np


def summary_length(n_sentences: int, sentences: int | None = None, ratio: float | None = None,
                   default: int = 3) -> int:
    if ratio is not None:
        k = math.ceil(n_sentences * ratio)
    else:
        k = sentences if sentences is not None else default
    return max(1, min(n_sentences, k))


def select_sentences(embeddings: np.ndarray, k: int, diversity: float = 0.3,
                     position_weight: float = 0.0) -> list[int]:
    """Pick ``k`` rows of L2-normalised ``embeddings`` by MMR; return their indices sorted.

    relevance(i) = cos(e_i, centroid) (+ an optional bonus for early sentences, ``position_weight``);
    each step takes argmax (1 - diversity) * relevance(i) - diversity * max_j∈selected cos(e_i, e_j).
    """
    return sorted(mmr_steps(embeddings, k, diversity, position_weight)[1])


def mmr_steps(embeddings: np.ndarray, k: int, diversity: float = 0.3,
              position_weight: float = 0.0) -> tuple[np.ndarray, list[int]]:
    """The MMR selection of :func:`select_sentences` step by step: each sentence's relevance and the picked
    indices in the order they were picked (every index when ``k`` covers all). ``--explain`` reads it."""
    emb = np.asarray(embeddings, dtype=np.float64)
    n = emb.shape[0]
    centroid = emb.mean(axis=0)
    norm = np.linalg.norm(centroid)
    centroid = centroid / norm if norm > 0 else centroid
    relevance = emb @ centroid
    if position_weight:
        relevance = relevance + position_weight / (1.0 + np.arange(n))
    if k >= n:
        return relevance, list(range(n))
    sim = emb @ emb.T
    selected: list[int] = []
    redundancy = np.full(n, -np.inf)
    for _ in range(k):
        red = np.where(np.isfinite(redundancy), redundancy, 0.0)
        score = (1 - diversity) * relevance - diversity * red
        score[selected] = -np.inf
        best = int(np.argmax(score))  # ties -> earliest sentence
        selected.append(best)
        redundancy = np.maximum(np.where(np.isfinite(redundancy), redundancy, -np.inf), sim[best])
    return relevance, selected

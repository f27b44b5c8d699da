"""ERASER faithfulness (DeYoung et al., 2020) over word attributions: pure Python, no torch.

For an example with predicted class ``y`` and the words ranked by attribution (highest first), the
rationale at ``k`` is the top ``ceil(k * n_words)`` words (at least one).

- comprehensiveness = p(y | x) - p(y | x without the rationale): large when the words the method points
  at are the ones the prediction needs;
- sufficiency = p(y | x) - p(y | the rationale alone): small (or negative) when those words are enough.

Removing words deletes their characters and collapses the spaces left behind; keeping words joins them
in their original order with single spaces. Ties in attribution are broken by position (earlier first).
"""
from __future__ import annotations

import math
import random
import re
from typing import Sequence

_SPACES = re.compile(r"\s+")


def rationale_size(n_words: int, fraction: float) -> int:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return 0 if n_words == 0 else max(1, min(n_words, math.ceil(fraction * n_words)))


def top_k(scores: Sequence[float], fraction: float) -> list[int]:
    """Indices of the top ``fraction`` of words by score (highest first; ties: earlier first)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return order[:rationale_size(len(scores), fraction)]


def remove_words(text: str, spans: Sequence[tuple[int, int]], drop: Sequence[int]) -> str:
    """``text`` without the words ``drop`` (indices into ``spans``), runs of whitespace collapsed."""
    gone = sorted(spans[i] for i in set(drop))
    parts, at = [], 0
    for a, b in gone:
        parts.append(text[at:a])
        at = b
    parts.append(text[at:])
    return _SPACES.sub(" ", "".join(parts)).strip()


def keep_words(text: str, spans: Sequence[tuple[int, int]], keep: Sequence[int]) -> str:
    """Only the words ``keep``, in their original order, joined by single spaces."""
    return " ".join(text[a:b] for a, b in sorted(spans[i] for i in set(keep)))


def random_scores(n: int, seed: int) -> list[float]:
    """The random-attribution baseline: ``n`` scores from a seeded generator."""
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def perturbed_texts(text: str, spans: Sequence[tuple[int, int]], scores: Sequence[float],
                    fractions: Sequence[float]) -> dict[float, tuple[str, str]]:
    """For each fraction ``k``: ``(text without the rationale, the rationale alone)``."""
    out = {}
    for k in fractions:
        idx = top_k(scores, k)
        out[k] = (remove_words(text, spans, idx), keep_words(text, spans, idx))
    return out


def comprehensiveness(p_full: float, p_removed: float) -> float:
    return p_full - p_removed


def sufficiency(p_full: float, p_kept: float) -> float:
    return p_full - p_kept


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its percentile bootstrap ``1 - alpha`` interval."""
    vals = list(values)
    if not vals:
        return (float("nan"),) * 3
    n = len(vals)
    mean = sum(vals) / n
    rng = random.Random(seed)
    means = sorted(sum(vals[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_boot))
    lo = means[int(math.floor(alpha / 2 * n_boot))]
    hi = means[min(n_boot - 1, int(math.ceil((1 - alpha / 2) * n_boot)) - 1)]
    return mean, lo, hi

"""Shared pieces of the metric functions: the value type, input checks and the bootstrap.

Score scale: every headline score is on a 0-100 scale (BLEU/chrF/TER as sacrebleu reports
them; ROUGE, accuracy, F1, EM, distinct as percentages), except ``perplexity`` (a ratio >= 1)
and ``mcc`` (Matthews correlation x 100, i.e. in [-100, 100]).

Every ``stats`` dict carries a ``"kind"`` key that says how ``aggregate`` re-combines shards.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

DEFAULT_BOOTSTRAP = 1000
DEFAULT_SEED = 0


@dataclass
class MetricValue:
    """One named metric value: headline score, sufficient statistics, optional 95% CI."""

    score: float
    stats: dict
    ci: tuple[float, float] | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"score": self.score, "stats": self.stats,
                "ci": list(self.ci) if self.ci is not None else None, "extra": self.extra}

    @classmethod
    def from_dict(cls, data: dict) -> "MetricValue":
        ci = data.get("ci")
        return cls(float(data["score"]), dict(data.get("stats") or {}),
                   tuple(ci) if ci is not None else None, dict(data.get("extra") or {}))


def check_inputs(name: str, predictions, references, *, references_required: bool = True) -> None:
    """Raise ``ValueError`` on empty input or a prediction/reference length mismatch."""
    if predictions is None or len(predictions) == 0:
        raise ValueError(f"{name}: no predictions given (empty input)")
    if references is None:
        if references_required:
            raise ValueError(f"{name}: references are required")
        return
    if len(predictions) != len(references):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(references)} references "
                         "(lengths must match)")


def as_text(x) -> str:
    """A prediction/reference as a string (``None`` -> ``""``)."""
    return "" if x is None else str(x)


def overlap_f1(prediction_tokens: list[str], reference_tokens: list[str]) -> float:
    """F1 in [0, 1] of the multiset overlap of two token lists (0 when nothing overlaps)."""
    same = sum((Counter(prediction_tokens) & Counter(reference_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction_tokens), same / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


def bootstrap_ci(n: int, statistic: Callable[[np.ndarray], float], n_samples: int,
                 seed: int = DEFAULT_SEED) -> tuple[float, float] | None:
    """Percentile 95% CI of ``statistic(indices)`` over ``n_samples`` resamples of ``range(n)``.

    Returns ``None`` when ``n_samples`` is 0 or ``n`` < 2.
    """
    if not n_samples or n < 2:
        return None
    rng = np.random.default_rng(seed)
    scores = np.empty(n_samples, dtype=float)
    for i in range(n_samples):
        scores[i] = statistic(rng.integers(0, n, size=n))
    lo, hi = np.nanpercentile(scores, [2.5, 97.5])
    return float(lo), float(hi)


def mean_value(values: Sequence[float], bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED,
               extra: dict | None = None) -> MetricValue:
    """Mean of per-example scores (already on the 0-100 scale) with stats ``{sum, n}``."""
    arr = np.asarray(values, dtype=float)
    ci = bootstrap_ci(len(arr), lambda idx: arr[idx].mean(), bootstrap, seed)
    total = float(arr.sum())
    return MetricValue(total / len(arr), {"kind": "mean", "sum": total, "n": int(len(arr))}, ci,
                       dict(extra or {}))

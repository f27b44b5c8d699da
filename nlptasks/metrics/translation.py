"""Corpus BLEU, chrF and TER through sacrebleu's metric objects (scores 0-100 as sacrebleu).

References are one string per example or a list of strings per example (multiple references;
the count may vary). ``bootstrap=N`` adds a percentile 95% CI from N resamples of the
sentence-level sufficient statistics (seeded by ``seed``); default 0 (no CI). Other keyword
options go to the sacrebleu constructor (e.g. ``tokenize="intl"``, ``lowercase=True``).
"""
from __future__ import annotations

import numpy as np
from sacrebleu.metrics import BLEU, CHRF, TER

from .base import DEFAULT_SEED, MetricValue, as_text, bootstrap_ci, check_inputs

_CLASSES = {"bleu": BLEU, "chrf": CHRF, "ter": TER}


def reference_streams(references: list) -> list[list[str | None]]:
    """Per-example references -> sacrebleu's reference streams (padded with ``None``)."""
    per_example = [[as_text(r) for r in ref] if isinstance(ref, (list, tuple)) else [as_text(ref)]
                   for ref in references]
    if any(not refs for refs in per_example):
        raise ValueError("every example needs at least one reference")
    width = max(len(refs) for refs in per_example)
    return [[refs[k] if k < len(refs) else None for refs in per_example] for k in range(width)]


def _make(kind: str, options: dict):
    try:
        return _CLASSES[kind](**options)
    except TypeError as err:
        raise ValueError(f"{kind}: bad option: {err}") from None


def _stats_dict(kind: str, totals: list, options: dict) -> dict:
    totals = [int(x) if float(x).is_integer() else float(x) for x in totals]
    if kind == "bleu":
        n = (len(totals) - 2) // 2
        return {"kind": kind, "sys_len": totals[0], "ref_len": totals[1], "counts": totals[2:2 + n],
                "totals": totals[2 + n:], "options": options}
    if kind == "ter":
        return {"kind": kind, "num_edits": totals[0], "ref_length": totals[1], "options": options}
    return {"kind": kind, "stats": totals, "options": options}


def _vector(stats: dict) -> list:
    """Inverse of ``_stats_dict``: the flat sacrebleu statistics vector."""
    if stats["kind"] == "bleu":
        return [stats["sys_len"], stats["ref_len"], *stats["counts"], *stats["totals"]]
    if stats["kind"] == "ter":
        return [stats["num_edits"], stats["ref_length"]]
    return list(stats["stats"])


def _corpus(kind: str, predictions: list, references: list, bootstrap: int = 0, seed: int = DEFAULT_SEED,
            **options) -> MetricValue:
    check_inputs(kind, predictions, references)
    metric = _make(kind, options)
    hyps = [as_text(p) for p in predictions]
    refs = reference_streams(references)
    seg = np.asarray(metric._extract_corpus_statistics(hyps, refs), dtype=float)
    totals = seg.sum(axis=0)
    result = metric._compute_score_from_stats(totals.tolist())
    ci = bootstrap_ci(len(hyps), lambda idx: metric._compute_score_from_stats(seg[idx].sum(axis=0).tolist()).score,
                      bootstrap, seed)
    extra = {"signature": str(metric.get_signature()), "formatted": str(result)}
    if kind == "bleu":
        extra.update(precisions=[float(p) for p in result.precisions], bp=float(result.bp))
    return MetricValue(float(result.score), _stats_dict(kind, totals.tolist(), options), ci, extra)


def bleu(predictions: list, references: list, **options) -> dict[str, MetricValue]:
    """Corpus BLEU (sacrebleu defaults: 13a tokenizer, exp smoothing) -> ``{"bleu": ...}``."""
    return {"bleu": _corpus("bleu", predictions, references, **options)}


def chrf(predictions: list, references: list, **options) -> dict[str, MetricValue]:
    """Corpus chrF (beta 2, char order 6; ``word_order=2`` gives chrF++) -> ``{"chrf": ...}``."""
    return {"chrf": _corpus("chrf", predictions, references, **options)}


def ter(predictions: list, references: list, **options) -> dict[str, MetricValue]:
    """Corpus TER (lower is better) -> ``{"ter": ...}``."""
    return {"ter": _corpus("ter", predictions, references, **options)}


def aggregate_stats(stats_list: list[dict]) -> MetricValue:
    """Re-compute a BLEU/chrF/TER score from the summed stats of several shards."""
    kind, options = stats_list[0]["kind"], stats_list[0].get("options") or {}
    if any(s["kind"] != kind or (s.get("options") or {}) != options for s in stats_list):
        raise ValueError("cannot aggregate stats of different metrics or options")
    totals = np.sum([np.asarray(_vector(s), dtype=float) for s in stats_list], axis=0).tolist()
    metric = _make(kind, options)
    result = metric._compute_score_from_stats(totals)
    return MetricValue(float(result.score), _stats_dict(kind, totals, options), None,
                       {"formatted": str(result)})

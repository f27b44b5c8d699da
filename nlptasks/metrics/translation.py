"""Corpus BLEU, chrF and TER through sacrebleu's metric objects (scores 0-100 as sacrebleu).

References are one string per example or a list of strings per example (multiple references;
the count may vary). ``bootstrap=N`` adds a percentile 95% CI from N resamples of the
sentence-level sufficient statistics (seeded by ``seed``); default 0 (no CI). Other keyword
options go to the sacrebleu constructor (e.g. ``tokenize="intl"``, ``lowercase=True``).

sacrebleu's public API scores a whole corpus (``corpus_score``) or one sentence; it has no public way
to get the per-segment sufficient statistics that shard aggregation and the bootstrap need (only BLEU
has a public ``compute_bleu``; chrF and TER have nothing). So two private methods are used, here only
(``segment_statistics`` and ``score_from_statistics``), with the sacrebleu versions they were checked
against pinned in pyproject.toml; tests/test_metrics.py checks that their result equals ``corpus_score``.
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


def segment_statistics(metric, hypotheses: list[str], references: list[list[str | None]]) -> np.ndarray:
    """One row of sufficient statistics per hypothesis (sacrebleu private API, see the module doc)."""
    return np.asarray(metric._extract_corpus_statistics(hypotheses, references), dtype=float)


def score_from_statistics(metric, totals: list):
    """sacrebleu's score object from summed statistics (sacrebleu private API, see the module doc)."""
    return metric._compute_score_from_stats(totals)


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
    seg = segment_statistics(metric, hyps, refs)
    totals = seg.sum(axis=0)
    result = score_from_statistics(metric, totals.tolist())
    ci = bootstrap_ci(len(hyps), lambda idx: score_from_statistics(metric, seg[idx].sum(axis=0).tolist()).score,
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
    result = score_from_statistics(_make(kind, options), totals)
    return MetricValue(float(result.score), _stats_dict(kind, totals, options), None,
                       {"formatted": str(result)})


# -- the metric classes ---------------------------------------------------------------------------
from .metric import FunctionMetric  # noqa: E402  (below the functions the classes wrap)


class _Sacrebleu(FunctionMetric):
    task = "translate"

    def merge_value(self, value, stats_list):
        if stats_list and all(s.get("kind") in ("bleu", "chrf", "ter") for s in stats_list):
            return aggregate_stats(stats_list)
        return super().merge_value(value, stats_list)

    def defaults(self) -> dict:  # the sacrebleu constructor's options go through **options
        return {"bootstrap": 0, "seed": DEFAULT_SEED}

    def _takes_any(self) -> bool:
        return True

    @classmethod
    def evaluate_features(cls, datasets):
        string = datasets.Value("string")
        return [datasets.Features({"predictions": string, "references": datasets.Sequence(string)}),
                datasets.Features({"predictions": string, "references": string})]


class Bleu(_Sacrebleu):
    name, function, produces = "bleu", staticmethod(bleu), ("bleu",)
    description = "sacrebleu corpus BLEU (0-100)"
    hub_types = {"bleu": ("bleu", "BLEU")}


class Chrf(_Sacrebleu):
    name, function, produces = "chrf", staticmethod(chrf), ("chrf",)
    description = "sacrebleu corpus chrF (0-100)"
    hub_types = {"chrf": ("chrf", "chrF")}


class Ter(_Sacrebleu):
    name, function, produces = "ter", staticmethod(ter), ("ter",)
    higher_is_better = False
    description = "sacrebleu corpus TER (0-100+, lower is better)"
    hub_types = {"ter": ("ter", "TER")}

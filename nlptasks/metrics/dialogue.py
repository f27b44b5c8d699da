"""Dialogue metrics: ParlAI-style unigram F1, corpus BLEU-4, distinct-1/2 and perplexity.

Responses and references are compared after :func:`spaced` (``normalize="spaced"``, the default): every
character that is neither a word character nor a space is split off and whitespace squashed, so a
corpus-tokenised response (DailyDialog's ``I ’ m very well , Thank you .``) and its detokenised form
(``I’m very well, Thank you.``, what ``nlptasks run chat`` shows) score the same. Each value says so in
``extra["normalize"]``; ``normalize="none"`` scores the texts as they are.
"""
from __future__ import annotations

import math
import re

import numpy as np

from .base import (DEFAULT_BOOTSTRAP, DEFAULT_SEED, MetricValue, as_text, bootstrap_ci, check_inputs, mean_value,
                   overlap_f1)
from .translation import bleu

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[!\"#$%&()*+,./:;<=>?@\[\]\\^`{|}~_']")
_NOT_WORD = re.compile(r"([^\w\s])")
NORMALIZATIONS = {
    "spaced": "responses and references spaced before scoring: every non-word, non-space character split off "
              "as its own token, whitespace squashed (nlptasks.metrics.dialogue.spaced; tokenised and "
              "detokenised text score alike)",
    "none": "responses and references scored as they are",
}


def spaced(s: str) -> str:
    """``"I’m fine, thanks."`` -> ``"I ’ m fine , thanks ."`` (the tokenised and detokenised forms agree)."""
    return " ".join(_NOT_WORD.sub(r" \1 ", s).split())


def _normalizer(normalize: str):
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")
    return spaced if normalize == "spaced" else (lambda s: s)


def normalize_parlai(s: str) -> str:
    """ParlAI's ``normalize_answer``: lower-case, punctuation and articles to spaces, squash spaces."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub(" ", s.lower())).split())


def token_f1(prediction: str, reference: str) -> float:
    """Unigram F1 in [0, 1] between two normalised texts (0 when nothing overlaps)."""
    return overlap_f1(normalize_parlai(prediction).split(), normalize_parlai(reference).split())


def unigram_f1(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
               seed: int = DEFAULT_SEED, normalize: str = "spaced") -> dict[str, MetricValue]:
    """Mean unigram F1 x 100 (best over a list of references) -> ``{"unigram_f1": ...}``."""
    check_inputs("unigram_f1", predictions, references)
    norm = _normalizer(normalize)
    scores = []
    for pred, ref in zip(predictions, references):
        refs = ref if isinstance(ref, (list, tuple)) else [ref]
        scores.append(100.0 * max(token_f1(norm(as_text(pred)), norm(as_text(r))) for r in refs))
    return {"unigram_f1": mean_value(scores, bootstrap, seed, extra={"normalize": NORMALIZATIONS[normalize]})}


def bleu4(predictions: list, references: list, normalize: str = "spaced", **options) -> dict[str, MetricValue]:
    """sacrebleu corpus BLEU (4-gram, defaults) -> ``{"bleu4": ...}``; options as ``translation.bleu``."""
    check_inputs("bleu4", predictions, references)
    norm = _normalizer(normalize)
    preds = [norm(as_text(p)) for p in predictions]
    refs = [[norm(as_text(r)) for r in ref] if isinstance(ref, (list, tuple)) else norm(as_text(ref))
            for ref in references]
    value = bleu(preds, refs, **options)["bleu"]
    value.extra["normalize"] = NORMALIZATIONS[normalize]
    if value.extra.get("signature"):  # sacrebleu's signature, plus what was done to the text before it
        value.extra["signature"] += f"|normalize:{normalize}"
    return {"bleu4": value}


def _ngrams(tokens: list[str], n: int) -> list[tuple]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct(predictions: list, references: list | None = None, lowercase: bool = False,
             normalize: str = "spaced", **_ignored) -> dict[str, MetricValue]:
    """distinct-n x 100 = unique n-grams / all n-grams over all predictions (whitespace tokens after
    ``normalize``).

    References are ignored. Not re-aggregatable across shards (needs the n-gram sets).
    """
    check_inputs("distinct", predictions, references, references_required=False)
    norm = _normalizer(normalize)
    token_lists = [norm(as_text(p).lower() if lowercase else as_text(p)).split() for p in predictions]
    out = {}
    for n in (1, 2):
        grams = [g for tokens in token_lists for g in _ngrams(tokens, n)]
        unique, total = len(set(grams)), len(grams)
        out[f"distinct_{n}"] = MetricValue(100.0 * unique / total if total else 0.0,
                                           {"kind": "distinct", "unique": unique, "total": total},
                                           extra={"normalize": NORMALIZATIONS[normalize]})
    return out


def perplexity_from_sums(sum_nll: float, tokens: float) -> float:
    if tokens <= 0:
        raise ValueError("perplexity: the token count must be positive")
    return math.exp(sum_nll / tokens)


def perplexity(predictions: list, references: list | None = None, bootstrap: int = DEFAULT_BOOTSTRAP,
               seed: int = DEFAULT_SEED, **_ignored) -> dict[str, MetricValue]:
    """exp(sum nll / sum tokens) from per-example ``{"nll": nats, "tokens": count}`` dicts.

    References are ignored. Lower is better; the CI resamples examples.
    """
    check_inputs("perplexity", predictions, references, references_required=False)
    try:
        nll = np.array([float(p["nll"]) for p in predictions])
        tok = np.array([float(p["tokens"]) for p in predictions])
    except (TypeError, KeyError) as err:
        raise ValueError("perplexity: each prediction must be a dict with 'nll' and 'tokens'") from err
    sum_nll, tokens = float(nll.sum()), float(tok.sum())
    score = perplexity_from_sums(sum_nll, tokens)

    def resampled(idx):
        t = tok[idx].sum()
        return math.exp(nll[idx].sum() / t) if t > 0 else float("nan")

    ci = bootstrap_ci(len(nll), resampled, bootstrap, seed)
    stats = {"kind": "perplexity", "sum_nll": sum_nll, "tokens": int(tokens) if tokens.is_integer() else tokens}
    return {"perplexity": MetricValue(score, stats, ci)}


# -- the metric classes ---------------------------------------------------------------------------
from .metric import FunctionMetric  # noqa: E402  (below the functions the classes wrap)


def _text_features(datasets):
    string = datasets.Value("string")
    return [datasets.Features({"predictions": string, "references": datasets.Sequence(string)}),
            datasets.Features({"predictions": string, "references": string})]


class UnigramF1(FunctionMetric):
    name, function, produces = "unigram_f1", staticmethod(unigram_f1), ("unigram_f1",)
    task = "chat"
    description = "ParlAI-style unigram F1 (x100), mean over examples"
    hub_types = {"unigram_f1": ("f1", "Unigram F1")}
    evaluate_features = classmethod(lambda cls, datasets: _text_features(datasets))


class Bleu4(FunctionMetric):
    name, function, produces = "bleu4", staticmethod(bleu4), ("bleu4",)
    task = "chat"
    description = "sacrebleu corpus BLEU-4 (0-100)"
    hub_types = {"bleu4": ("bleu", "BLEU-4")}
    evaluate_features = classmethod(lambda cls, datasets: _text_features(datasets))

    def defaults(self) -> dict:  # sacrebleu's options go through **options
        return {**super().defaults(), "bootstrap": 0, "seed": DEFAULT_SEED}

    def merge_value(self, value, stats_list):
        if stats_list and all(s.get("kind") == "bleu" for s in stats_list):
            from .translation import aggregate_stats

            return aggregate_stats(stats_list)
        return super().merge_value(value, stats_list)


class Distinct(FunctionMetric):
    name, function, produces = "distinct", staticmethod(distinct), ("distinct_1", "distinct_2")
    task = "chat"
    aggregatable = False  # the n-gram sets are not kept
    description = "unique / total n-grams over all predictions (x100)"
    hub_types = {"distinct_1": ("distinct-1", "Distinct-1"), "distinct_2": ("distinct-2", "Distinct-2")}

    def score(self, stats):  # one corpus scores from its counts; shards do not merge (merge_value raises)
        out = {}
        for key, s in stats.items():
            if s.get("kind") != "distinct":
                raise ValueError(f"{key}: not distinct-n statistics")
            out[key] = 100.0 * s["unique"] / s["total"] if s["total"] else 0.0
        return out

    @classmethod
    def evaluate_features(cls, datasets):
        return datasets.Features({"predictions": datasets.Value("string")})


class Perplexity(FunctionMetric):
    name, function, produces = "perplexity", staticmethod(perplexity), ("perplexity",)
    task = "chat"
    higher_is_better = False
    scores_likelihood = True  # scored on the references' likelihood ({"nll", "tokens"}), not on predictions
    description = "exp(sum NLL / sum tokens) of the references"
    hub_types = {"perplexity": ("perplexity", "Perplexity")}

    def merge_value(self, value, stats_list):
        if stats_list and all(s.get("kind") == "perplexity" for s in stats_list):
            sum_nll, tokens = sum(s["sum_nll"] for s in stats_list), sum(s["tokens"] for s in stats_list)
            return MetricValue(perplexity_from_sums(sum_nll, tokens),
                               {"kind": "perplexity", "sum_nll": sum_nll, "tokens": tokens})
        return super().merge_value(value, stats_list)

    @classmethod
    def evaluate_features(cls, datasets):
        return datasets.Features({"predictions": {"nll": datasets.Value("float64"),
                                                  "tokens": datasets.Value("float64")}})

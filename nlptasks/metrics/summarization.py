"""ROUGE F1 (x100) with Google's ``rouge-score``: rouge1, rouge2, rougeL, rougeLsum.

The corpus score is the mean of per-example F-measures (HF ``evaluate`` reports the median of
bootstrap means instead, which is close but not identical). ``rougeLsum`` needs sentences on
separate lines: a text without ``"\\n"`` is split with ``pysbd`` first. rouge-score's default
tokenizer lower-cases and keeps only ``[a-z0-9]`` runs, so non-Latin text scores 0.
"""
from __future__ import annotations

from functools import lru_cache

from .base import DEFAULT_BOOTSTRAP, DEFAULT_SEED, MetricValue, as_text, check_inputs, mean_value

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> str:
    """``text`` with one sentence per line (unchanged if it already has newlines)."""
    if "\n" in text:
        return text
    return "\n".join(s.strip() for s in _segmenter().segment(text) if s.strip())


@lru_cache(maxsize=8)
def _scorer(types: tuple[str, ...], use_stemmer: bool):
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(types), use_stemmer=use_stemmer)


def rouge_tokens(text: str, use_stemmer: bool = True) -> list[str]:
    """``text`` as ROUGE sees it (rouge-score's tokenizer: lower-cased ``[a-z0-9]`` runs, Porter-stemmed)."""
    return _scorer(("rouge1",), use_stemmer)._tokenizer.tokenize(as_text(text))


def ngram_f1(reference: list[str], prediction: list[str], n: int) -> float:
    """ROUGE-n F1 in [0, 1] of token lists (from :func:`rouge_tokens`), as rouge-score computes it."""
    from rouge_score import rouge_scorer

    return rouge_scorer._score_ngrams(rouge_scorer._create_ngrams(reference, n),
                                      rouge_scorer._create_ngrams(prediction, n)).fmeasure


def _score(scorer, reference, prediction: str, prep=lambda t: t) -> dict:
    if isinstance(reference, (list, tuple)):
        return scorer.score_multi([prep(as_text(r)) for r in reference], prep(prediction))
    return scorer.score(prep(as_text(reference)), prep(prediction))


def rouge(predictions: list, references: list, rouge_types=ROUGE_TYPES, use_stemmer: bool = True,
          split_sentences_for_lsum: bool = True, bootstrap: int = DEFAULT_BOOTSTRAP,
          seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """Mean ROUGE F1 x100 per type, with a percentile bootstrap 95% CI (``bootstrap`` resamples).

    A reference may be a list of strings (multi-reference: best F1 per type, ``score_multi``).
    """
    check_inputs("rouge", predictions, references)
    unknown = [t for t in rouge_types if t not in ROUGE_TYPES]
    if unknown or not rouge_types:
        raise ValueError(f"rouge: unknown rouge_types {unknown}; choose from {list(ROUGE_TYPES)}")
    plain = tuple(t for t in rouge_types if t != "rougeLsum")
    per_type: dict[str, list[float]] = {t: [] for t in rouge_types}
    preds = [as_text(p) for p in predictions]
    if plain:
        scorer = _scorer(plain, use_stemmer)
        for pred, ref in zip(preds, references):
            scores = _score(scorer, ref, pred)
            for t in plain:
                per_type[t].append(100.0 * scores[t].fmeasure)
    if "rougeLsum" in rouge_types:
        scorer = _scorer(("rougeLsum",), use_stemmer)
        prep = split_sentences if split_sentences_for_lsum else (lambda t: t)
        for pred, ref in zip(preds, references):
            per_type["rougeLsum"].append(100.0 * _score(scorer, ref, pred, prep)["rougeLsum"].fmeasure)
    extra = {"use_stemmer": use_stemmer, "aggregation": "mean of per-example F1"}
    return {t: mean_value(per_type[t], bootstrap, seed + i, extra) for i, t in enumerate(rouge_types)}


# -- the metric class -----------------------------------------------------------------------------
from .metric import FunctionMetric  # noqa: E402  (below the function the class wraps)


class Rouge(FunctionMetric):
    name, function, produces = "rouge", staticmethod(rouge), ROUGE_TYPES
    task = "summarize"
    library = "rouge-score"
    description = "rouge-score F1 x100, mean over examples, stemmed; rougeLsum on pysbd sentences"
    hub_types = {"rouge1": ("rouge", "ROUGE-1"), "rouge2": ("rouge", "ROUGE-2"), "rougeL": ("rouge", "ROUGE-L"),
                 "rougeLsum": ("rouge", "ROUGE-LSUM")}

    @classmethod
    def evaluate_features(cls, datasets):
        string = datasets.Value("string")
        return [datasets.Features({"predictions": string, "references": datasets.Sequence(string)}),
                datasets.Features({"predictions": string, "references": string})]

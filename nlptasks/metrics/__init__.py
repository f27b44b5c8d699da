"""Pure metric functions: ``fn(predictions, references, **options) -> {value name: MetricValue}``.

Scores are on a 0-100 scale except ``perplexity`` (>= 1, lower is better) and ``mcc``
(x 100, in [-100, 100]). ``aggregate`` re-computes a value from the ``stats`` of several shards
for every metric except ``distinct`` (n-gram sets are not kept); see ``METRIC_INFO[...]["aggregatable"]``.
Importing this package does not import torch.
"""
from __future__ import annotations

from typing import Callable

from . import classification, dialogue, qa, retrieval, summarization, translation
from .base import MetricValue, check_inputs

# (a metric as a Hugging Face ``evaluate`` module: nlptasks.metrics.hf_evaluate.evaluate_module)
__all__ = ["METRIC_FUNCTIONS", "METRIC_INFO", "MetricValue", "aggregate", "check_inputs", "compute"]

METRIC_FUNCTIONS: dict[str, Callable[..., dict[str, MetricValue]]] = {
    "bleu": translation.bleu,
    "chrf": translation.chrf,
    "ter": translation.ter,
    "rouge": summarization.rouge,
    "accuracy": classification.accuracy,
    "f1": classification.f1,
    "mcc": classification.mcc,
    "macro_recall": classification.macro_recall,
    "squad": qa.squad,
    "squad_v2": qa.squad_v2,
    "retrieval_recall": retrieval.retrieval_recall,
    "unigram_f1": dialogue.unigram_f1,
    "bleu4": dialogue.bleu4,
    "distinct": dialogue.distinct,
    "perplexity": dialogue.perplexity,
}


def _info(task: str, produces: list[str], description: str, lower_better: tuple = (),
          aggregatable: bool = True) -> dict:
    return {"task": task, "produces": produces,
            "higher_is_better": {v: v not in lower_better for v in produces},
            "description": description, "aggregatable": aggregatable}


_SQUAD_V2 = ["exact_match", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"]

METRIC_INFO: dict[str, dict] = {
    "bleu": _info("translate", ["bleu"], "sacrebleu corpus BLEU (0-100)"),
    "chrf": _info("translate", ["chrf"], "sacrebleu corpus chrF (0-100)"),
    "ter": _info("translate", ["ter"], "sacrebleu corpus TER (0-100+, lower is better)", ("ter",)),
    "rouge": _info("summarize", list(summarization.ROUGE_TYPES),
                   "rouge-score F1 x100, mean over examples, stemmed; rougeLsum on pysbd sentences"),
    "accuracy": _info("sentiment", ["accuracy"], "label accuracy (%)"),
    "f1": _info("sentiment", ["f1"], "macro-averaged F1 over labels (x100)"),
    "mcc": _info("sentiment", ["mcc"], "Matthews correlation coefficient x100 (-100..100)"),
    "macro_recall": _info("sentiment", ["macro_recall"], "macro-averaged recall over labels (x100)"),
    "squad": _info("qa", ["exact_match", "f1"], "SQuAD v1.1 exact match and token F1 (x100)"),
    "squad_v2": _info("qa", _SQUAD_V2, "SQuAD v2.0 exact match / F1 with HasAns and NoAns splits (x100)"),
    # scored on the task output's "passages" (the retrieved passages), not on its answer
    "retrieval_recall": {**_info("qa", ["recall"], "% of questions with a gold answer string in the k retrieved "
                                                   "passages (recall@k, k = --top-k-passages)"),
                         "prediction_field": "passages"},
    "unigram_f1": _info("chat", ["unigram_f1"], "ParlAI-style unigram F1 (x100), mean over examples"),
    "bleu4": _info("chat", ["bleu4"], "sacrebleu corpus BLEU-4 (0-100)"),
    "distinct": _info("chat", ["distinct_1", "distinct_2"],
                      "unique / total n-grams over all predictions (x100)", aggregatable=False),
    "perplexity": _info("chat", ["perplexity"], "exp(sum NLL / sum tokens) of the references",
                        ("perplexity",)),
}


def _lookup(name: str) -> Callable[..., dict[str, MetricValue]]:
    try:
        return METRIC_FUNCTIONS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRIC_FUNCTIONS))}") from None


def compute(name: str, predictions: list, references: list | None = None, **options) -> dict[str, MetricValue]:
    """Run the metric called ``name`` (``KeyError`` listing the known names if there is none)."""
    return _lookup(name)(predictions, references, **options)


def aggregate(name: str, stats_list: list[dict]) -> MetricValue:
    """Combine the ``stats`` of one value from several shards into a value for their union.

    ``name`` is the metric (or value) name; all stats must be of one kind. Supported: bleu, bleu4,
    chrf, ter, rouge*, accuracy, f1, mcc, macro_recall, squad/squad_v2 values, unigram_f1, perplexity.
    """
    if name not in METRIC_FUNCTIONS and not any(name in i["produces"] for i in METRIC_INFO.values()):
        _lookup(name)
    if not stats_list:
        raise ValueError(f"{name}: nothing to aggregate")
    kinds = {s.get("kind") for s in stats_list}
    if len(kinds) != 1:
        raise ValueError(f"{name}: stats of different kinds {sorted(map(str, kinds))}")
    kind = kinds.pop()
    if kind in ("bleu", "chrf", "ter"):
        return translation.aggregate_stats(stats_list)
    if kind == "mean":
        total, n = sum(float(s["sum"]) for s in stats_list), sum(int(s["n"]) for s in stats_list)
        stats = {"kind": "mean", "sum": total, "n": n}
        if all("correct" in s for s in stats_list):
            stats["correct"] = sum(int(s["correct"]) for s in stats_list)
        return MetricValue(total / n, stats)
    if kind == "confusion":
        fns = {"f1": classification.macro_f1_from_confusion, "mcc": classification.mcc_from_confusion,
               "macro_recall": classification.macro_recall_from_confusion}
        if name not in fns:
            raise ValueError(f"{name}: confusion-matrix stats aggregate only as 'f1', 'mcc' or 'macro_recall'")
        fn = fns[name]
        return classification.aggregate_confusion(stats_list, fn)
    if kind == "perplexity":
        sum_nll, tokens = sum(s["sum_nll"] for s in stats_list), sum(s["tokens"] for s in stats_list)
        return MetricValue(dialogue.perplexity_from_sums(sum_nll, tokens),
                           {"kind": "perplexity", "sum_nll": sum_nll, "tokens": tokens})
    raise ValueError(f"{name}: stats of kind {kind!r} cannot be re-aggregated")

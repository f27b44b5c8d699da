"""Retrieval recall for question answering over a knowledge base (DrQA's "document retrieval" recall,
Chen et al., 2017): the share of questions for which a gold answer string occurs in at least one of
the retrieved passages (x100), with a bootstrap 95% interval.

A prediction is the list of retrieved passages of one question (strings, or dicts with ``text``); k
is however many the model retrieved (the qa task's ``--top-k-passages``). Matching follows the SQuAD
normalisation (lower case, no punctuation, no articles, collapsed whitespace) on both sides, so
"the Nile" is found in "...along the nile." — a passage that holds the answer string, not necessarily
as the answer to the question (the usual definition). Pure: no torch.
"""
from __future__ import annotations

from .base import DEFAULT_BOOTSTRAP, DEFAULT_SEED, MetricValue, check_inputs, mean_value
from .qa import gold_answers, normalize_answer


def _text(p) -> str:
    if isinstance(p, dict):
        return str(p.get("text") or "")
    return "" if p is None else str(p)


def answer_in_passages(passages, golds: list[str]) -> bool:
    """Whether a normalised gold answer occurs (on word boundaries) in a normalised passage."""
    norm = [f" {normalize_answer(_text(p))} " for p in (passages or [])]
    wanted = [f" {g} " for g in (normalize_answer(x) for x in golds) if g]
    return any(g in n for g in wanted for n in norm)


def retrieval_recall(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
                     seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """``{"recall": ...}``: % of questions with a gold answer in their retrieved passages."""
    check_inputs("retrieval_recall", predictions, references)
    hits, ks = [], []
    for i, (passages, ref) in enumerate(zip(predictions, references)):
        if passages is not None and not isinstance(passages, (list, tuple)):
            raise ValueError(f"retrieval_recall: prediction {i} must be the list of retrieved passages, got "
                             f"{type(passages).__name__} (does the model retrieve? qa needs --index)")
        golds = gold_answers(ref)
        if not golds:
            raise ValueError(f"retrieval_recall: example {i} has no gold answer")
        hits.append(100.0 * answer_in_passages(passages, golds))
        ks.append(len(passages or []))
    k = max(ks) if ks else 0
    return {"recall": mean_value(hits, bootstrap, seed, extra={"k": k})}


# -- the metric class -----------------------------------------------------------------------------
from .metric import FunctionMetric  # noqa: E402  (below the function the class wraps)


class RetrievalRecall(FunctionMetric):
    name, function, produces = "retrieval_recall", staticmethod(retrieval_recall), ("recall",)
    task = "qa"
    prediction_field = "passages"  # scored on the task output's retrieved passages, not on its answer
    description = ("% of questions with a gold answer string in the k retrieved passages (recall@k, "
                   "k = --top-k-passages)")

    @classmethod
    def evaluate_features(cls, datasets):  # a prediction is the list of retrieved passages
        strings = datasets.Sequence(datasets.Value("string"))
        return [datasets.Features({"predictions": strings, "references": strings}),
                datasets.Features({"predictions": strings, "references": datasets.Value("string")})]

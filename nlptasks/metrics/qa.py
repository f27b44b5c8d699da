"""SQuAD exact match and token F1 (x100), following the official v1.1 and v2.0 scripts.

Answers are normalised by lower-casing, removing punctuation, removing the articles
a/an/the and collapsing whitespace; each prediction takes its best score over the gold answers.
A reference is a list of gold strings, a single string, or a SQuAD-style dict
(``{"text": [...]}`` or ``{"answers": {"text": [...]}}``). A prediction is a string or a dict
with ``"prediction_text"``/``"text"``.
"""
from __future__ import annotations

import re
import string

from .base import DEFAULT_BOOTSTRAP, DEFAULT_SEED, MetricValue, as_text, check_inputs, mean_value, overlap_f1

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """The official SQuAD normalisation."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def exact_match_score(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score_v1(prediction: str, gold: str) -> float:
    """Token F1 as in the v1.1 script (two empty answers score 0)."""
    return overlap_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def f1_score_v2(prediction: str, gold: str) -> float:
    """Token F1 as in the v2.0 script (if either side is empty: 1 if both are, else 0)."""
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    return f1_score_v1(prediction, gold)


def gold_answers(reference) -> list[str]:
    """The gold answer strings of one reference in any accepted shape."""
    if isinstance(reference, dict):
        if "answers" in reference:
            return gold_answers(reference["answers"])
        if "text" in reference:
            return gold_answers(reference["text"])
        raise ValueError(f"squad: reference dict needs 'text' or 'answers', got keys {sorted(reference)}")
    if reference is None:
        return []
    if isinstance(reference, str):
        return [reference]
    return [as_text(r) for r in reference]


def prediction_text(prediction) -> str:
    if isinstance(prediction, dict):
        return as_text(prediction.get("prediction_text", prediction.get("text")))
    return as_text(prediction)


def squad(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
          seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """SQuAD v1.1 -> ``{"exact_match", "f1"}`` (x100). Every example needs a gold answer."""
    check_inputs("squad", predictions, references)
    em, f1 = [], []
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        golds, text = gold_answers(ref), prediction_text(pred)
        if not golds:
            raise ValueError(f"squad: example {i} has no gold answer (use squad_v2 for unanswerable questions)")
        em.append(100.0 * max(exact_match_score(text, g) for g in golds))
        f1.append(100.0 * max(f1_score_v1(text, g) for g in golds))
    return {"exact_match": mean_value(em, bootstrap, seed), "f1": mean_value(f1, bootstrap, seed + 1)}


def squad_v2(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
             seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """SQuAD v2.0: exact_match, f1 and the HasAns_/NoAns_ splits (x100).

    An empty gold list (after dropping answers that normalise to "") means unanswerable; an
    empty prediction means abstaining. A split with no examples is left out of the result.
    """
    check_inputs("squad_v2", predictions, references)
    em, f1, has_ans = [], [], []
    for pred, ref in zip(predictions, references):
        golds = [g for g in gold_answers(ref) if normalize_answer(g)] or [""]
        text = prediction_text(pred)
        has_ans.append(golds != [""])
        em.append(100.0 * max(exact_match_score(text, g) for g in golds))
        f1.append(100.0 * max(f1_score_v2(text, g) for g in golds))
    out = {"exact_match": mean_value(em, bootstrap, seed), "f1": mean_value(f1, bootstrap, seed + 1)}
    for prefix, keep in (("HasAns", True), ("NoAns", False)):
        idx = [i for i, h in enumerate(has_ans) if h is keep]
        if idx:
            out[f"{prefix}_exact"] = mean_value([em[i] for i in idx], bootstrap, seed + 2)
            out[f"{prefix}_f1"] = mean_value([f1[i] for i in idx], bootstrap, seed + 3)
    return out


# -- the metric classes ---------------------------------------------------------------------------
from .metric import FunctionMetric  # noqa: E402  (below the functions the classes wrap)


class Squad(FunctionMetric):
    name, function, produces = "squad", staticmethod(squad), ("exact_match", "f1")
    task = "qa"
    description = "SQuAD v1.1 exact match and token F1 (x100)"
    hub_types = {"exact_match": ("exact_match", "Exact Match"), "f1": ("f1", "F1")}

    @classmethod
    def evaluate_features(cls, datasets):
        string = datasets.Value("string")
        F = datasets.Features
        answers = datasets.Sequence({"text": string, "answer_start": datasets.Value("int32")})
        prediction = {"id": string, "prediction_text": string}
        hub = [F({"predictions": prediction, "references": {"id": string, "answers": answers}})]
        if cls.name == "squad_v2":  # the Hub's squad_v2 format carries the abstention probability
            hub.insert(0, F({"predictions": {**prediction, "no_answer_probability": datasets.Value("float32")},
                             "references": {"id": string, "answers": answers}}))
        return [F({"predictions": string, "references": datasets.Sequence(string)}),
                F({"predictions": string, "references": string})] + hub


class SquadV2(Squad):
    name, function = "squad_v2", staticmethod(squad_v2)
    produces = ("exact_match", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1")
    description = "SQuAD v2.0 exact match / F1 with HasAns and NoAns splits (x100)"

"""Accuracy, macro-F1, macro-recall and Matthews correlation from a confusion matrix (pure numpy).

Labels may be strings or integers (compared with ``==`` after numpy scalars become Python
values). Scores: accuracy and macro-F1 in 0-100; MCC x 100, i.e. in [-100, 100]. F1 and MCC
stats hold the labels and the confusion matrix (rows gold, columns predicted), so shards can be
re-aggregated exactly. Macro-F1 averages over every label seen in gold or predictions (as
scikit-learn's ``average="macro"``); MCC is the multiclass R_K statistic (0 when undefined).
"""
from __future__ import annotations

import numpy as np

from .base import DEFAULT_BOOTSTRAP, DEFAULT_SEED, MetricValue, bootstrap_ci, check_inputs


def _plain(x):
    return x.item() if hasattr(x, "item") else x


def _labels(values: list) -> list:
    uniq = list(dict.fromkeys(values))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=repr)


def _encode(predictions: list, references: list) -> tuple[list, np.ndarray, np.ndarray]:
    preds, golds = [_plain(p) for p in predictions], [_plain(r) for r in references]
    labels = _labels(golds + preds)
    index = {label: i for i, label in enumerate(labels)}
    return labels, np.array([index[g] for g in golds]), np.array([index[p] for p in preds])


def confusion(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """k x k counts, rows gold label, columns predicted label."""
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)


def macro_f1_from_confusion(cm: np.ndarray) -> float:
    """Mean over labels of 2TP / (2TP + FP + FN) x 100 (a label with no support and no predictions: 0)."""
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # = 2TP + FP + FN
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(100.0 * f1.mean())


def macro_recall_from_confusion(cm: np.ndarray) -> float:
    """Mean over labels of TP / (TP + FN) x 100, every label seen in gold or predictions (a label that is
    predicted but never gold has recall 0, as scikit-learn's ``recall_score(average="macro")``)."""
    cm = np.asarray(cm, dtype=float)
    tp, support = np.diag(cm), cm.sum(axis=1)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    return float(100.0 * recall.mean())


def mcc_from_confusion(cm: np.ndarray) -> float:
    """Multiclass Matthews correlation x 100 (Gorodkin's R_K); 0 when a marginal is constant."""
    cm = np.asarray(cm, dtype=float)
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    cov_pp, cov_tt = s * s - p @ p, s * s - t @ t
    if cov_pp == 0 or cov_tt == 0:
        return 0.0
    return float(100.0 * (c * s - t @ p) / np.sqrt(cov_pp * cov_tt))


def _confusion_value(fn, labels, gold, pred, bootstrap, seed) -> MetricValue:
    k = len(labels)
    cm = confusion(gold, pred, k)
    ci = bootstrap_ci(len(gold), lambda idx: fn(confusion(gold[idx], pred[idx], k)), bootstrap, seed)
    return MetricValue(fn(cm), {"kind": "confusion", "labels": labels, "confusion": cm.tolist()}, ci)


def accuracy(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
             seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """Percentage of exact label matches -> ``{"accuracy": ...}`` (stats: correct, n)."""
    check_inputs("accuracy", predictions, references)
    _, gold, pred = _encode(predictions, references)
    hits = (gold == pred).astype(float)
    ci = bootstrap_ci(len(hits), lambda idx: 100.0 * hits[idx].mean(), bootstrap, seed)
    correct = int(hits.sum())
    return {"accuracy": MetricValue(100.0 * correct / len(hits),
                                    {"kind": "mean", "sum": 100.0 * correct, "n": len(hits), "correct": correct},
                                    ci)}


def f1(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
       seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """Macro-averaged F1 x 100 -> ``{"f1": ...}``."""
    check_inputs("f1", predictions, references)
    labels, gold, pred = _encode(predictions, references)
    return {"f1": _confusion_value(macro_f1_from_confusion, labels, gold, pred, bootstrap, seed)}


def macro_recall(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
                 seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """Macro-averaged recall x 100 -> ``{"macro_recall": ...}`` (TweetEval's official sentiment metric: a
    model that never predicts a class loses that class's whole share)."""
    check_inputs("macro_recall", predictions, references)
    labels, gold, pred = _encode(predictions, references)
    return {"macro_recall": _confusion_value(macro_recall_from_confusion, labels, gold, pred, bootstrap, seed)}


def mcc(predictions: list, references: list, bootstrap: int = DEFAULT_BOOTSTRAP,
        seed: int = DEFAULT_SEED) -> dict[str, MetricValue]:
    """Matthews correlation coefficient x 100 -> ``{"mcc": ...}``."""
    check_inputs("mcc", predictions, references)
    labels, gold, pred = _encode(predictions, references)
    return {"mcc": _confusion_value(mcc_from_confusion, labels, gold, pred, bootstrap, seed)}


def aggregate_confusion(stats_list: list[dict], fn) -> MetricValue:
    """Sum shard confusion matrices (aligned by label) and re-score with ``fn``."""
    labels = _labels([label for s in stats_list for label in s["labels"]])
    index = {label: i for i, label in enumerate(labels)}
    total = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for s in stats_list:
        pos = [index[label] for label in s["labels"]]
        total[np.ix_(pos, pos)] += np.asarray(s["confusion"], dtype=np.int64)
    return MetricValue(fn(total), {"kind": "confusion", "labels": labels, "confusion": total.tolist()})


# -- the metric classes ---------------------------------------------------------------------------
from .metric import FunctionMetric  # noqa: E402  (below the functions the classes wrap)


class _Classification(FunctionMetric):
    task = "sentiment"
    from_confusion = None  # the score of a confusion matrix (the metrics whose statistics are one)

    def merge_value(self, value, stats_list):
        if stats_list and all(s.get("kind") == "confusion" for s in stats_list) and type(self).from_confusion:
            return aggregate_confusion(stats_list, type(self).from_confusion)
        return super().merge_value(value, stats_list)

    @classmethod
    def evaluate_features(cls, datasets):  # labels: names or ids
        return [datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
                datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")})]


class Accuracy(_Classification):
    name, function, produces = "accuracy", staticmethod(accuracy), ("accuracy",)
    description = "label accuracy (%)"
    hub_types = {"accuracy": ("accuracy", "Accuracy")}


class F1(_Classification):
    name, function, produces = "f1", staticmethod(f1), ("f1",)
    from_confusion = staticmethod(macro_f1_from_confusion)
    description = "macro-averaged F1 over labels (x100)"
    hub_types = {"f1": ("f1", "F1 Macro")}


class MCC(_Classification):
    name, function, produces = "mcc", staticmethod(mcc), ("mcc",)
    from_confusion = staticmethod(mcc_from_confusion)
    description = "Matthews correlation coefficient x100 (-100..100)"
    hub_types = {"mcc": ("matthews_correlation", "Matthews Correlation (x100)")}


class MacroRecall(_Classification):
    name, function, produces = "macro_recall", staticmethod(macro_recall), ("macro_recall",)
    from_confusion = staticmethod(macro_recall_from_confusion)
    description = "macro-averaged recall over labels (x100)"
    hub_types = {"macro_recall": ("recall", "Recall Macro")}

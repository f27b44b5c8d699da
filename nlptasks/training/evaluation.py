"""Scoring predictions with the task's metric (``nlptasks.metrics``, scores on a 0-100 scale) during and
after training."""
from __future__ import annotations

from .tasks import TrainTask

# the score that picks the best checkpoint, among the keys a metric returns (first match wins)
PREFERRED = {"accuracy": ("accuracy",), "squad": ("f1", "exact_match", "em"),
             "rouge": ("rougeL", "rougeLsum", "rouge_l", "rouge-l", "rouge2", "rouge1"),
             "bleu": ("bleu", "sacrebleu", "score"), "unigram_f1": ("unigram_f1", "f1")}


def score(task: TrainTask, predictions: list, references: list) -> dict[str, float]:
    """All scores of the task's primary metric, plus ``task.metric_key`` (the checkpoint selector)."""
    import inspect

    from .. import metrics

    options = {}
    fn = getattr(metrics, "METRIC_FUNCTIONS", {}).get(task.primary_metric)
    if fn is not None and "bootstrap" in inspect.signature(fn).parameters:
        options["bootstrap"] = 0  # no confidence intervals while training: they cost time and pick nothing
    result = metrics.compute(task.primary_metric, predictions, references, **options)
    scores = {str(k): float(getattr(v, "score", v)) for k, v in result.items()}
    if task.metric_key not in scores:
        lower = {k.lower(): k for k in scores}
        pick = next((lower[c.lower()] for c in PREFERRED.get(task.primary_metric, ()) if c.lower() in lower),
                    next(iter(scores)))
        scores[task.metric_key] = scores[pick]
    return scores

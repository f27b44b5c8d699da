"""Scoring predictions with the task's metric (``nlptasks.metrics``, scores on a 0-100 scale) during and
after training: the metric that produces the task class's ``primary_metric``, which is also the key that
picks the best checkpoint and the key that ranks results."""
from __future__ import annotations


def score(spec, predictions: list, references: list) -> dict[str, float]:
    """All scores of ``spec.metric_function`` (must include ``spec.metric_key``)."""
    from ..errors import NlpTasksError
    from ..registry import METRICS

    metric = METRICS.get(spec.metric_function)
    if "bootstrap" in metric.defaults():
        metric = metric.with_options(bootstrap=0)  # no confidence intervals while training: they pick nothing
    result = metric.compute(predictions, references)
    scores = {str(k): float(getattr(v, "score", v)) for k, v in result.items()}
    if spec.metric_key not in scores:
        raise NlpTasksError(f"task {spec.name!r}: metric {spec.metric_function!r} gives {', '.join(scores)}, "
                            f"not the task's primary metric {spec.metric_key!r}")
    return scores

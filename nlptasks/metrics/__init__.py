"""Metrics: ``metric(predictions, references, **options) -> {value name: MetricValue}``.

Scores are on a 0-100 scale except ``perplexity`` (>= 1, lower is better) and ``mcc``
(x 100, in [-100, 100]). ``aggregate`` re-computes a value from the ``stats`` of several shards
for every metric except ``distinct`` (n-gram sets are not kept; its ``aggregatable`` is False).

Every metric is a :class:`Metric` (``nlptasks.metrics.metric``: sacrebleu's shape: name, direction per value,
sufficient statistics -> score, signature); the built-in classes are listed in ``nlptasks.metrics.builtin``
and registered, with the plugins, in the one metric registry ``nlptasks.registry.METRICS``.
Importing this package does not import torch.
"""
from __future__ import annotations

import warnings

from . import classification, dialogue, qa, retrieval, summarization, translation  # noqa: F401  (submodules as attributes)
from .base import MetricValue, check_inputs
from .metric import FunctionMetric, Metric, from_function

# (a metric as a Hugging Face ``evaluate`` module: nlptasks.metrics.hf_evaluate.evaluate_module)
__all__ = ["FunctionMetric", "Metric", "MetricValue", "aggregate", "check_inputs", "compute", "from_function", "get"]


def get(name: str) -> Metric:
    """The registered metric ``name`` (built-in or plugin; ``UnknownNameError`` listing the known ones)."""
    from ..registry import METRICS

    return METRICS.get(name)


def compute(name: str, predictions: list, references: list | None = None, **options) -> dict[str, MetricValue]:
    """Run the metric called ``name`` with ``options`` (``UnknownNameError``, a ``KeyError``, listing the
    known names if there is none)."""
    return get(name)(predictions, references, **options)


def aggregate(name: str, stats_list: list[dict]) -> MetricValue:
    """Combine the ``stats`` of one value from several shards into a value for their union.

    ``name`` is the metric or the value name (a metric's value: ``exact_match``, ``rouge1``); all stats must
    be of one kind. ``Metric.merge``/``Metric.score`` do the same for all values of a metric at once.
    """
    from ..registry import METRICS

    if name in METRICS:
        metric = METRICS.get(name)
    else:
        metric = next((m for _, m in METRICS.items() if name in m.produces), None)
        if metric is None:
            METRICS.get(name)  # UnknownNameError with the known names
    return metric.merge_value(name, stats_list)


def __getattr__(attr: str):
    """``METRIC_FUNCTIONS`` and ``METRIC_INFO``, the tables of earlier releases: deprecated, built from the
    registry (ask the metric: ``nlptasks.metrics.get(name)``)."""
    if attr in ("METRIC_FUNCTIONS", "METRIC_INFO"):
        from ..registry import METRICS

        warnings.warn(f"nlptasks.metrics.{attr} is deprecated: ask the metric (nlptasks.metrics.get(name), "
                      "nlptasks.registry.METRICS)", DeprecationWarning, stacklevel=2)
        if attr == "METRIC_FUNCTIONS":
            return dict(METRICS.items())
        return {name: m.info() for name, m in METRICS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")

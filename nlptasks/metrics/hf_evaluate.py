"""nlptasks' metrics as Hugging Face ``evaluate`` modules, built offline (no Hub fetch).

``evaluate_module("rouge")`` returns an ``evaluate.EvaluationModule`` whose ``add``/``add_batch``/``compute``
run the registered nlptasks metric (the function ``nlptasks eval`` calls, plugins included) on what was
added, so the numbers are the same as ``nlptasks eval``'s on the same predictions and references. The
result holds, for every value the metric produces, its score, ``<value>_ci`` (the percentile bootstrap
95% interval: 1,000 resamples, seed 0 unless ``bootstrap=``/``seed=`` say otherwise; ``None`` for a metric
without one) and ``stats`` (the sufficient statistics), plus the metric's ``signature``.

Options (``tokenize="intl"``, ``rouge_types=[...]``, ``bootstrap=0``) go to ``evaluate_module(name, ...)``
or to ``compute(...)`` (which wins); ``config_name``, ``keep_in_memory``, ``cache_dir``, ``num_process``,
``process_id``, ``experiment_id`` and the other ``EvaluationModule`` arguments go to the module.

A metric declares its inputs with an ``evaluate_features`` attribute (a function of the ``datasets`` module
returning ``Features`` or a list of them; the built-in metric classes have one); without one it accepts
strings, lists of strings, integers or numbers as predictions and references.

``evaluate`` is an optional extra (``pip install 'nlptasks[evaluate]'``), imported only here.
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable

from ..errors import NlpTasksError
from .base import DEFAULT_BOOTSTRAP

# the Hub's names of metrics nlptasks registers under another name (``evaluate_module("sacrebleu")``)
HUB_NAMES = {"sacrebleu": "bleu", "matthews_correlation": "mcc"}
_DESCRIPTION = "nlptasks metric {name!r}: {description}. Same code and corpus statistics as `nlptasks eval`."
_INPUTS = """
Args:
    predictions: the model outputs, one per example (see the metric's features).
    references: the gold references, one per example (a list of strings for several references).
    **options: the nlptasks metric's options, e.g. bootstrap=1000, seed=0 (and tokenize=... for bleu).
Returns:
    {<value>: score, <value>_ci: [low, high] or None, "stats": {<value>: sufficient statistics},
     "signature": the metric's signature}
"""


def _require_evaluate():
    try:
        import evaluate
    except ImportError:
        raise NlpTasksError("this needs Hugging Face `evaluate`: pip install 'nlptasks[evaluate]'") from None
    return evaluate


def features_for(name: str, fn: Callable, task: str | None = None):
    """The ``datasets`` features (or the list of accepted ones) of one nlptasks metric: its own
    ``evaluate_features``, else strings, lists of strings, integers or numbers."""
    import datasets

    string, strings = datasets.Value("string"), datasets.Sequence(datasets.Value("string"))
    F = datasets.Features
    custom = getattr(fn, "evaluate_features", None)
    if custom is not None:
        return custom(datasets)
    return [F({"predictions": string, "references": string}),
            F({"predictions": string, "references": strings}),
            F({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            F({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")})]


def result_dict(name: str, fn: Callable, values: dict, options: dict) -> dict[str, Any]:
    """An nlptasks metric's values as an ``evaluate`` result: scores, intervals, stats and the signature."""
    from .signature import value_signature

    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key] = float(value.score)
        out[f"{key}_ci"] = [float(value.ci[0]), float(value.ci[1])] if value.ci is not None else None
    out["stats"] = {key: value.stats for key, value in values.items()}
    first = next(iter(values.values()))
    out["signature"] = value_signature(name, fn, first, options)
    return out


@lru_cache(maxsize=1)
def _module_class():
    evaluate = _require_evaluate()

    class NlptasksMetric(evaluate.Metric):
        """An nlptasks metric behind ``evaluate``'s API (built by :func:`evaluate_module`)."""

        def __init__(self, metric_name: str, fn: Callable, options: dict, info: dict, **kwargs):
            self._metric_name, self._fn, self._options, self._meta = metric_name, fn, dict(options), info
            kwargs.setdefault("config_name", metric_name)  # one cache folder per metric
            super().__init__(**kwargs)
            self.info.module_name = f"nlptasks_{metric_name}"

        def _info(self):
            return evaluate.MetricInfo(
                description=_DESCRIPTION.format(name=self._metric_name,
                                                description=self._meta.get("description") or "a plugin metric"),
                citation="", inputs_description=_INPUTS,
                features=features_for(self._metric_name, self._fn, self._meta.get("task")),
                license="Apache-2.0")

        def _compute(self, *, predictions=None, references=None, **kwargs):
            options = {**self._options, **kwargs}
            if "bootstrap" in self._fn.defaults():  # an interval unless asked otherwise
                options.setdefault("bootstrap", DEFAULT_BOOTSTRAP)
            preds = list(predictions)
            refs = list(references) if references is not None else None
            values = self._fn(preds, refs, **options)
            return result_dict(self._metric_name, self._fn, values, options)

    return NlptasksMetric


def _module_arguments() -> set[str]:
    evaluate = _require_evaluate()
    return {p for p in inspect.signature(evaluate.EvaluationModule.__init__).parameters if p not in ("self", "kwargs")}


def evaluate_module(name: str, **kwargs):
    """The nlptasks metric ``name`` (any registered one, plugins included; the Hub's names ``sacrebleu`` and
    ``matthews_correlation`` name ``bleu`` and ``mcc``) as an ``evaluate`` module.

    Keyword arguments that ``evaluate.EvaluationModule`` takes (``keep_in_memory``, ``cache_dir``, ...) go to
    the module; the others are the metric's options. An unknown name raises ``UnknownNameError`` listing
    the known metrics.
    """
    from ..registry import METRICS, metric_info

    if name not in METRICS and str(name).lower() in HUB_NAMES:
        name = HUB_NAMES[str(name).lower()]
    key = METRICS.canonical(name)  # UnknownNameError with the known names
    fn = METRICS.get(key)
    info = metric_info(key)
    module_args = _module_arguments()
    module_kwargs = {k: v for k, v in kwargs.items() if k in module_args}
    options = {k: v for k, v in kwargs.items() if k not in module_args}
    return _module_class()(key, fn, options, dict(info), **module_kwargs)

"""The metric class, in sacrebleu's shape: a configured instance scores a corpus from sufficient statistics.

A metric is a subclass of :class:`Metric` that declares what it is (``name``, ``produces``: the value names
it returns, ``higher_is_better``: one flag or one per value, ``description``, ``task``...) and implements
``compute``. An instance holds its options (``Bleu(tokenize="intl")``, ``Rouge(rouge_types=["rougeL"])``):

* ``compute(predictions, references)`` -> ``{value name: MetricValue}`` (score, sufficient statistics,
  optional 95% interval, extra);
* ``statistics(predictions, references)`` -> ``{value name: stats}``: the sufficient statistics only
  (JSON-able dicts, each with a ``"kind"``);
* ``merge([stats, stats, ...])`` -> the statistics of the union of several shards;
* ``score(stats)`` -> ``{value name: float}``: ``score(merge([statistics(shard) ...]))`` equals the score of
  ``compute`` on the whole corpus (every built-in metric but ``distinct``, whose n-gram sets are not kept);
* ``signature()`` -> one line naming every setting that changes the score (see :mod:`.signature`);
* ``higher_is_better_for(value)`` -> the direction of one value (evaluation, the leaderboard and training's
  best checkpoint all ask this).

Calling an instance like the old metric functions still works: ``metric(predictions, references, **options)``
is ``metric.with_options(**options).compute(predictions, references)``. The registry
(``nlptasks.registry.METRICS``) holds one default instance per name; a plugin registers a subclass (or an
instance); a plain function is still accepted and wrapped (:func:`from_function`, deprecated).

Pure: no torch.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable, ClassVar, Mapping

from .base import MetricValue


class Metric:
    """One metric. Subclasses set the class attributes below and implement :meth:`compute`."""

    name: ClassVar[str] = ""
    #: the value names ``compute`` returns (all it may return; options may select fewer). ``()``: unknown
    #: until computed (a plugin that does not say).
    produces: ClassVar[tuple[str, ...]] = ()
    #: ``True``/``False`` for every value, or ``{value name: bool}`` (a value not named: higher is better)
    higher_is_better: ClassVar[bool | Mapping[str, bool]] = True
    description: ClassVar[str] = ""
    task: ClassVar[str | None] = None              # the task whose outputs it scores (None: any)
    aggregatable: ClassVar[bool] = True            # statistics of shards merge exactly
    prediction_field: ClassVar[str | None] = None  # score this field of the task output, not its prediction
    scores_likelihood: ClassVar[bool] = False      # scores the references' likelihood ({nll, tokens} dicts)
    library: ClassVar[str | None] = None           # the package whose version decides the score (signature)
    #: ``{value name: (Hub metric type, display name)}`` for model cards (a value not named: its own name)
    hub_types: ClassVar[Mapping[str, tuple[str, str]]] = {}
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any):
        self.options = dict(options)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"

    # -- configuration ----------------------------------------------------------------------------
    def with_options(self, **options: Any) -> "Metric":
        """A metric of the same kind with ``options`` over this one's (``self`` when there are none)."""
        if not options:
            return self
        return type(self)(**{**self.options, **options})

    def accepts(self, option: str) -> bool:
        """Whether ``option`` (e.g. ``bootstrap``) is one this metric takes."""
        return option in self.defaults() or self._takes_any()

    def defaults(self) -> dict:
        """The options a metric takes, with their default values."""
        return {}

    def _takes_any(self) -> bool:
        return False

    # -- what it is -------------------------------------------------------------------------------
    def higher_is_better_for(self, value: str | None = None) -> bool:
        """Whether a larger ``value`` (default: the metric's own name) is better."""
        hib = self.higher_is_better
        if isinstance(hib, Mapping):
            return bool(hib.get(value or self.name, True))
        return bool(hib)

    def info(self) -> dict:
        """The metadata as a dict (``produces``, ``higher_is_better`` per value, ``description``, ``task``,
        ``aggregatable`` and ``prediction_field`` when set)."""
        out = {"task": self.task, "produces": list(self.produces),
               "higher_is_better": {v: self.higher_is_better_for(v) for v in self.produces},
               "description": self.description, "aggregatable": self.aggregatable}
        if self.prediction_field:
            out["prediction_field"] = self.prediction_field
        return out

    # -- scoring ----------------------------------------------------------------------------------
    def compute(self, predictions: list, references: list | None = None) -> dict[str, MetricValue]:
        raise NotImplementedError(f"metric {self.name!r} does not implement compute()")

    def __call__(self, predictions: list, references: list | None = None, **options: Any) -> dict[str, MetricValue]:
        return self.with_options(**options).compute(predictions, references)

    def statistics(self, predictions: list, references: list | None = None) -> dict[str, dict]:
        """The sufficient statistics of each value (no interval is computed)."""
        metric = self.with_options(bootstrap=0) if "bootstrap" in self.defaults() else self
        return {key: value.stats for key, value in metric.compute(predictions, references).items()}

    def merge_value(self, value: str, stats_list: list[dict]) -> MetricValue:
        """One value of the union of several shards, from their statistics (``ValueError`` when they do not
        combine). The default merges means (``{"kind": "mean", "sum", "n"}``, see :func:`merge_by_kind`);
        a metric that keeps other statistics overrides it."""
        return merge_by_kind(value, stats_list)

    def merge(self, stats_list: list[dict[str, dict]]) -> dict[str, dict]:
        """The statistics of the union of several shards (each the result of :meth:`statistics`)."""
        if not stats_list:
            raise ValueError(f"{self.name}: nothing to merge")
        keys = list(stats_list[0])
        if any(list(s) != keys for s in stats_list[1:]):
            raise ValueError(f"{self.name}: shards with different values {sorted({k for s in stats_list for k in s})}")
        return {key: self.merge_value(key, [s[key] for s in stats_list]).stats for key in keys}

    def score(self, stats: dict[str, dict]) -> dict[str, float]:
        """The score of each value from its statistics (as :meth:`statistics` or :meth:`merge` give them)."""
        return {key: float(self.merge_value(key, [s]).score) for key, s in stats.items()}

    # -- signature --------------------------------------------------------------------------------
    def signature(self, versions: dict | None = None) -> str:
        """``<name>|<option>:<value>|...|<library>:<version>|nlptasks:<version>``: the settings that change the
        score. ``versions`` (package -> version, as a record's environment) replaces the installed ones."""
        from .signature import metric_signature

        return metric_signature(self.name, self.defaults(), self.options, versions, library=self.library)

    def value_signature(self, value) -> str:
        """The signature of one value this metric returned: the one it carries (sacrebleu's, computed on the
        data), else :meth:`signature`."""
        extra = getattr(value, "extra", None) or (value.get("extra") if isinstance(value, dict) else None) or {}
        return str(extra.get("signature") or self.signature())


class FunctionMetric(Metric):
    """A metric whose scoring is a pure function ``fn(predictions, references, **options)`` (the built-ins:
    the function holds the arithmetic, the class what the metric is)."""

    function: ClassVar[Callable[..., dict[str, MetricValue]]]

    def compute(self, predictions, references=None):
        return type(self).function(predictions, references, **self.options)

    def defaults(self) -> dict:
        out = {}
        for p in _parameters(type(self).function):
            if p.default is not inspect.Parameter.empty and not p.name.startswith("_"):
                out[p.name] = p.default
        return out

    def _takes_any(self) -> bool:
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in _parameters(type(self).function))

    def __getattr__(self, attr):  # a wrapped plugin function's own attributes (evaluate_features, ...)
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(type(self).function, attr)


def _parameters(fn) -> list:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return []


def from_function(name: str, fn: Callable, *, warn: bool = True) -> Metric:
    """A plugin metric registered the old way (a function, its metadata in an ``info`` dict attribute:
    ``produces``, ``higher_is_better`` {value: bool}, ``description``, ``task``, ``aggregatable``,
    ``prediction_field``) as a :class:`Metric`. Deprecated: subclass :class:`Metric` instead."""
    if warn:
        warnings.warn(f"metric {name!r} is a function; register a nlptasks.metrics.Metric subclass instead "
                      "(functions with an `info` dict still work, and will stop working in a later release)",
                      DeprecationWarning, stacklevel=3)
    info = dict(getattr(fn, "info", None) or {})
    attrs = {"name": name, "function": staticmethod(fn), "produces": tuple(info.get("produces") or ()),
             "higher_is_better": dict(info.get("higher_is_better") or {}),
             "description": str(info.get("description") or ""), "task": info.get("task"),
             "aggregatable": bool(info.get("aggregatable", True)), "prediction_field": info.get("prediction_field"),
             "__doc__": getattr(fn, "__doc__", None)}
    return type(f"FunctionMetric_{name}", (FunctionMetric,), attrs)()


def as_metric(name: str, item: Any) -> Metric:
    """What the metric registry holds for ``item``: a :class:`Metric` subclass is instantiated with its
    defaults, an instance is kept, a plain callable is wrapped (:func:`from_function`)."""
    if isinstance(item, Metric):
        return item
    if isinstance(item, type) and issubclass(item, Metric):
        return item()
    if callable(item):
        return from_function(name, item)
    raise TypeError(f"metric {name!r}: expected a nlptasks.metrics.Metric subclass, got {type(item).__name__}")


def merge_by_kind(name: str, stats_list: list[dict]) -> MetricValue:
    """Combine the statistics of one value from several shards: means (``{sum, n}``, the kind most metrics
    keep). Other kinds are merged by the metric that keeps them (sacrebleu's vectors by the BLEU/chrF/TER
    classes, confusion matrices by the classification classes, likelihoods by perplexity: their
    ``merge_value``); anything else raises ``ValueError``."""
    kind = _one_kind(name, stats_list)
    if kind == "mean":
        total, n = sum(float(s["sum"]) for s in stats_list), sum(int(s["n"]) for s in stats_list)
        stats = {"kind": "mean", "sum": total, "n": n}
        if all("correct" in s for s in stats_list):
            stats["correct"] = sum(int(s["correct"]) for s in stats_list)
        return MetricValue(total / n, stats)
    if kind == "confusion":
        raise ValueError(f"{name}: confusion-matrix stats aggregate only as 'f1', 'mcc' or 'macro_recall'")
    raise ValueError(f"{name}: stats of kind {kind!r} cannot be re-aggregated")


def _one_kind(name: str, stats_list: list[dict]) -> str | None:
    if not stats_list:
        raise ValueError(f"{name}: nothing to aggregate")
    kinds = {s.get("kind") for s in stats_list}
    if len(kinds) != 1:
        raise ValueError(f"{name}: stats of different kinds {sorted(map(str, kinds))}")
    return kinds.pop()

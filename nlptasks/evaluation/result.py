"""Typed result records: :class:`ResultRecord` and its parts as frozen dataclasses.

``ResultRecord.from_dict`` validates with the one record validator (:func:`records.check_record`: an
``InputError`` naming the first wrong field) and builds the typed view; ``to_dict`` gives back the same
JSON object, keys the types do not name included (they are kept in ``extra``), so a record written by
any release round-trips unchanged. ``tests/data/records/`` holds records written by the release before
the types (and by ``nlptasks eval`` of the packaged models); ``tests/test_result_types.py`` loads them.

    from nlptasks.evaluation.result import ResultRecord
    rec = ResultRecord.from_dict(json.load(open("eval_record.json")))
    rec.metrics[rec.primary_metric].score, rec.model.variant.dtype, rec.data.trained_on_eval_data
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .records import check_record


def _rest(d: dict, known: tuple[str, ...]) -> dict:
    return {k: v for k, v in d.items() if k not in known}


@dataclass(frozen=True)
class MetricValue:
    score: float
    ci: tuple[float, float] | None = None
    stats: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # the metric's own extras (signature, options)
    other: dict = field(default_factory=dict)  # keys not named above, kept as they are

    KEYS = ("score", "ci", "stats", "extra")

    @classmethod
    def from_dict(cls, d: dict) -> "MetricValue":
        ci = d.get("ci")
        return cls(float(d["score"]), tuple(ci) if ci is not None else None, dict(d.get("stats") or {}),
                   dict(d.get("extra") or {}), _rest(d, cls.KEYS))

    def to_dict(self, shape: dict) -> dict:
        out = dict(shape)  # the original key order and presence
        out["score"] = self.score
        if "ci" in shape:
            out["ci"] = list(self.ci) if self.ci is not None else None
        return out


@dataclass(frozen=True)
class Variant:
    dtype: str | None = None
    quantize: str | None = None
    engine: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    revision: str | None = None
    weights_hash: str | None = None
    variant: Variant = field(default_factory=Variant)
    parameters: int | None = None
    extra: dict = field(default_factory=dict)  # path, base_model, ... as written

    KEYS = ("name", "revision", "weights_hash", "variant", "parameters")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelInfo":
        v = d.get("variant") or {}
        return cls(d["name"], d.get("revision"), d.get("weights_hash"),
                   Variant(v.get("dtype"), v.get("quantize"), v.get("engine")), d.get("parameters"),
                   _rest(d, cls.KEYS))


@dataclass(frozen=True)
class BenchmarkRef:
    name: str
    version: int | str
    hash: str | None = None


@dataclass(frozen=True)
class DataSpec:
    """The examples scored: their fingerprint and count, a full run's count, where they came from, and
    whether the model was trained on them (never ranked; ``evaluation.contamination``)."""

    fingerprint: str | None = None
    n: int | None = None
    full_n: int | None = None
    source: str | None = None
    source_fingerprint: str | None = None
    trained_on_eval_data: bool = False
    extra: dict = field(default_factory=dict)

    KEYS = ("fingerprint", "n", "full_n", "source", "source_fingerprint", "trained_on_eval_data")

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        return cls(d.get("fingerprint"), d.get("n"), d.get("full_n"), d.get("source"),
                   d.get("source_fingerprint"), d.get("trained_on_eval_data") is True, _rest(d, cls.KEYS))


@dataclass(frozen=True)
class Cost:
    """The cost block: every figure as written (``energy_kwh``, ``examples_per_s``, ...); ``get`` reads one."""

    values: dict = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


@dataclass(frozen=True)
class ResultRecord:
    run_id: str
    task: str
    benchmark: BenchmarkRef
    model: ModelInfo
    metrics: dict[str, MetricValue]
    primary_metric: str
    n: int | None = None
    schema: int | None = None
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    data: DataSpec = field(default_factory=DataSpec)
    created_at: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)  # the validated object itself

    @classmethod
    def from_dict(cls, obj: Any, where: str = "") -> "ResultRecord":
        """Validate ``obj`` (``InputError`` naming ``where`` and the first problem) and type it."""
        d = check_record(obj, where)
        b = d["benchmark"]
        return cls(
            run_id=d["run_id"], task=d["task"], benchmark=BenchmarkRef(b["name"], b["version"], b.get("hash")),
            model=ModelInfo.from_dict(d["model"]),
            metrics={k: MetricValue.from_dict(v) for k, v in d["metrics"].items()},
            primary_metric=d["primary_metric"], n=d.get("n"), schema=d.get("schema"),
            higher_is_better=dict(d.get("higher_is_better") or {}), settings=dict(d.get("settings") or {}),
            environment=dict(d.get("environment") or {}), cost=Cost(dict(d.get("cost") or {})),
            data=DataSpec.from_dict(d.get("data") or {}), created_at=d.get("created_at"), raw=d)

    @property
    def score(self) -> float:
        """The primary metric's score."""
        return self.metrics[self.primary_metric].score

    @property
    def ranked(self) -> bool:
        """Whether a leaderboard may rank this result (not when its model was trained on the data)."""
        return not self.data.trained_on_eval_data

    def to_dict(self) -> dict:
        """The record as JSON data: the object it was read from, with the typed fields written back."""
        import copy

        out = copy.deepcopy(self.raw)
        for name, m in self.metrics.items():
            out["metrics"][name] = m.to_dict(out["metrics"][name])
        return out

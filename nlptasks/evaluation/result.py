"""The result record: its one schema, as typed dataclasses that validate themselves.

A record is what ``nlptasks eval`` writes (``evaluation.engine.build_record``), the results store keeps,
the leaderboard ranks and ``nlptasks results import`` accepts. ``ResultRecord.from_dict`` checks a JSON
object and builds the typed record; every problem is a phrase naming its field (``'metrics.f1.score'
must be a finite number ...``) and the first one is raised as one ``InputError`` line. ``to_dict`` gives
back the same JSON object: keys the types do not name are kept as they are (``other``), and a key that
was absent stays absent (``absent``), so a record written by any release round-trips unchanged
(``tests/fixtures/records_v0_2_0.jsonl``).

    from nlptasks.evaluation.result import ResultRecord
    rec = ResultRecord.from_dict(json.load(open("eval_record.json")), "eval_record.json")
    rec.score, rec.metrics["f1"].ci, rec.model.variant.name, rec.cost.energy_kwh, rec.data.full_n

The schema (a key not listed is kept as it is; a listed key must have its type):

    schema          int, 1..SCHEMA_VERSION (optional)
    run_id          identifier: letters, digits, ``._:-``; at most 255 characters
    task            a known task name (canonical, e.g. ``sentiment``)
    benchmark       BenchmarkRef {name: clean text, version: int or clean text (at most 64 characters),
                    hash: identifier or null}
    model           ModelInfo {name: clean text, revision, weights_hash: clean text or null,
                    variant: Variant {dtype, quantize, engine: clean text without ``+``/``@`` or null}, ...}
    n               int >= 0
    metrics         non-empty {name: MetricValue {score: finite number, ci: [low, high] numbers or null,
                    stats: {}, extra: {}}}
    primary_metric  one of the metric names
    higher_is_better {metric name: bool}
    settings, environment  objects, kept as they are
    cost            Cost {the numeric fields (COST_NUMBERS) non-negative numbers or null,
                    energy_is_estimate: bool or null, energy_source, device: strings or null, ...}
    data            DatasetSpec {fingerprint, source, source_fingerprint, training_result: strings or null,
                    n, full_n: int >= 0 or null, trained_on_eval_data: bool or null, ...}
    created_at      ISO 8601 date-time (at most 64 characters), not in the future (one day of clock skew
                    allowed), or absent

"Clean text" is a non-empty string without control or invisible format characters (newlines, escape
sequences, bidi overrides, zero-width characters) and without leading or trailing blanks, so a name
cannot break an output line or pass for another one. Numbers are at most ``MAX_ABS_VALUE`` in size.
"""
from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from ..errors import InputError

SCHEMA_VERSION = 1
MAX_ABS_VALUE = 1e15  # a score, interval end or cost beyond this is no measurement (1e308 broke the HTML page)
FUTURE_SKEW = timedelta(days=1)
COST_NUMBERS = ("parameters", "param_bytes", "size_bytes", "wall_time_s", "model_time_s", "items", "items_per_s",
                "examples_per_s", "generated_tokens", "tokens_per_s", "latency_p50_s", "latency_p95_s",
                "peak_rss_bytes", "energy_kwh", "co2e_g", "load_time_s", "load_energy_kwh", "predict_time_s")

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,254}")
_HASH = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
log = logging.getLogger("nlptasks")


# -- checking one value ---------------------------------------------------------------------------
def text_problem(value: Any, max_len: int = 255) -> str | None:
    """Why ``value`` is not clean text (None when it is)."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > max_len:
        return f"is longer than {max_len} characters"
    for ch in value:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return f"contains a control or invisible character (U+{ord(ch):04X})"
    if value != value.strip():
        return "has leading or trailing blanks"
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _known_tasks() -> list[str]:
    from ..registry import TASKS

    return TASKS.names()


def _created_problem(value: Any, check_clock: bool = True) -> str | None:
    if not isinstance(value, str):
        return f"must be an ISO 8601 date-time string, not {type(value).__name__}"
    if len(value) > 64:  # the store's column holds 64 characters (PostgreSQL enforces it)
        return "is longer than 64 characters"
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f"is not an ISO 8601 date-time: {value[:40]!r}"
    if dt.tzinfo is None:
        dt = dt.astimezone()
    if check_clock and dt > datetime.now(timezone.utc) + FUTURE_SKEW:
        return f"is in the future ({value})"
    return None


class _Problems:
    """What is wrong with the object being read: one ``'path' why`` phrase per problem, in schema order."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def bad(self, path: str, why: str) -> None:
        self.items.append(f"{path!r} {why}")

    def block(self, path: str, value: Any, required: bool = True) -> dict | None:
        """``value`` if it is an object; ``{}`` when optional and absent/null; None (and a problem) otherwise."""
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.bad(path, "is missing" if value is None else f"must be an object, not {type(value).__name__}")
            return None
        return value

    def text(self, path: str, value: Any, max_len: int = 255, nullable: bool = False) -> None:
        if value is None:
            if not nullable:
                self.bad(path, "is missing")
            return
        why = text_problem(value, max_len)
        if why:
            self.bad(path, why)

    def string(self, path: str, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            self.bad(path, f"must be a string or null, not {type(value).__name__}")

    def count(self, path: str, value: Any) -> None:
        if value is not None and not _is_count(value):
            self.bad(path, f"must be a non-negative integer, got {value!r}"[:120])

    def flag(self, path: str, value: Any) -> None:
        if value is not None and not isinstance(value, bool):
            self.bad(path, "must be true, false or null")


# -- the parts ------------------------------------------------------------------------------------
_META = ("other", "absent")  # every part: keys the schema does not name, and named keys that were absent


def _keys(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in _META)


def _split(d: dict, keys: tuple[str, ...]) -> tuple[dict, frozenset]:
    return {k: v for k, v in d.items() if k not in keys}, frozenset(k for k in keys if k not in d)


def _dump(part: Any) -> dict:
    """A part as JSON data: its named keys (not those that were absent when it was read), then ``other``."""
    out: dict[str, Any] = {}
    for name in _keys(type(part)):
        if name in part.absent:
            continue
        v = getattr(part, name)
        if hasattr(v, "to_dict"):
            v = v.to_dict()
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, dict) and v and all(hasattr(x, "to_dict") for x in v.values()):
            v = {k: x.to_dict() for k, x in v.items()}
        out[name] = v
    out.update(part.other)
    return out


@dataclass(frozen=True)
class Variant:
    """How the model ran: dtype, quantization, engine (``float32+int8@ctranslate2``)."""

    dtype: str | None = None
    quantize: str | None = None
    engine: str | None = None
    other: dict = field(default_factory=dict)
    absent: frozenset = field(default_factory=frozenset, repr=False)

    @staticmethod
    def label(dtype: Any, quantize: Any = None, engine: Any = None) -> str:
        name = str(dtype or "?")
        if quantize:
            name += f"+{quantize}"
        if engine:
            name += f"@{engine}"
        return name

    @property
    def name(self) -> str:
        """``dtype`` or ``dtype+quantize`` (``?`` if unknown), ``@engine`` when not transformers."""
        return self.label(self.dtype, self.quantize, self.engine)

    @classmethod
    def read(cls, d: dict, p: _Problems, path: str = "model.variant") -> "Variant":
        for key in _keys(cls):
            v = d.get(key)
            p.text(f"{path}.{key}", v, 64, nullable=True)
            if isinstance(v, str) and ("+" in v or "@" in v):
                p.bad(f"{path}.{key}", "must not contain '+' or '@'")
        return cls(d.get("dtype"), d.get("quantize"), d.get("engine"), *_split(d, _keys(cls)))

    def to_dict(self) -> dict:
        return _dump(self)


@dataclass(frozen=True)
class ModelInfo:
    """The model scored: its name, revision, weights hash, variant and parameter count (``path``,
    ``base_model``, ``encoder``, ``baseline``, ... as written, in ``other``)."""

    name: str
    revision: str | None = None
    weights_hash: str | None = None
    variant: Variant = field(default_factory=Variant)
    parameters: int | None = None
    other: dict = field(default_factory=dict)
    absent: frozenset = field(default_factory=frozenset, repr=False)

    @classmethod
    def read(cls, d: dict, p: _Problems) -> "ModelInfo":
        p.text("model.name", d.get("name"), 512)
        variant = p.block("model.variant", d.get("variant"), required=False)
        for key in ("revision", "weights_hash"):
            p.text(f"model.{key}", d.get(key), 255, nullable=True)
        other, absent = _split(d, _keys(cls))
        if d.get("variant") is None:  # absent or null: read as no variant, written back as it was
            absent = absent | {"variant"}
            if "variant" in d:
                other["variant"] = None
        return cls(d.get("name"), d.get("revision"), d.get("weights_hash"),
                   Variant.read(variant or {}, p), d.get("parameters"), other, absent)

    def to_dict(self) -> dict:
        return _dump(self)


@dataclass(frozen=True)
class BenchmarkRef:
    """Which benchmark definition scored the record: name, version and definition hash."""

    name: str
    version: int | str
    hash: str | None = None
    other: dict = field(default_factory=dict)
    absent: frozenset = field(default_factory=frozenset, repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """(name, version, hash) as text: results with the same key come from the same definition."""
        return str(self.name), str(self.version), str(self.hash)

    @classmethod
    def read(cls, d: dict, p: _Problems) -> "BenchmarkRef":
        p.text("benchmark.name", d.get("name"))
        version = d.get("version")
        if version is None:
            p.bad("benchmark.version", "is missing")
        elif isinstance(version, bool) or not isinstance(version, (int, str)):
            p.bad("benchmark.version", f"must be an integer or a string, not {type(version).__name__}")
        elif isinstance(version, str):
            p.text("benchmark.version", version, 64)
        elif not -10**63 < version < 10**64:  # the store's column holds 64 characters (PostgreSQL enforces it)
            p.bad("benchmark.version", "is longer than 64 characters")
        h = d.get("hash")
        if h is not None and (not isinstance(h, str) or not _HASH.fullmatch(h)):
            p.bad("benchmark.hash", "must be letters, digits and ._:- (at most 128) or null")
        return cls(d.get("name"), version, h, *_split(d, _keys(cls)))

    def to_dict(self) -> dict:
        return _dump(self)


@dataclass(frozen=True)
class MetricValue:
    """One metric's value: the score, its 95% interval, the sufficient statistics it was computed from and
    the metric's own extras (signature, options)."""

    score: float
    ci: tuple[float, float] | None = None
    stats: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    other: dict = field(default_factory=dict)
    absent: frozenset = field(default_factory=frozenset, repr=False)

    @classmethod
    def read(cls, m: dict, p: _Problems, path: str) -> "MetricValue":
        score = m.get("score")
        if not _is_number(score) or not math.isfinite(score) or abs(score) > MAX_ABS_VALUE:
            p.bad(f"{path}.score", f"must be a finite number within ±{MAX_ABS_VALUE:g}, got {score!r}"[:120])
        ci = m.get("ci")
        if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(_is_number(x) for x in ci)):
            p.bad(f"{path}.ci", "must be [low, high] numbers or null")
            ci = None
        elif ci is not None and not all(math.isfinite(x) and abs(x) <= MAX_ABS_VALUE for x in ci):
            p.bad(f"{path}.ci", f"must be finite numbers within ±{MAX_ABS_VALUE:g}, got {ci!r}"[:120])
        for key in ("stats", "extra"):
            if m.get(key) is not None and not isinstance(m[key], dict):
                p.bad(f"{path}.{key}", "must be an object")
        return cls(score, tuple(ci) if ci is not None else None, m.get("stats"), m.get("extra"),
                   *_split(m, _keys(cls)))

    def to_dict(self) -> dict:
        return _dump(self)


@dataclass(frozen=True)
class Cost:
    """What the run cost (``nlptasks.cost``): the numeric figures by name, energy's source and whether it
    is an estimate, the device; the rest (notes, grid source, process counts, ...) in ``other``.
    ``get(key)`` reads any of them, named or not."""

    parameters: int | None = None
    param_bytes: int | None = None
    size_bytes: int | None = None
    wall_time_s: float | None = None
    model_time_s: float | None = None
    items: int | None = None
    items_per_s: float | None = None
    examples_per_s: float | None = None
    generated_tokens: int | None = None
    tokens_per_s: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    peak_rss_bytes: int | None = None
    energy_kwh: float | None = None
    co2e_g: float | None = None
    load_time_s: float | None = None
    load_energy_kwh: float | None = None
    predict_time_s: float | None = None
    energy_is_estimate: bool | None = None
    energy_source: str | None = None
    device: str | None = None
    other: dict = field(default_factory=dict)
    absent: frozenset = field(default_factory=frozenset, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        if key in _COST_KEYS:
            v = getattr(self, key)
            return default if v is None and key in self.absent else v
        return self.other.get(key, default)

    @classmethod
    def read(cls, d: dict, p: _Problems) -> "Cost":
        for key in COST_NUMBERS:
            v = d.get(key)
            if v is not None and (not _is_number(v) or not math.isfinite(v) or v < 0 or v > MAX_ABS_VALUE):
                p.bad(f"cost.{key}", f"must be a non-negative number or null, got {v!r}"[:120])
        if d.get("energy_is_estimate") is not None and not isinstance(d["energy_is_estimate"], bool):
            p.bad("cost.energy_is_estimate", "must be true, false or null")
        p.string("cost.energy_source", d.get("energy_source"))
        p.string("cost.device", d.get("device"))
        return cls(**{k: d.get(k) for k in _COST_KEYS}, other=_split(d, _COST_KEYS)[0],
                   absent=_split(d, _COST_KEYS)[1])

    def to_dict(self) -> dict:
        return _dump(self)


_COST_KEYS = _keys(Cost)
assert _COST_KEYS[:len(COST_NUMBERS)] == COST_NUMBERS


@dataclass(frozen=True)
class DatasetSpec:
    """The examples scored (the record's ``data``): their fingerprint and count, a full run's count, where
    they came from and that source's fingerprint, and whether the model was trained on them (then never
    ranked; ``evaluation.contamination`` sets it with the ``training_result`` that says so)."""

    fingerprint: str | None = None
    n: int | None = None
    full_n: int | None = None
    source: str | None = None
    source_fingerprint: str | None = None
    trained_on_eval_data: bool | None = None
    training_result: str | None = None
    other: dict = field(default_factory=dict)
    absent: frozenset = field(default_factory=frozenset, repr=False)

    @property
    def partial(self) -> bool:
        """Fewer examples than a full run has (``--limit``), as the record states it."""
        return self.n is not None and self.full_n is not None and self.n < self.full_n

    @classmethod
    def read(cls, d: dict, p: _Problems) -> "DatasetSpec":
        for key in ("fingerprint", "source", "source_fingerprint", "training_result"):
            p.string(f"data.{key}", d.get(key))
        for key in ("n", "full_n"):
            p.count(f"data.{key}", d.get(key))
        p.flag("data.trained_on_eval_data", d.get("trained_on_eval_data"))
        return cls(**{k: d.get(k) for k in _keys(cls)}, other=_split(d, _keys(cls))[0],
                   absent=_split(d, _keys(cls))[1])

    def to_dict(self) -> dict:
        return _dump(self)


@dataclass(frozen=True, kw_only=True)
class ResultRecord:
    """One evaluation result; see the module docstring for the schema."""

    schema: int | None = None
    run_id: str
    task: str
    benchmark: BenchmarkRef
    model: ModelInfo
    n: int | None = None
    metrics: dict[str, MetricValue]
    primary_metric: str
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    data: DatasetSpec = field(default_factory=DatasetSpec)
    created_at: str | None = None
    other: dict = field(default_factory=dict)  # e.g. reference_metrics
    absent: frozenset = field(default_factory=frozenset, repr=False)

    # -- reading and writing ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, obj: Any, where: str = "", *, stored: bool = False) -> "ResultRecord":
        """Check ``obj`` and type it; ``InputError`` naming ``where`` (and the run) with the first problem.

        ``stored``: ``obj`` was read back from a results store, which checked it when it was written;
        the checks that depend on this installation and its clock (a registered task name, a date
        not in the future) are not repeated, so an uninstalled task plugin hides no stored result."""
        rec, problems = cls._read(obj, stored)
        if problems:
            rid = obj.get("run_id") if isinstance(obj, dict) else None
            label = where or "result record"
            if isinstance(rid, str) and _RUN_ID.fullmatch(rid):
                label += f" (run {rid})"
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise InputError(f"{label}: {problems[0]}{more}")
        return rec

    @classmethod
    def problems(cls, obj: Any) -> list[str]:
        """Everything wrong with ``obj`` as a result record, one short phrase each (empty when valid)."""
        return cls._read(obj, False)[1]

    @classmethod
    def coerce(cls, obj: "ResultRecord | dict", where: str = "") -> "ResultRecord":
        """``obj`` itself when it is a ``ResultRecord``, else ``from_dict(obj, where)``."""
        return obj if isinstance(obj, ResultRecord) else cls.from_dict(obj, where)

    @classmethod
    def _read(cls, obj: Any, stored: bool) -> tuple["ResultRecord | None", list[str]]:
        if not isinstance(obj, dict):
            return None, [f"a result record must be a JSON object, not {type(obj).__name__}"]
        p = _Problems()
        schema = obj.get("schema")
        if schema is not None and (not isinstance(schema, int) or isinstance(schema, bool)
                                   or not 1 <= schema <= SCHEMA_VERSION):
            p.bad("schema", f"must be an integer from 1 to {SCHEMA_VERSION}, got {schema!r}")

        run_id = obj.get("run_id")
        if run_id in (None, ""):
            p.bad("run_id", "is missing")
        elif not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            p.bad("run_id", "must be letters, digits and ._:- (at most 255)")

        task = obj.get("task")
        if task in (None, ""):
            p.bad("task", "is missing")
        elif not isinstance(task, str) or (not stored and task not in _known_tasks()):
            shown = task[:40] if isinstance(task, str) else type(task).__name__
            p.bad("task", f"is not a known task ({shown!r}; known: {', '.join(_known_tasks())})")

        bench = p.block("benchmark", obj.get("benchmark"))
        benchmark = BenchmarkRef.read(bench, p) if bench is not None else None
        model_d = p.block("model", obj.get("model"))
        model = ModelInfo.read(model_d, p) if model_d is not None else None

        n = obj.get("n")
        if n is not None and not _is_count(n):
            p.bad("n", f"must be a non-negative integer, got {n!r}")

        metrics_d = p.block("metrics", obj.get("metrics"))
        if metrics_d == {}:
            p.bad("metrics", "is empty")
        metrics: dict[str, MetricValue] = {}
        for name, m in (metrics_d or {}).items():
            why = text_problem(name, 128)
            if why:
                p.bad("metrics", f"has a bad metric name: {why}")
            elif not isinstance(m, dict):
                p.bad(f"metrics.{name}", f"must be an object, not {type(m).__name__}")
            else:
                metrics[name] = MetricValue.read(m, p, f"metrics.{name}")

        primary = obj.get("primary_metric")
        if primary is None:
            p.bad("primary_metric", "is missing")
        elif not isinstance(primary, str) or (metrics_d and primary not in metrics_d):
            p.bad("primary_metric", f"must name one of the metrics ({', '.join(map(str, metrics_d or {})) or 'none'})")

        hib = p.block("higher_is_better", obj.get("higher_is_better"), required=False) or {}
        for name, v in hib.items():
            if not isinstance(v, bool):
                p.bad(f"higher_is_better.{name}", "must be true or false")
        for key in ("settings", "environment"):
            p.block(key, obj.get(key), required=False)
        data_d = p.block("data", obj.get("data"), required=False)
        data = DatasetSpec.read(data_d, p) if data_d is not None else None
        cost_d = p.block("cost", obj.get("cost"), required=False)
        cost = Cost.read(cost_d, p) if cost_d is not None else None
        if obj.get("created_at") is not None:
            why = _created_problem(obj["created_at"], check_clock=not stored)
            if why:
                p.bad("created_at", why)
        if p.items:
            return None, p.items

        other, absent = _split(obj, RECORD_KEYS)
        for key in ("cost", "data"):  # a null block reads as an empty one and is written back as null
            if key in obj and obj[key] is None:
                absent, other[key] = absent | {key}, None
        return cls(schema=schema, run_id=run_id, task=task, benchmark=benchmark, model=model, n=n,
                   metrics=metrics, primary_metric=primary, higher_is_better=obj.get("higher_is_better"),
                   settings=obj.get("settings"), environment=obj.get("environment"), cost=cost or Cost(),
                   data=data or DatasetSpec(), created_at=obj.get("created_at"), other=other, absent=absent), []

    def to_dict(self) -> dict:
        """The record as JSON data (for a record read by ``from_dict``: the object it was read from).
        Opaque parts (settings, environment, stats, ...) are shared with the record, not copied."""
        return _dump(self)

    # -- what readers ask of a record -------------------------------------------------------------
    def metric_score(self, metric: str | None) -> float | None:
        """The score of one metric as a float; None when the record has no such metric."""
        m = self.metrics.get(metric) if metric is not None else None
        return float(m.score) if m is not None else None

    @property
    def score(self) -> float:
        """The primary metric's score."""
        return float(self.metrics[self.primary_metric].score)

    def higher(self, metric: str | None = None) -> bool | None:
        """Whether higher is better for ``metric`` (default: the primary one), as the record says; None
        when it does not say."""
        return (self.higher_is_better or {}).get(metric or self.primary_metric)

    @property
    def variant_name(self) -> str:
        return self.model.variant.name

    @property
    def benchmark_key(self) -> tuple[str, str, str]:
        return self.benchmark.key

    @property
    def definition_facts(self) -> tuple:
        """What one benchmark definition fixes for every result of it: task, primary metric and its
        direction. Records of one ``benchmark_key`` that disagree here are not from the same definition."""
        hib = self.higher()
        return self.task, self.primary_metric, True if hib is None else hib

    @property
    def trained_on_eval_data(self) -> bool:
        """Whether the model was trained on the data it was scored on (marked by ``evaluate``)."""
        return self.data.trained_on_eval_data is True

    @property
    def ranked(self) -> bool:
        """Whether a leaderboard may rank this result (not when its model was trained on the data)."""
        return not self.trained_on_eval_data


RECORD_KEYS = _keys(ResultRecord)  # the keys of a record, in the order evaluate writes them


def as_records(items: Iterable["ResultRecord | dict"], where: str = "the given records") -> list[ResultRecord]:
    """Typed records of ``items``; a dict that is not a valid record is left out, with a warning naming it
    (the leaderboard of a list of dicts ranks only valid records)."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(ResultRecord.coerce(item, f"{where}[{i}]"))
        except InputError as exc:
            log.warning("nlptasks: left out an invalid result record: %s", exc)
    return out

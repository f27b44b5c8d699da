"""The evaluation result record: its schema, the one validator, and the helpers that read it.

A record is the JSON object ``nlptasks eval`` builds (``evaluation.evaluate``), the results store keeps
and ``nlptasks results import`` accepts. Every writer and reader goes through this module:
``validate_record`` lists what is wrong with an object, ``check_record`` raises the first problem
as one line. Keys not listed here are kept as they are (opaque), but listed keys must have their type.

    schema          int, 1..SCHEMA_VERSION (optional)
    run_id          identifier: letters, digits, ``._:-``; at most 255 characters
    task            a known task name (canonical, e.g. ``sentiment``)
    benchmark       {name: clean text, version: int or clean text (at most 64 characters), hash: identifier or null}
    model           {name: clean text, variant: {dtype, quantize, engine: clean text without ``+``/``@`` or null}, ...}
    n               int >= 0
    metrics         non-empty {name: {score: finite number, ci: [low, high] numbers or null, stats: {}, extra: {}}}
    primary_metric  one of the metric names
    higher_is_better {metric name: bool}
    cost            {...}; the numeric fields (energy_kwh, items_per_s, ...) numbers or null
    created_at      ISO 8601 date-time (at most 64 characters), not in the future (one day of clock skew
                    allowed), or absent

"Clean text" is a non-empty string without control or invisible format characters (newlines, escape
sequences, bidi overrides, zero-width characters) and without leading or trailing blanks, so a name
cannot break an output line or pass for another one.
"""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import InputError

SCHEMA_VERSION = 1
RECORD_KEYS = ("schema", "run_id", "task", "benchmark", "model", "n", "metrics", "primary_metric",
               "higher_is_better", "settings", "environment", "cost", "data", "created_at")

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,254}")
_HASH = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
COST_NUMBERS = ("parameters", "param_bytes", "size_bytes", "wall_time_s", "model_time_s", "items", "items_per_s",
                "examples_per_s", "generated_tokens", "tokens_per_s", "latency_p50_s", "latency_p95_s",
                "peak_rss_bytes", "energy_kwh", "co2e_g", "load_time_s", "load_energy_kwh", "predict_time_s")
FUTURE_SKEW = timedelta(days=1)


# -- helpers every reader uses ------------------------------------------------------------------------
def variant_name(record: dict) -> str:
    """``dtype`` or ``dtype+quantize`` of a record's model variant (``?`` if unknown), ``@engine`` added
    when it did not run on transformers (``float32+int8@ctranslate2``)."""
    variant = (record.get("model") or {}).get("variant") or {}
    name = str(variant.get("dtype") or "?")
    if variant.get("quantize"):
        name += f"+{variant['quantize']}"
    if variant.get("engine"):
        name += f"@{variant['engine']}"
    return name


def metric_score(record: dict, metric: str | None) -> float | None:
    """The score of one metric as a float; None when missing, not a number, or NaN."""
    m = (record.get("metrics") or {}).get(metric)
    s = m.get("score") if isinstance(m, dict) else None
    if isinstance(s, bool) or not isinstance(s, (int, float)) or s != s:
        return None
    return float(s)


def primary_score(record: dict) -> float | None:
    return metric_score(record, record.get("primary_metric"))


def benchmark_key(record: dict) -> tuple[str, str, str]:
    """(name, version, hash): results with the same key come from the same benchmark definition."""
    b = record.get("benchmark") or {}
    return str(b.get("name")), str(b.get("version")), str(b.get("hash"))


def definition_facts(record: dict) -> tuple:
    """What one benchmark definition fixes for every result of it: task, primary metric and its
    direction. Records of one ``benchmark_key`` that disagree here are not from the same definition."""
    primary = record.get("primary_metric")
    return record.get("task"), primary, (record.get("higher_is_better") or {}).get(primary, True)


# -- validation ---------------------------------------------------------------------------------------
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


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


def _known_tasks() -> list[str]:
    from ..registry import TASKS

    return TASKS.names()


def _created_problem(value: Any) -> str | None:
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
    if dt > datetime.now(timezone.utc) + FUTURE_SKEW:
        return f"is in the future ({value})"
    return None


def validate_record(obj: Any) -> list[str]:
    """Everything wrong with ``obj`` as a result record, one short phrase each (empty when valid)."""
    if not isinstance(obj, dict):
        return [f"a result record must be a JSON object, not {type(obj).__name__}"]
    problems: list[str] = []

    def bad(path: str, why: str) -> None:
        problems.append(f"{path!r} {why}")

    def need_dict(path: str, value: Any, required: bool = True) -> dict | None:
        """``value`` if it is an object; ``{}`` when optional and absent; None (and a problem) otherwise."""
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            bad(path, "is missing" if value is None else f"must be an object, not {type(value).__name__}")
            return None
        return value

    def need_text(path: str, value: Any, max_len: int = 255, nullable: bool = False) -> None:
        if value is None:
            if not nullable:
                bad(path, "is missing")
            return
        why = text_problem(value, max_len)
        if why:
            bad(path, why)

    schema = obj.get("schema")
    if schema is not None and (not isinstance(schema, int) or isinstance(schema, bool)
                               or not 1 <= schema <= SCHEMA_VERSION):
        bad("schema", f"must be an integer from 1 to {SCHEMA_VERSION}, got {schema!r}")

    run_id = obj.get("run_id")
    if run_id in (None, ""):
        bad("run_id", "is missing")
    elif not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        bad("run_id", "must be letters, digits and ._:- (at most 255)")

    task = obj.get("task")
    if task in (None, ""):
        bad("task", "is missing")
    elif not isinstance(task, str) or task not in _known_tasks():
        shown = task[:40] if isinstance(task, str) else type(task).__name__
        bad("task", f"is not a known task ({shown!r}; known: {', '.join(_known_tasks())})")

    bench = need_dict("benchmark", obj.get("benchmark"))
    if bench is not None:
        need_text("benchmark.name", bench.get("name"))
        version = bench.get("version")
        if version is None:
            bad("benchmark.version", "is missing")
        elif isinstance(version, bool) or not isinstance(version, (int, str)):
            bad("benchmark.version", f"must be an integer or a string, not {type(version).__name__}")
        elif isinstance(version, str):
            need_text("benchmark.version", version, 64)
        elif not -10**63 < version < 10**64:  # the store's column holds 64 characters (PostgreSQL enforces it)
            bad("benchmark.version", "is longer than 64 characters")
        h = bench.get("hash")
        if h is not None and (not isinstance(h, str) or not _HASH.fullmatch(h)):
            bad("benchmark.hash", "must be letters, digits and ._:- (at most 128) or null")

    model = need_dict("model", obj.get("model"))
    if model is not None:
        need_text("model.name", model.get("name"), 512)
        variant = need_dict("model.variant", model.get("variant"), required=False) or {}
        for key in ("dtype", "quantize", "engine"):
            v = variant.get(key)
            need_text(f"model.variant.{key}", v, 64, nullable=True)
            if isinstance(v, str) and ("+" in v or "@" in v):
                bad(f"model.variant.{key}", "must not contain '+' or '@'")
        for key in ("revision", "weights_hash"):
            need_text(f"model.{key}", model.get(key), 255, nullable=True)

    n = obj.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        bad("n", f"must be a non-negative integer, got {n!r}")

    metrics = need_dict("metrics", obj.get("metrics"))
    if metrics == {}:
        bad("metrics", "is empty")
    metrics = metrics or {}
    for name, m in metrics.items():
        why = text_problem(name, 128)
        if why:
            bad("metrics", f"has a bad metric name: {why}")
            continue
        if not isinstance(m, dict):
            bad(f"metrics.{name}", f"must be an object, not {type(m).__name__}")
            continue
        score = m.get("score")
        if not _is_number(score) or not math.isfinite(score) or abs(score) > MAX_ABS_VALUE:
            bad(f"metrics.{name}.score", f"must be a finite number within ±{MAX_ABS_VALUE:g}, got {score!r}"[:120])
        ci = m.get("ci")
        if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(_is_number(x) for x in ci)):
            bad(f"metrics.{name}.ci", "must be [low, high] numbers or null")
        elif ci is not None and not all(math.isfinite(x) and abs(x) <= MAX_ABS_VALUE for x in ci):
            bad(f"metrics.{name}.ci", f"must be finite numbers within ±{MAX_ABS_VALUE:g}, got {ci!r}"[:120])
        for key in ("stats", "extra"):
            if m.get(key) is not None and not isinstance(m[key], dict):
                bad(f"metrics.{name}.{key}", "must be an object")

    primary = obj.get("primary_metric")
    if primary is None:
        bad("primary_metric", "is missing")
    elif not isinstance(primary, str) or (metrics and primary not in metrics):
        bad("primary_metric", f"must name one of the metrics ({', '.join(map(str, metrics)) or 'none'})")

    hib = need_dict("higher_is_better", obj.get("higher_is_better"), required=False) or {}
    for name, v in hib.items():
        if not isinstance(v, bool):
            bad(f"higher_is_better.{name}", "must be true or false")

    for key in ("settings", "environment", "data"):
        need_dict(key, obj.get(key), required=False)
    cost = need_dict("cost", obj.get("cost"), required=False) or {}
    for key in COST_NUMBERS:
        v = cost.get(key)
        if v is not None and (not _is_number(v) or not math.isfinite(v) or v < 0 or v > MAX_ABS_VALUE):
            bad(f"cost.{key}", f"must be a non-negative number or null, got {v!r}"[:120])
    if cost.get("energy_is_estimate") is not None and not isinstance(cost["energy_is_estimate"], bool):
        bad("cost.energy_is_estimate", "must be true, false or null")

    if obj.get("created_at") is not None:
        why = _created_problem(obj["created_at"])
        if why:
            bad("created_at", why)
    return problems


MAX_ABS_VALUE = 1e15  # a score, interval end or cost beyond this is no measurement (1e308 broke the HTML page)


def check_record(obj: Any, where: str = "") -> dict:
    """``obj`` when it is a valid record; else raise ``InputError`` naming ``where`` and the first problems."""
    problems = validate_record(obj)
    if problems:
        rid = obj.get("run_id") if isinstance(obj, dict) else None
        label = where or "result record"
        if isinstance(rid, str) and _RUN_ID.fullmatch(rid):
            label += f" (run {rid})"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"{label}: {problems[0]}{more}")
    return obj

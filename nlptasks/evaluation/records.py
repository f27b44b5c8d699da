"""Helpers that read a result record given as a JSON object, and the record validator's old names.

The schema itself lives in one place, the typed record :class:`nlptasks.evaluation.result.ResultRecord`
(``from_dict`` validates, ``to_dict`` writes back). ``check_record`` and ``validate_record`` are that
check under the names earlier code used; the helpers below take a plain dict (also a partial one, such
as ``{"model": task.model_info()}``) or a ``ResultRecord``.
"""
from __future__ import annotations

from typing import Any

from .result import (  # noqa: F401  (the schema's names, for the code that imports them from here)
    COST_NUMBERS, FUTURE_SKEW, MAX_ABS_VALUE, RECORD_KEYS, SCHEMA_VERSION, ResultRecord, Variant, text_problem)

__all__ = ["COST_NUMBERS", "FUTURE_SKEW", "MAX_ABS_VALUE", "RECORD_KEYS", "SCHEMA_VERSION", "ResultRecord", "text_problem",
           "benchmark_key", "check_record", "definition_facts", "metric_score", "primary_score", "validate_record",
           "variant_name"]


# -- helpers every reader uses ------------------------------------------------------------------------
def variant_name(record: "dict | ResultRecord") -> str:
    """``dtype`` or ``dtype+quantize`` of a record's model variant (``?`` if unknown), ``@engine`` added
    when it did not run on transformers (``float32+int8@ctranslate2``)."""
    if isinstance(record, ResultRecord):
        return record.variant_name
    variant = (record.get("model") or {}).get("variant") or {}
    return Variant.label(variant.get("dtype"), variant.get("quantize"), variant.get("engine"))


def metric_score(record: "dict | ResultRecord", metric: str | None) -> float | None:
    """The score of one metric as a float; None when missing, not a number, or NaN."""
    if isinstance(record, ResultRecord):
        return record.metric_score(metric)
    m = (record.get("metrics") or {}).get(metric)
    s = m.get("score") if isinstance(m, dict) else None
    if isinstance(s, bool) or not isinstance(s, (int, float)) or s != s:
        return None
    return float(s)


def primary_score(record: "dict | ResultRecord") -> float | None:
    if isinstance(record, ResultRecord):
        return record.metric_score(record.primary_metric)
    return metric_score(record, record.get("primary_metric"))


def benchmark_key(record: "dict | ResultRecord") -> tuple[str, str, str]:
    """(name, version, hash): results with the same key come from the same benchmark definition."""
    if isinstance(record, ResultRecord):
        return record.benchmark_key
    b = record.get("benchmark") or {}
    return str(b.get("name")), str(b.get("version")), str(b.get("hash"))


def definition_facts(record: "dict | ResultRecord") -> tuple:
    """What one benchmark definition fixes for every result of it: task, primary metric and its
    direction. Records of one ``benchmark_key`` that disagree here are not from the same definition."""
    if isinstance(record, ResultRecord):
        return record.definition_facts
    primary = record.get("primary_metric")
    return record.get("task"), primary, (record.get("higher_is_better") or {}).get(primary, True)


# -- validation: ResultRecord.from_dict ---------------------------------------------------------------
def validate_record(obj: Any) -> list[str]:
    """Everything wrong with ``obj`` as a result record, one short phrase each (empty when valid)."""
    return ResultRecord.problems(obj)


def check_record(obj: Any, where: str = "") -> dict:
    """``obj`` when it is a valid record; else raise ``InputError`` naming ``where`` and the first problem
    (``ResultRecord.from_dict``)."""
    ResultRecord.from_dict(obj, where)
    return obj

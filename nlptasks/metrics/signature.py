"""A metric's signature: one line naming every setting that changes its score, as sacrebleu's does.

BLEU, chrF and TER (and ``bleu4``) carry sacrebleu's own signature (``extra["signature"]``, computed on the
data: it names the number of references); every other metric gets
``<metric>|<option>:<value>|...|<library>:<version>|nlptasks:<version>`` (``Metric.signature``), its options
being the metric's defaults overridden by the ones given (the bootstrap's resamples and seed change the interval, not the
score, so they are left out). Pure: no torch.
"""
from __future__ import annotations

import inspect
from importlib import metadata
from typing import Callable

# options that change the confidence interval, not the score
NOT_IN_SIGNATURE = ("bootstrap", "seed", "predictions", "references")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def effective_options(fn: Callable | dict, options: dict | None = None) -> dict:
    """The defaults (a function's keyword defaults, or a dict of them) overridden by ``options``, without
    the bootstrap settings."""
    out = {}
    if isinstance(fn, dict):
        out.update(fn)
    else:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            params = ()
        for p in params:
            if p.default is not inspect.Parameter.empty and not p.name.startswith("_"):
                out[p.name] = p.default
    out.update(options or {})
    return {k: v for k, v in out.items() if k not in NOT_IN_SIGNATURE}


def metric_signature(name: str, fn: Callable | dict, options: dict | None = None,
                     versions: dict | None = None, *, library: str | None = None) -> str:
    """``<metric>|<option>:<value>|...|<library>:<version>|nlptasks:<version>`` (``Metric.signature``).

    ``fn`` is the metric's defaults (a dict, or a function whose keyword defaults they are); ``library`` the
    package whose version decides the score (the metric's ``library``). ``versions`` (package -> version,
    as a result record's ``environment``) replaces the installed versions, so a stored record's signature
    names the versions that scored it.
    """
    versions = versions or {}
    parts = [name] + [f"{k}:{_fmt(v)}" for k, v in sorted(effective_options(fn, options).items())]
    lib = library
    if lib:
        parts.append(f"{lib}:{versions.get(lib) or versions.get(lib.replace('-', '_')) or _version(lib)}")
    parts.append(f"nlptasks:{versions.get('nlptasks') or _version('nlptasks')}")
    return "|".join(parts)


def value_signature(name: str, fn: Callable, value, options: dict | None = None) -> str:
    """The signature of one value a metric returned: sacrebleu's when it carries one, else ours. ``fn`` is
    the registered metric (``Metric.value_signature`` of it with ``options``)."""
    if hasattr(fn, "value_signature") and hasattr(fn, "with_options"):  # a nlptasks.metrics.Metric
        return fn.with_options(**(options or {})).value_signature(value)
    extra = getattr(value, "extra", None) or (value.get("extra") if isinstance(value, dict) else None) or {}
    return str(extra.get("signature") or metric_signature(name, fn, options))

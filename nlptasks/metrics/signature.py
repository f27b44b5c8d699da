"""A metric's signature: one line naming every setting that changes its score, as sacrebleu's does.

BLEU, chrF and TER (and ``bleu4``) carry sacrebleu's own signature (``extra["signature"]``, computed on the
data: it names the number of references); every other metric gets
``<metric>|<option>:<value>|...|<library>:<version>|nlptasks:<version>``, its options being the function's
defaults overridden by the ones given (the bootstrap's resamples and seed change the interval, not the
score, so they are left out). Pure: no torch.
"""
from __future__ import annotations

import inspect
from importlib import metadata
from typing import Callable

# options that change the confidence interval, not the score
NOT_IN_SIGNATURE = ("bootstrap", "seed", "predictions", "references")
# the library whose version decides a metric's score, beside nlptasks'
LIBRARIES = {"rouge": "rouge-score"}
SACREBLEU = ("bleu", "chrf", "ter", "bleu4")


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


def effective_options(fn: Callable, options: dict | None = None) -> dict:
    """The function's keyword defaults overridden by ``options`` (without the bootstrap settings)."""
    out = {}
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = ()
    for p in params:
        if p.default is not inspect.Parameter.empty and not p.name.startswith("_"):
            out[p.name] = p.default
    out.update(options or {})
    return {k: v for k, v in out.items() if k not in NOT_IN_SIGNATURE}


def metric_signature(name: str, fn: Callable, options: dict | None = None,
                     versions: dict | None = None) -> str:
    """``<metric>|<option>:<value>|...|<library>:<version>|nlptasks:<version>`` for a non-sacrebleu metric.

    ``versions`` (package -> version, as a result record's ``environment``) replaces the installed
    versions, so a stored record's signature names the versions that scored it.
    """
    versions = versions or {}
    parts = [name] + [f"{k}:{_fmt(v)}" for k, v in sorted(effective_options(fn, options).items())]
    lib = LIBRARIES.get(name)
    if lib:
        parts.append(f"{lib}:{versions.get(lib) or versions.get(lib.replace('-', '_')) or _version(lib)}")
    parts.append(f"nlptasks:{versions.get('nlptasks') or _version('nlptasks')}")
    return "|".join(parts)


def value_signature(name: str, fn: Callable, value, options: dict | None = None) -> str:
    """The signature of one value a metric returned: sacrebleu's when it carries one, else ours."""
    extra = getattr(value, "extra", None) or (value.get("extra") if isinstance(value, dict) else None) or {}
    return str(extra.get("signature") or metric_signature(name, fn, options))

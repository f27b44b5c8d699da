"""Explanations of predictions (``nlptasks run TASK --explain``): token attributions, span alternatives,
sentence decisions, alignments, retrieved neighbours, the HTML page, and ERASER faithfulness.

A task names its explainer with the class attribute ``explainer`` (``"module:function"``, imported
lazily); the function gets ``(task, records, outputs, method)`` and returns one ``explanation`` dict per
output. ``METHODS`` of that module lists the methods it knows (the first is the default).
"""
from __future__ import annotations

import importlib

from ..errors import NlpTasksError


def explainer_of(task_cls):
    """The explainer module of a task class (``None`` when the task has none)."""
    ref = getattr(task_cls, "explainer", "") or ""
    return importlib.import_module(ref) if ref else None


def check_method(task_cls, method: str | None) -> str:
    """The method to use: ``method`` if the task's explainer knows it, else its default; one clear error
    otherwise."""
    mod = explainer_of(task_cls)
    if mod is None:
        raise NlpTasksError(f"task {task_cls.name!r} has no --explain")
    if method is None:
        return mod.METHODS[0]
    if method not in mod.METHODS:
        raise NlpTasksError(f"--explain-method {method!r}: task {task_cls.name!r} explains with "
                            f"{', '.join(mod.METHODS)}")
    return method


def explain(task, records: list[dict], outputs: list[dict], method: str | None = None) -> list[dict]:
    """``outputs`` with an ``explanation`` field added to each (new dicts)."""
    method = check_method(type(task), method)
    found = explainer_of(type(task)).explain(task, records, outputs, method)
    return [{**o, "explanation": e} for o, e in zip(outputs, found)]

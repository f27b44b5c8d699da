"""Hooks through which the backend reports work to the active cost tracker (see ``nlptasks.cost``).

Kept in a tiny module of its own so the backend can report without importing the cost machinery;
every hook is a no-op when no tracker is active.
"""
from __future__ import annotations

import contextvars
from typing import Any

_ACTIVE: contextvars.ContextVar[Any] = contextvars.ContextVar("nlptasks_cost_tracker", default=None)


def active_tracker():
    return _ACTIVE.get()


def set_active(tracker) -> contextvars.Token:
    return _ACTIVE.set(tracker)


def reset_active(token: contextvars.Token) -> None:
    _ACTIVE.reset(token)


def report_batch(items: int, seconds: float) -> None:
    """A batch of ``items`` inputs took ``seconds`` of model time."""
    t = _ACTIVE.get()
    if t is not None:
        t.record_batch(items, seconds)


def report_generated_tokens(n: int) -> None:
    t = _ACTIVE.get()
    if t is not None:
        t.record_generated_tokens(n)


def report_model(model: Any) -> None:
    """A model was loaded for this work: the tracker counts its parameters and size."""
    t = _ACTIVE.get()
    if t is not None:
        t.record_model(model)

"""Checked option types: used as argparse ``type=`` (the CLI refuses a bad value at parse time) and by
:class:`~nlptasks.tasks.base.Task` for the same options given through the Python API.

Each type takes a string (or an already converted value) and returns the value, or raises
``argparse.ArgumentTypeError`` with "must be ..., got X" (argparse prefixes the option name). A leaf
module: standard library only.
"""
from __future__ import annotations

import argparse
import math

from .errors import NlpTasksError


def _checked(fn):
    fn.checks = True
    return fn


def int_at_least(low: int, what: str | None = None):
    what = what or ("a positive integer" if low == 1 else f"an integer >= {low}")

    @_checked
    def parse(value) -> int:
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            v = int(value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {what}, got {value!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be {what}, got {v}")
        return v

    parse.__name__ = "positive_int" if low == 1 else f"int_at_least_{low}"
    return parse


def float_range(low: float, high: float | None = None, *, low_open: bool = False):
    lo = "(" if low_open else "["
    what = f"in {lo}{low:g}, {high:g}]" if high is not None else (f"> {low:g}" if low_open else f">= {low:g}")

    @_checked
    def parse(value) -> float:
        try:
            if isinstance(value, bool):
                raise ValueError
            v = float(value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be a number {what}, got {value!r}") from None
        if not math.isfinite(v) or v < low or (low_open and v == low) or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"must be a number {what}, got {v:g}")
        return v

    parse.__name__ = "number"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0, "an integer >= 0")
unit_interval = float_range(0.0, 1.0)            # [0, 1]
fraction = float_range(0.0, 1.0, low_open=True)  # (0, 1]
positive_float = float_range(0.0, low_open=True)
non_negative_float = float_range(0.0)


def check_value(flag: str, parse, value) -> None:
    """Apply a checked type to an API value (``None`` = not given): one line naming the option."""
    if value is None:
        return
    try:
        parse(value)
    except argparse.ArgumentTypeError as exc:
        raise NlpTasksError(f"{flag} {exc}") from None

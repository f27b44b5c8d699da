"""What every energy source shares: the error that makes the meter fall back to the next source."""
from __future__ import annotations


class SourceUnavailable(Exception):
    """An energy counter that cannot be read (missing, no permission, library absent, stuck at zero).

    Never shown to users: the meter catches it and falls back to the next source.
    """

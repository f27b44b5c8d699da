"""User-facing errors: each one becomes a single line on stderr and a non-zero exit in the CLI."""
from __future__ import annotations


class NlpTasksError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""

    exit_code = 2


class UnknownNameError(NlpTasksError, KeyError):
    """An unknown task, metric, benchmark or model name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


class InputError(NlpTasksError):
    """Bad input data: empty, binary, not UTF-8, malformed JSONL, a missing field."""


class ModelLoadError(NlpTasksError):
    """A model that cannot be resolved or loaded (offline, missing files, wrong class)."""

"""The optional libraries of knowledge-base QA (the ``kb`` extra), imported only when used: a missing
one is one line naming the extra to install."""
from __future__ import annotations

import importlib

from ..errors import NlpTasksError

EXTRA = "kb"


def need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise NlpTasksError(f"knowledge-base QA needs the {module!r} package: pip install 'nlptasks[{EXTRA}]'"
                            ) from None

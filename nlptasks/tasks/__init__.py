"""Built-in task plugins: ``BUILTIN`` (module -> class) and :func:`builtin_tasks`; the task registry
(``nlptasks.registry.TASKS``) registers them on first use. This package imports nothing above it."""
from __future__ import annotations

import importlib

# module name -> class name; imported lazily so task modules stay light (no torch at import)
BUILTIN = {
    "sentiment": "SentimentTask",
    "summarize": "SummarizeTask",
    "translate": "TranslateTask",
    "qa": "QATask",
    "chat": "ChatTask",
}



def builtin_tasks() -> list[type]:
    """The built-in task classes (each module imported; no torch at import)."""
    return [getattr(importlib.import_module(f"{__name__}.{module}"), cls) for module, cls in BUILTIN.items()]

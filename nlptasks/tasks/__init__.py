"""Built-in task plugins; importing this package registers them."""
from __future__ import annotations

import importlib

from ..registry import TASKS

# module name -> class name; imported lazily so task modules stay light (no torch at import)
BUILTIN = {
    "sentiment": "SentimentTask",
    "summarize": "SummarizeTask",
    "translate": "TranslateTask",
    "qa": "QATask",
    "chat": "ChatTask",
}

for _module, _cls in BUILTIN.items():
    _task = getattr(importlib.import_module(f"{__name__}.{_module}"), _cls)
    TASKS.register(_task.name, _task, aliases=_task.aliases)

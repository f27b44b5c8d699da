"""The Python API behind ``nlptasks run``: load a task plugin and predict."""
from __future__ import annotations

from typing import Iterable

from .registry import TASKS
from .tasks.base import Task


def task_class(name: str) -> type[Task]:
    """The task plugin class for a name or alias (unknown names list the known ones)."""
    return TASKS.get(name)


def load_task(task: str, model: str | None = None, **kwargs) -> Task:
    """Create a task with a model (default: the task's default model). Loading happens on first use."""
    return task_class(task)(model, **kwargs)


def run(task: str | Task, inputs: Iterable[dict | str], model: str | None = None, **kwargs) -> list[dict]:
    """Predict for ``inputs`` (dicts with the task's input fields, or plain strings for its main field).

    >>> run("sentiment", ["a wonderful film"])   # doctest: +SKIP
    [{'label': 'positive', 'score': 0.98}]
    """
    t = task if isinstance(task, Task) else load_task(task, model, **kwargs)
    records = [x if isinstance(x, dict) else {t.text_field: x} for x in inputs]
    return t.predict(records)

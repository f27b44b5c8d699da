"""The Python API that describes the registered task plugins: their names (as registered, plugins
included) and what ``--explain`` can do for each. The CLI builds one ``nlptasks run TASK`` parser per
entry.

>>> [name for name, _ in registered_tasks()]   # doctest: +SKIP
['chat', 'qa', 'sentiment', 'summarize', 'translate']
>>> explain_methods("sentiment")                # doctest: +SKIP
('integrated_gradients', 'occlusion')
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tasks.base import Task


def registered_tasks() -> list[tuple[str, "type[Task]"]]:
    """``(name, task class)`` of every registered task plugin, sorted by name; the name is the one it
    is registered under (a plugin's entry-point name), aliases not repeated."""
    from .registry import TASKS

    return list(TASKS.items())


def explain_methods(task: "str | type[Task]") -> tuple[str, ...] | None:
    """The ``--explain-method`` choices of a task (a name, alias or class), the default first; ``None``
    when the task has no explainer."""
    from .explain import explainer_of
    from .registry import TASKS

    mod = explainer_of(TASKS.get(task) if isinstance(task, str) else task)
    return None if mod is None else tuple(mod.METHODS)

"""The Python API behind ``nlptasks run``: load a task plugin and predict, for records in memory
(:func:`run`) or a file (:func:`run_file`, what the CLI calls)."""
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


def run_file(task: str | type[Task], input_path: str | None = None, output_path: str | None = None, *,
             model: str | None = None, input_format: str = "auto", field: str | None = None,
             output_format: str | None = None, cost: bool = False, country: str | None = None,
             grid_intensity: float | None = None, overwrite_fields: bool = False,
             prediction_prefix: str | None = None, explain_html: str | None = None, **kwargs) -> int:
    """Run ``task`` over a file (``input_path``; None or "-": stdin) and write the outputs to
    ``output_path`` (None or "-": stdout), as ``nlptasks run`` does: the same checks (output path,
    options, model name, the first chunk of input) before the model loads, the input streamed in bounded
    chunks, an output file written atomically. ``input_format``: "auto", "text" or "jsonl";
    ``output_format``: "text" or "jsonl" (default: the input's); ``field``: the JSON Lines field holding
    the input; ``cost``: print a cost summary on stderr; ``explain=True`` (``explain_method``) adds an
    ``explanation`` to each output and ``explain_html`` writes them as one HTML page (docs/guide/explain.md).
    JSON Lines output keeps the input's fields: one
    that a prediction would replace is refused unless ``overwrite_fields``, or the predictions are
    written as ``prediction_prefix`` + name (see ``docs/guide/reliability.md``). Other keyword arguments are model settings
    (``device``, ``dtype``, ``batch_size``, ...) and task options. Returns 0.

    >>> run_file("sentiment", "reviews.txt", "labels.jsonl", output_format="jsonl")   # doctest: +SKIP
    0
    """
    from .runner import run_file as run_chunked

    cls = task if isinstance(task, type) else task_class(task)
    if explain_html is not None:
        kwargs["explain"] = True
    return run_chunked(cls, input_path=input_path, input_format=input_format, field=field, output=output_path,
                       output_format=output_format, show_cost=cost, model=model, options=kwargs,
                       cost_options={"country": country, "grid_intensity": grid_intensity},
                       overwrite_fields=overwrite_fields, prediction_prefix=prediction_prefix,
                       explain_html=explain_html)

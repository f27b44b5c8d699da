"""The Python API behind ``nlptasks run``: load a task plugin and predict, for records in memory
(:func:`run`) or a file (:func:`run_file`, what the CLI calls)."""
from __future__ import annotations

from typing import Iterable

from .registry import TASKS
from .tasks.base import Task


def task_class(name: str) -> type[Task]:
    """The task plugin class for a name or alias (unknown names list the known ones)."""
    return TASKS.get(name)


def task_classes(task: str | None = None) -> list[type[Task]]:
    """Every registered task plugin class, by name (or the one called ``task``, aliases accepted)."""
    if task is not None:
        return [task_class(task)]
    return [cls for _, cls in TASKS.items()]


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


class ChatSession:
    """A conversation with a chat model, as ``nlptasks chat`` holds it: each :meth:`reply` adds the user's
    turn and the model's response to the history; when the prompt would not fit the model's context,
    the oldest turns are dropped (the reply's ``dropped_turns`` says how many). ``model`` and keyword
    arguments as for :func:`load_task`.

    >>> s = ChatSession().load()                         # doctest: +SKIP
    >>> s.reply("Hello, how are you?")["response"]       # doctest: +SKIP
    """

    def __init__(self, model: str | None = None, **kwargs):
        self.task = load_task("chat", model, **kwargs)
        self.history: list[str] = []

    @property
    def model_name(self) -> str:
        return self.task.model_name

    def load(self) -> "ChatSession":
        """Load the model now (a missing model fails here, before the first turn)."""
        self.task.load()
        return self

    def reset(self) -> None:
        self.history = []

    def reply(self, text: str) -> dict:
        """The model's output for the user's turn ``text`` (``response``, ``dropped_turns``, ...)."""
        self.history.append(text)
        out = self.task.predict([{"history": list(self.history)}])[0]
        if out.get("dropped_turns"):
            self.history = self.history[out["dropped_turns"]:]
        self.history.append(out["response"])
        return out


# -- evaluation ------------------------------------------------------------------------------------------
def benchmark_for(name: str, *, data: str | None = None, columns: dict | None = None,
                  reference_field: str | None = None, source_lang: str | None = None,
                  target_lang: str | None = None):
    """The benchmark ``nlptasks eval NAME`` evaluates: a benchmark name or YAML path; with ``data`` (a
    file), an ad-hoc benchmark of task ``name`` over it. A task name without ``data`` is answered with
    its benchmarks."""
    from .errors import NlpTasksError
    from .evaluation.definitions import BENCHMARKS, adhoc_benchmark, get_benchmark

    if data:
        if name not in TASKS:
            raise NlpTasksError(f"with --data the first argument is a task; {name!r} is not one "
                                f"(tasks: {', '.join(TASKS.names())})")
        return adhoc_benchmark(name, data, columns=columns, reference_field=reference_field,
                               source_lang=source_lang, target_lang=target_lang)
    if name not in BENCHMARKS and name in TASKS and not name.endswith(".yaml"):
        cls = TASKS.get(name)
        names = [n for n, b in BENCHMARKS.items() if b.task == cls.name]
        raise NlpTasksError(f"{name!r} is a task: pass --data FILE for ad-hoc data, or evaluate one "
                            f"of its benchmarks: {', '.join(names) or 'none'}")
    return get_benchmark(name)


def evaluate(benchmark, model: str | None = None, **kwargs) -> dict | None:
    """Evaluate ``model`` on ``benchmark`` (a name, YAML path or :func:`benchmark_for`'s result); returns
    the result record (see :func:`nlptasks.evaluation.engine.evaluate` for the keywords)."""
    from .evaluation.engine import evaluate as _evaluate

    return _evaluate(benchmark, model, **kwargs)


def format_result(record: dict) -> str:
    """A result record as the table ``nlptasks eval`` prints (with the reference-metric cross-check)."""
    from .evaluation.engine import format_table
    from .evaluation.reference_metrics import format_reference

    return format_table(record) + format_reference(record)


def run_suite(suite, **kwargs) -> list:
    """Run an evaluation suite (a YAML file); see :func:`nlptasks.evaluation.suites.run_suite`."""
    from .evaluation.suites import run_suite as _run_suite

    return _run_suite(suite, **kwargs)


def leaderboard(store=None, **kwargs) -> str:
    """Render a leaderboard; see :func:`nlptasks.leaderboard.leaderboard`."""
    from .leaderboard import leaderboard as _leaderboard

    return _leaderboard(store, **kwargs)


def finetune(task: str, model: str, train: str, validation: str | None = None, output: str = "finetuned-model",
             **settings) -> dict:
    """Fine-tune ``model`` for ``task`` (what ``nlptasks finetune`` runs); keywords are those of
    :class:`nlptasks.training.settings.FinetuneSettings`. Returns the result record.

    >>> finetune("sentiment", "minilm", "train.jsonl", "validation.jsonl", output="out", epochs=1)  # doctest: +SKIP
    """
    from .training.trainer import finetune as _finetune

    return _finetune(task, model, train, validation, output, **settings)


def distill(task: str, teacher: str, train: str, validation: str | None = None, output: str = "distilled-model",
            **settings) -> dict:
    """Distil ``teacher`` into a smaller student (what ``nlptasks distill`` runs); see
    :func:`nlptasks.training.distillation.distill`. Returns the result record."""
    from .training.distillation import distill as _distill

    return _distill(task, teacher, train, validation, output, **settings)

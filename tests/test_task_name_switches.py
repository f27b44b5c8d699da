"""No code outside the task plugins switches on a task's name: what differs between tasks is an attribute or a
method of the task class (``Task.predicts_labels``, the options a task declares), so a third-party task gets
the same treatment as a built-in one. ``nlptasks/serve`` is left out of the scan (its routes are named after
the tasks they serve, e.g. ``/v1/chat/completions``), and so is ``nlptasks/tasks`` (a plugin knows its name)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nlptasks"
SKIP = ("tasks", "serve")


def _task_names() -> set[str]:
    from nlptasks.registry import TASKS

    names = set()
    for name in TASKS.names():
        cls = TASKS.get(name)
        names.update({cls.name, *cls.aliases})
    return names


def test_no_comparison_with_a_task_name_outside_the_plugins():
    names = _task_names()
    assert {"sentiment", "translate", "chat"} <= names
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in SKIP:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            sides = (node.left, *node.comparators)
            # compared: a task name (a constant, or one in a tuple/list/set) with something named like a task
            # (``task_name``, ``cls.name``, ``task``); a data field of the same spelling (``"translation" in r``)
            # is not a switch
            named = [s for s in sides if not isinstance(s, ast.Constant)
                     and ("task" in ast.unparse(s).lower() or "name" in ast.unparse(s).lower())]
            for side in sides:
                values = [side] if isinstance(side, ast.Constant) else list(getattr(side, "elts", []))
                if named and any(isinstance(v, ast.Constant) and v.value in names for v in values):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "task-name switches:\n" + "\n".join(found)


def test_label_normalisation_follows_the_task_attribute(tmp_path):
    """Evaluation normalises labels for any task that ``predicts_labels`` (sentiment, a plugin), not by name."""
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation.engine import _is_classification
    from nlptasks.tasks.base import Task
    from nlptasks.tasks.sentiment import SentimentTask
    from nlptasks.tasks.translate import TranslateTask

    class Topic(Task):
        name = "topic-plugin"
        predicts_labels = True

    data = tmp_path / "pairs.jsonl"
    data.write_text('{"translation": {"en": "a cat", "de": "eine Katze"}}\n', encoding="utf-8")
    bench = adhoc_benchmark("translate", str(data))  # a benchmark without label names
    assert not bench.label_names
    assert _is_classification(bench, SentimentTask) and _is_classification(bench, Topic)
    assert not _is_classification(bench, TranslateTask)


def test_adhoc_language_pair_goes_to_tasks_that_take_one(tmp_path):
    """``eval TASK --data FILE`` passes the language pair as task options to a task that declares them."""
    from nlptasks.evaluation.definitions import adhoc_benchmark

    data = tmp_path / "d.jsonl"
    data.write_text('{"translation": {"en": "a cat", "fr": "un chat"}, "text": "a cat", "label": 1}\n',
                    encoding="utf-8")
    assert adhoc_benchmark("translate", str(data), target_lang="fr").definition["task_options"] == \
        {"source_lang": "en", "target_lang": "fr"}
    assert adhoc_benchmark("sentiment", str(data)).definition["task_options"] == {}

"""The generic registry: names, aliases, unknown names listing known ones, entry-point plugins."""
from importlib import metadata

import pytest

from nlptasks.errors import UnknownNameError
from nlptasks.registry import TASKS, Registry
from nlptasks.tasks.base import Task


def test_builtin_tasks_and_aliases():
    assert {"sentiment", "summarize"} <= set(TASKS.names())
    assert TASKS.get("summarization") is TASKS.get("summarize")
    assert TASKS.get("sentiment-analysis").name == "sentiment"


def test_unknown_name_lists_known_and_suggests():
    with pytest.raises(UnknownNameError) as e:
        TASKS.get("summarise")
    msg = str(e.value)
    assert "Known tasks:" in msg and "sentiment" in msg and "Did you mean 'summarize'" in msg


class ReverseTask(Task):
    name = "reverse"
    aliases = ("rev",)
    input_fields = ("text",)
    output_fields = ("reversed",)

    def _load(self):
        pass

    def _predict(self, records):
        return [{"reversed": r["text"][::-1]} for r in records]


def test_entry_point_plugins_are_loaded(monkeypatch):
    ep = metadata.EntryPoint(name="reverse", value="test_registry:ReverseTask", group="nlptasks.tasks")
    real = metadata.entry_points

    def fake(**kw):
        return [ep] if kw.get("group") == "nlptasks.tasks" else real(**kw)

    monkeypatch.setattr(metadata, "entry_points", fake)
    reg = Registry("task", "nlptasks.tasks")
    assert reg.get("rev") is ReverseTask
    assert reg.get("reverse")("x").predict([{"text": "abc"}]) == [{"reversed": "cba"}]


def test_broken_plugin_does_not_break_registry(monkeypatch):
    ep = metadata.EntryPoint(name="broken", value="no_such_module_xyz:Thing", group="nlptasks.tasks")
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: [ep])
    reg = Registry("task", "nlptasks.tasks")
    assert reg.names() == []


def test_duplicate_registration_rejected():
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError):
        reg.register("a", 2)

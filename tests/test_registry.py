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


def test_a_failing_builtin_loader_fails_every_lookup():
    calls = []

    def loader():
        calls.append(1)
        raise ModuleNotFoundError("No module named 'nlptasks.tasks.gone'", name="nlptasks.tasks.gone")

    r = Registry("thing", loader=loader)
    for _ in range(2):  # not an 'unknown thing' on the second lookup: the real error each time
        with pytest.raises(ModuleNotFoundError, match="nlptasks.tasks.gone"):
            r.get("a")
    assert len(calls) == 2


_BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {name!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


@pytest.mark.parametrize("missing,code", [
    ("nlptasks.tasks.qa", "from nlptasks.registry import TASKS; TASKS.names()"),
    ("nlptasks.cli.cmd_models", "from nlptasks.cli import build_parser; build_parser()"),
])
def test_a_missing_builtin_module_is_an_error_not_skipped(missing, code):
    """A built-in task or command module that cannot be imported fails loudly (no 'not built yet' skip)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _BLOCK.format(name=missing) + code], capture_output=True, text=True)
    assert r.returncode != 0 and f"No module named '{missing}'" in r.stderr, r.stderr

"""Metric metadata has one home, the registered metric (``nlptasks.registry.METRICS``, a
``nlptasks.metrics.Metric``): a plugin metric that declares lower-is-better is honoured by evaluation,
benchmark checks and training's best checkpoint, whether it is a ``Metric`` subclass or a function with an
``info`` dict (the old way, deprecated)."""
from __future__ import annotations

import json

import pytest

from nlptasks.metrics import Metric, MetricValue
from nlptasks.registry import METRICS, TASKS, higher_is_better, metric_info

SCRIPT = [30.0, 10.0, 40.0, 20.0]  # scores of the successive evaluations, then 25 for any later call


class ScriptedErrorRate:
    """A plugin metric the old way (a function with an ``info`` dict), lower is better. Its values are
    scripted per call (the selection of the best checkpoint is under test, not the metric)."""

    info = {"produces": ["error_rate"], "higher_is_better": {"error_rate": False},
            "description": "percentage of wrong labels (test double)"}

    def __init__(self):
        self.calls = 0

    def __call__(self, predictions, references, **options):
        value = SCRIPT[self.calls] if self.calls < len(SCRIPT) else 25.0
        self.calls += 1
        return {"error_rate": MetricValue(value, {"kind": "mean", "sum": value, "n": 1})}


class ErrorRate(Metric):
    """A plugin metric class, lower is better, scripted like ``ScriptedErrorRate`` (the calls are counted on
    the class: the registry and ``with_options`` make instances)."""

    name = "error_rate"
    produces = ("error_rate",)
    higher_is_better = False
    description = "percentage of wrong labels (test double)"
    calls = 0

    def compute(self, predictions, references=None):
        value = SCRIPT[ErrorRate.calls] if ErrorRate.calls < len(SCRIPT) else 25.0
        ErrorRate.calls += 1
        return {"error_rate": MetricValue(value, {"kind": "mean", "sum": value, "n": 1})}


def _err_topic():
    from toy_topic import TopicTask

    class ErrTopic(TopicTask):
        name = "errtopic"
        aliases = ()
        metrics = ("error_rate",)
        primary_metric = "error_rate"

    return ErrTopic


@pytest.fixture
def plugin(monkeypatch):
    ErrTopic = _err_topic()
    TASKS.names(), METRICS.names()  # the built-ins first
    metric = ScriptedErrorRate()
    monkeypatch.setitem(METRICS._items, "error_rate", metric)
    monkeypatch.setitem(TASKS._items, "errtopic", ErrTopic)
    return ErrTopic, metric


@pytest.fixture
def plugin_class(monkeypatch):
    """``ErrorRate`` registered through ``METRICS.register``, the way an entry point adds it."""
    ErrTopic = _err_topic()
    TASKS.names(), METRICS.names()
    monkeypatch.setattr(ErrorRate, "calls", 0)
    monkeypatch.setitem(TASKS._items, "errtopic", ErrTopic)
    METRICS.register("error_rate", ErrorRate)
    yield ErrTopic
    METRICS._items.pop("error_rate", None)
    METRICS._originals.pop("error_rate", None)


def test_metadata_of_a_plugin_metric_is_read_in_one_place(plugin):
    from nlptasks.training.families import training_spec

    cls, _ = plugin
    with pytest.warns(DeprecationWarning, match="Metric subclass"):
        wrapped = METRICS.get("error_rate")  # the function, wrapped into a Metric
    assert isinstance(wrapped, Metric) and wrapped.higher_is_better_for("error_rate") is False
    assert metric_info("error_rate")["produces"] == ["error_rate"]
    assert higher_is_better("error_rate") is False and higher_is_better("accuracy") is True
    assert higher_is_better("ter") is False
    spec = training_spec(cls)
    assert spec.metric_function == "error_rate" and spec.greater_is_better is False


def test_a_registered_metric_class_sets_the_trainers_direction(plugin_class):
    from nlptasks.training.families import training_spec

    assert isinstance(METRICS.get("error_rate"), ErrorRate) and higher_is_better("error_rate") is False
    spec = training_spec(plugin_class)
    assert spec.metric_function == "error_rate" and spec.greater_is_better is False


def test_best_checkpoint_of_a_lower_is_better_plugin_metric(plugin_class, tiny_models, tmp_path, monkeypatch):
    from transformers import TrainingArguments

    from nlptasks.api import finetune

    from train_data import write_jsonl

    seen = []
    original_init = TrainingArguments.__init__

    def spy(self, *args, **kwargs):  # the direction the Trainer is given
        seen.append(kwargs.get("greater_is_better"))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(TrainingArguments, "__init__", spy)

    rows = [{"sentence": s, "topic": t} for s, t in [("the cat sees a book.", "english"),
                                                      ("Wie geht es dir?", "german")] * 2]
    data = write_jsonl(tmp_path / "topics.jsonl", rows)
    result = finetune("errtopic", str(tiny_models["bert-cls"]), data, data, str(tmp_path / "out"), new_head=True,
                      max_steps=4, eval_steps=1, batch_size=4, logging_steps=1, seed=0, device="cpu")
    during = [h["error_rate"] for h in result["history"][:-1]]
    assert during == [30.0, 10.0, 40.0, 20.0]
    assert result["metric_for_best"] == "eval_error_rate"
    assert seen == [False]  # TrainingArguments(greater_is_better=False), from the registered metric
    assert result["best_checkpoint"] == 2  # the lowest error rate (higher-is-better would pick step 3)
    saved = json.loads((tmp_path / "out" / "training_result.json").read_text())
    assert saved["best_checkpoint"] == 2

"""Metric metadata has one home (``nlptasks.registry.metric_info``): a plugin metric that declares
lower-is-better is honoured by evaluation, benchmark checks and training's best checkpoint."""
from __future__ import annotations

import json

import pytest

from nlptasks.metrics import MetricValue
from nlptasks.registry import METRICS, TASKS, higher_is_better, metric_info


class ScriptedErrorRate:
    """A plugin metric, lower is better. Its values are scripted per call (the selection of the best
    checkpoint is under test, not the metric): 30, 10, 40, 20, then 25 for any later call."""

    info = {"produces": ["error_rate"], "higher_is_better": {"error_rate": False},
            "description": "percentage of wrong labels (test double)"}

    def __init__(self):
        self.calls = 0

    def __call__(self, predictions, references, **options):
        script = [30.0, 10.0, 40.0, 20.0]
        value = script[self.calls] if self.calls < len(script) else 25.0
        self.calls += 1
        return {"error_rate": MetricValue(value, {"kind": "mean", "sum": value, "n": 1})}


@pytest.fixture
def plugin(monkeypatch):
    from toy_topic import TopicTask

    class ErrTopic(TopicTask):
        name = "errtopic"
        aliases = ()
        metrics = ("error_rate",)
        primary_metric = "error_rate"

    TASKS.names(), METRICS.names()  # the built-ins first
    metric = ScriptedErrorRate()
    monkeypatch.setitem(METRICS._items, "error_rate", metric)
    monkeypatch.setitem(TASKS._items, "errtopic", ErrTopic)
    return ErrTopic, metric


def test_metadata_of_a_plugin_metric_is_read_in_one_place(plugin):
    from nlptasks.training.families import training_spec

    cls, _ = plugin
    assert metric_info("error_rate")["produces"] == ["error_rate"]
    assert higher_is_better("error_rate") is False and higher_is_better("accuracy") is True
    assert higher_is_better("ter") is False
    spec = training_spec(cls)
    assert spec.metric_function == "error_rate" and spec.greater_is_better is False


def test_best_checkpoint_of_a_lower_is_better_plugin_metric(plugin, tiny_models, tmp_path):
    from nlptasks.api import finetune

    from train_data import write_jsonl

    rows = [{"sentence": s, "topic": t} for s, t in [("the cat sees a book.", "english"),
                                                      ("Wie geht es dir?", "german")] * 2]
    data = write_jsonl(tmp_path / "topics.jsonl", rows)
    result = finetune("errtopic", str(tiny_models["bert-cls"]), data, data, str(tmp_path / "out"), new_head=True,
                      max_steps=4, eval_steps=1, batch_size=4, logging_steps=1, seed=0, device="cpu")
    during = [h["error_rate"] for h in result["history"][:-1]]
    assert during == [30.0, 10.0, 40.0, 20.0]
    assert result["metric_for_best"] == "eval_error_rate"
    assert result["best_checkpoint"] == 2  # the lowest error rate (higher-is-better would pick step 3)
    saved = json.loads((tmp_path / "out" / "training_result.json").read_text())
    assert saved["best_checkpoint"] == 2

"""Three-class sentiment: label rules between a model's labels and a benchmark's, checkpoint selection by
macro recall, and the packaged three-class default (minilm-sentiment3-lora)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlptasks.errors import InputError

THREE = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def three_class_model(tiny_models, tmp_path_factory):
    """The tiny BERT classifier with a three-label head (negative/neutral/positive)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("three") / "bert-cls3"
    m = AutoModelForSequenceClassification.from_pretrained(
        tiny_models["bert-cls"], num_labels=3, id2label=dict(enumerate(THREE)),
        label2id={n: i for i, n in enumerate(THREE)}, ignore_mismatched_sizes=True)
    m.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_models["bert-cls"]).save_pretrained(out)
    return out


def _bench(tmp_path: Path, labels: list[str], golds: list[int]) -> Path:
    texts = ["the cat sat on the mat", "a fine day", "a dull film", "it is raining", "so good", "bad", "ok then",
             "the end"]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": g}) + "\n" for t, g in zip(texts, golds)))
    y = tmp_path / f"b{len(labels)}.yaml"
    y.write_text(f"name: b{len(labels)}\ntask: sentiment\nversion: 1\ndataset:\n  path: json\n  data_files: {data}\n"
                 f"columns:\n  text: text\nreferences: label\nlabel_names: [{', '.join(labels)}]\n"
                 f"metrics: [macro_recall, accuracy]\nprimary_metric: macro_recall\n")
    return y


def _eval(bench, model, **kw):
    from nlptasks.evaluation.engine import evaluate

    return evaluate(str(bench), model, device="cpu", store=False, cache=False, **kw)


def test_three_class_model_on_a_binary_benchmark_predicts_its_labels_only(three_class_model, tmp_path):
    from nlptasks.tasks.sentiment import SentimentTask

    rec = _eval(_bench(tmp_path, ["negative", "positive"], [0, 1, 0, 1, 1, 0, 1, 0]), str(three_class_model),
                log_samples=False)
    rule = rec["settings"]["label_rule"]
    assert "negative/positive" in rule and "neutral never predicted" in rule
    # the task after the rule: neutral never comes out, the two scores sum to 1
    task = SentimentTask(str(three_class_model), device="cpu", all_scores=True)
    task.load()
    from nlptasks.evaluation.definitions import get_benchmark
    from nlptasks.evaluation.engine import LabelNormaliser

    norm = LabelNormaliser(get_benchmark(str(tmp_path / "b2.yaml")))
    free = task.predict([{"text": t} for t in ["a", "b c", "d e f"]])
    task.fit_label_space("b2", norm.names, norm)
    fitted = task.predict([{"text": t} for t in ["a", "b c", "d e f"]])
    for f, g in zip(free, fitted):
        assert set(g["scores"]) == {"negative", "positive"} and g["label"] != "neutral"
        assert sum(g["scores"].values()) == pytest.approx(1.0)
        pair = {k: f["scores"][k] for k in ("negative", "positive")}
        assert g["label"] == max(pair, key=pair.get)


def test_binary_model_on_a_three_class_benchmark_is_refused_or_scored_on_request(tiny_models, tmp_path):
    bench = _bench(tmp_path, THREE, [0, 1, 2, 1, 2, 0, 1, 1])
    with pytest.raises(InputError, match=r"also has neutral.*missing_labels=score"):
        _eval(bench, str(tiny_models["bert-cls"]))
    rec = _eval(bench, str(tiny_models["bert-cls"]), missing_labels="score")
    assert rec["settings"]["label_rule"] == "missing labels scored: the model never predicts neutral"
    assert rec["metrics"]["macro_recall"]["score"] <= 100 * 2 / 3 + 1e-9  # neutral's recall is 0


def test_same_labels_record_no_rule_and_majority_is_scored_on_three_classes(three_class_model, tmp_path):
    bench = _bench(tmp_path, THREE, [0, 1, 2, 1, 2, 0, 1, 1])
    assert "label_rule" not in _eval(bench, str(three_class_model))["settings"]
    rec = _eval(bench, "majority")
    assert "label_rule" not in rec["settings"]
    assert rec["metrics"]["accuracy"]["score"] == pytest.approx(100 * 2 / 8)  # always positive


def test_checkpoints_are_chosen_by_macro_recall_with_three_labels():
    from nlptasks.training.families import training_spec

    spec = training_spec("sentiment")
    assert spec.metric_key == "accuracy"  # labels not known yet / binary: the task's primary metric
    spec.num_labels = 2
    assert spec.metric_key == "accuracy"
    spec.num_labels = 3
    assert spec.metric_key == "macro_recall" and spec.metric_function == "macro_recall"
    scores = spec.score([0, 0, 2, 2], [0, 1, 2, 2])
    assert scores["macro_recall"] == pytest.approx(100 * 2 / 3) and scores["accuracy"] == pytest.approx(75.0)
    assert "f1" in scores

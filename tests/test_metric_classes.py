"""Metrics as classes in sacrebleu's shape (``nlptasks.metrics.Metric``): every registered metric says what it
is, its sufficient statistics merge across shards to the whole corpus's score, it signs its settings, and a
plugin class registered in the one registry is asked by evaluation like a built-in."""
from __future__ import annotations

import warnings

import pytest

from nlptasks.metrics import Metric, MetricValue
from nlptasks.registry import METRICS

TEXT_P = ["The cat sat on the mat.", "A quick brown fox jumps over the lazy dog.", "It is raining today.",
          "He went to the market to buy apples.", "Der Hund bellt laut."]
TEXT_R = ["The cat is sitting on the mat.", "The quick brown fox jumped over the lazy dog.", "Today it rains.",
          "He went to the market and bought apples.", "Der Hund bellte laut."]
LABEL_P, LABEL_R = [0, 2, 2, 1, 1, 0, 1, 2], [0, 1, 2, 2, 1, 0, 0, 2]
# one (predictions, references) corpus per built-in metric
CORPUS = {
    "bleu": (TEXT_P, TEXT_R), "chrf": (TEXT_P, TEXT_R), "ter": (TEXT_P, TEXT_R), "rouge": (TEXT_P, TEXT_R),
    "bleu4": (TEXT_P, TEXT_R), "unigram_f1": (TEXT_P, TEXT_R), "distinct": (TEXT_P, None),
    "accuracy": (LABEL_P, LABEL_R), "f1": (LABEL_P, LABEL_R), "mcc": (LABEL_P, LABEL_R),
    "macro_recall": (LABEL_P, LABEL_R),
    "squad": (["the cat", "fox", "rain", "apples", "Hund"], [["cat"], ["a fox"], ["rains"], ["apples"], ["Hund"]]),
    "squad_v2": (["the cat", "", "rain", "", "Hund"], [["cat"], [], ["rains"], ["apples"], []]),
    "retrieval_recall": ([["the cat sat"], ["no"], ["it rains a lot", "x"], [], ["Hund"]],
                         [["cat"], ["fox"], ["rains"], ["apples"], ["Hund"]]),
    "perplexity": ([{"nll": 3.0, "tokens": 2}, {"nll": 1.5, "tokens": 1}, {"nll": 7.0, "tokens": 4},
                    {"nll": 2.0, "tokens": 3}, {"nll": 0.5, "tokens": 1}], None),
}


def test_every_registered_metric_is_a_metric_with_a_corpus_here():
    names = METRICS.names()
    assert set(CORPUS) == set(names)  # a new built-in metric needs a corpus in this test
    for name in names:
        metric = METRICS.get(name)
        assert isinstance(metric, Metric) and metric.name == name and metric.produces
        assert {metric.higher_is_better_for(v) for v in metric.produces} <= {True, False}
    assert METRICS.get("ter").higher_is_better_for("ter") is False
    assert METRICS.get("perplexity").higher_is_better_for("perplexity") is False
    assert all(METRICS.get("rouge").higher_is_better_for(v) for v in ("rouge1", "rouge2", "rougeL", "rougeLsum"))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_statistics_merge_to_the_whole_corpus_score(name):
    metric = METRICS.get(name)
    preds, refs = CORPUS[name]
    whole = metric(preds, refs, bootstrap=0)
    stats = metric.statistics(preds, refs)
    assert set(stats) == set(whole) and set(whole) <= set(metric.produces)
    assert metric.score(stats) == pytest.approx({k: v.score for k, v in whole.items()}, abs=1e-9)
    shards = [(preds[:2], refs[:2] if refs else None), (preds[2:], refs[2:] if refs else None)]
    if name == "squad_v2":  # the HasAns/NoAns values exist only in shards that hold such questions
        shards = [(preds[:3], refs[:3]), (preds[3:], refs[3:])]
    parts = [metric.statistics(p, r) for p, r in shards]
    if not metric.aggregatable:
        with pytest.raises(ValueError):
            metric.merge(parts)
        return
    merged = metric.score(metric.merge(parts))
    assert merged == pytest.approx({k: whole[k].score for k in merged}, abs=1e-9)


def test_with_options_and_signature_name_the_settings():
    rouge = METRICS.get("rouge")
    only_l = rouge.with_options(rouge_types=["rougeL"], use_stemmer=False)
    assert type(only_l) is type(rouge) and only_l is not rouge and rouge.options == {}
    assert set(only_l.compute(TEXT_P, TEXT_R)) == {"rougeL"}
    sig = only_l.signature()
    assert sig.startswith("rouge|") and "rouge_types:rougeL" in sig and "use_stemmer:no" in sig
    assert "rouge-score:" in sig and "|nlptasks:" in sig
    assert "use_stemmer:yes" in rouge.signature()
    assert only_l.signature(versions={"rouge-score": "0.0.1", "nlptasks": "9.9"}).endswith(
        "rouge-score:0.0.1|nlptasks:9.9")
    bleu = METRICS.get("bleu")
    value = bleu.compute(TEXT_P, TEXT_R)["bleu"]
    assert bleu.value_signature(value).startswith("nrefs:1|")  # sacrebleu's own, computed on the data
    assert METRICS.get("bleu").with_options(tokenize="char").compute(TEXT_P, TEXT_R)["bleu"].score != value.score


class NegativeEditRate(Metric):
    """A plugin metric: two values, one lower-is-better, with sufficient statistics (mean kind)."""

    name = "toy_edit_rate"
    produces = ("edit_rate", "exact")
    higher_is_better = {"edit_rate": False}
    description = "share of examples that differ, and of those that match (x100)"

    def compute(self, predictions, references=None):
        same = [100.0 * (p == r) for p, r in zip(predictions, references)]
        return {"edit_rate": MetricValue(100.0 - sum(same) / len(same),
                                         {"kind": "mean", "sum": 100.0 * len(same) - sum(same), "n": len(same)}),
                "exact": MetricValue(sum(same) / len(same), {"kind": "mean", "sum": sum(same), "n": len(same)})}


@pytest.fixture
def toy_metric():
    METRICS.names()
    METRICS.register("toy_edit_rate", NegativeEditRate)
    yield METRICS.get("toy_edit_rate")
    METRICS._items.pop("toy_edit_rate", None)
    METRICS._originals.pop("toy_edit_rate", None)


def test_a_plugin_class_is_asked_by_evaluation(toy_metric):
    from nlptasks.evaluation.engine import compute_metrics
    from nlptasks.registry import higher_is_better, metric_info

    assert isinstance(toy_metric, NegativeEditRate)
    assert higher_is_better("toy_edit_rate", "edit_rate") is False and higher_is_better("toy_edit_rate", "exact")
    assert metric_info("toy_edit_rate")["higher_is_better"] == {"edit_rate": False, "exact": True}

    class Bench:  # what compute_metrics reads of a benchmark
        metrics = ("toy_edit_rate", "accuracy")
        metric_options: dict = {}

    metrics, hib = compute_metrics(Bench(), ["a", "b", "c", "d"], ["a", "x", "c", "y"])
    assert hib == {"edit_rate": False, "exact": True, "accuracy": True}
    assert metrics["edit_rate"]["score"] == pytest.approx(50.0) and metrics["exact"]["score"] == pytest.approx(50.0)
    assert metrics["edit_rate"]["extra"]["signature"].startswith("toy_edit_rate|nlptasks:")
    merged = toy_metric.merge([toy_metric.statistics(["a", "b"], ["a", "x"]), toy_metric.statistics(["c"], ["z"])])
    assert toy_metric.score(merged) == pytest.approx({"edit_rate": 200 / 3, "exact": 100 / 3})


def test_old_style_function_plugin_is_wrapped_with_a_deprecation():
    def overlap(predictions, references, bootstrap: int = 0):
        return {"overlap": MetricValue(1.0, {"kind": "mean", "sum": 1.0, "n": 1})}

    overlap.info = {"produces": ["overlap"], "higher_is_better": {"overlap": False}, "task": "qa"}
    METRICS.names()
    try:
        with pytest.warns(DeprecationWarning, match="Metric subclass"):
            METRICS.register("toy_overlap_fn", overlap)
        metric = METRICS.get("toy_overlap_fn")
        assert isinstance(metric, Metric) and metric.task == "qa" and metric.produces == ("overlap",)
        assert metric.higher_is_better_for("overlap") is False and metric.defaults() == {"bootstrap": 0}
        assert metric(["a"], ["a"])["overlap"].score == 1.0
        METRICS.register("toy_overlap_fn", overlap)  # the same function again: no error
    finally:
        METRICS._items.pop("toy_overlap_fn", None)
        METRICS._originals.pop("toy_overlap_fn", None)
    with pytest.raises(TypeError, match="Metric subclass"):
        METRICS.register("toy_not_a_metric", 42)


def test_the_old_tables_are_deprecated_views_of_the_registry():
    import nlptasks.metrics as m

    with pytest.warns(DeprecationWarning, match="ask the metric"):
        info = m.METRIC_INFO
    assert info["ter"]["higher_is_better"] == {"ter": False} and set(info) == set(METRICS.names())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert m.METRIC_FUNCTIONS["bleu"] is METRICS.get("bleu")
    with pytest.raises(AttributeError):
        m.NO_SUCH_TABLE  # noqa: B018

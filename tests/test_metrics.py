"""Parity and hand-checked tests for nlptasks.metrics (pure functions, no model)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from nlptasks.metrics import MetricValue, aggregate, compute
from nlptasks.registry import METRICS
from nlptasks.metrics.summarization import split_sentences

HYPS = ["The cat sat on the mat.", "A quick brown fox jumps over the lazy dog.",
        "He went to the market to buy some apples and pears.", "It is raining today.",
        "Der Hund bellt laut im Garten."]
REFS = ["The cat is sitting on the mat.", "The quick brown fox jumped over the lazy dog.",
        "He went to the market and bought apples.", "Today it rains heavily.",
        "Der Hund bellte laut im Garten."]
REFS2 = ["A cat sat on the mat.", "A fast brown fox leaps over a lazy dog.",
         "He visited the market to buy apples and pears.", "It's raining today.", "Im Garten bellt der Hund."]


# -- translation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, direct", [("bleu", sacrebleu.corpus_bleu), ("chrf", sacrebleu.corpus_chrf),
                                          ("ter", sacrebleu.corpus_ter)])
def test_translation_parity_single_and_multi_reference(name, direct):
    single = compute(name, HYPS, REFS)[name]
    assert single.score == pytest.approx(direct(HYPS, [REFS]).score, abs=1e-9)
    multi = compute(name, HYPS, [[a, b] for a, b in zip(REFS, REFS2)])[name]
    assert multi.score == pytest.approx(direct(HYPS, [REFS, REFS2]).score, abs=1e-9)
    assert multi.score != pytest.approx(single.score)  # the second reference really is used
    assert "nrefs:2" in multi.extra["signature"] and "nrefs:1" in single.extra["signature"]
    json.dumps(multi.to_dict())


def test_bleu_stats_match_sacrebleu_and_options_pass_through():
    ours = compute("bleu", HYPS, REFS)["bleu"]
    ref = sacrebleu.corpus_bleu(HYPS, [REFS])
    assert ours.stats["counts"] == ref.counts and ours.stats["totals"] == ref.totals
    assert (ours.stats["sys_len"], ours.stats["ref_len"]) == (ref.sys_len, ref.ref_len)
    lower = compute("bleu", HYPS, REFS, lowercase=True)["bleu"]
    assert lower.score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS], lowercase=True).score)
    assert "case:lc" in lower.extra["signature"]
    chrfpp = compute("chrf", HYPS, REFS, word_order=2)["chrf"]
    assert chrfpp.score == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS], word_order=2).score)


@pytest.mark.parametrize("name", ["bleu", "chrf", "ter"])
def test_translation_aggregate_equals_full_corpus(name):
    full = compute(name, HYPS, REFS)[name]
    shards = [compute(name, HYPS[:2], REFS[:2])[name], compute(name, HYPS[2:], REFS[2:])[name]]
    stats = [json.loads(json.dumps(s.stats)) for s in shards]  # survives a JSON round trip
    assert aggregate(name, stats).score == pytest.approx(full.score, abs=1e-9)


@pytest.mark.parametrize("kind,options,width", [
    ("bleu", {}, 2 + 2 * 4), ("bleu", {"max_ngram_order": 2, "lowercase": True}, 2 + 2 * 2),
    ("chrf", {}, 3 * 6), ("chrf", {"word_order": 2}, 3 * (6 + 2)), ("ter", {}, 2), ("ter", {"case_sensitive": True}, 2),
])
def test_sacrebleu_private_statistics_api_keeps_its_shape(kind, options, width):
    """The two private sacrebleu methods we rely on (metrics/translation.py): one row of ``width`` numbers per
    segment, and their sum scored equals the public ``corpus_score`` (single and multiple references)."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    from nlptasks.metrics.translation import reference_streams, score_from_statistics, segment_statistics

    metric = {"bleu": BLEU, "chrf": CHRF, "ter": TER}[kind](**options)
    for refs in ([[r] for r in REFS], [[a, b] for a, b in zip(REFS, REFS2)]):
        streams = reference_streams(refs)
        seg = segment_statistics(metric, HYPS, streams)
        assert seg.shape == (len(HYPS), width)
        public = metric.corpus_score(HYPS, streams)
        assert score_from_statistics(metric, seg.sum(axis=0).tolist()).score == pytest.approx(public.score, abs=1e-9)


def test_installed_sacrebleu_is_in_the_pinned_range():
    """pyproject.toml pins sacrebleu to the versions whose private API was checked; testing with another
    version means checking the test above passes there and widening the pin."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    deps = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    req = next(Requirement(d) for d in deps if Requirement(d).name == "sacrebleu")
    assert req.specifier and version("sacrebleu") in req.specifier, (version("sacrebleu"), str(req.specifier))


def test_bleu_bootstrap_ci():
    value = compute("bleu", HYPS * 4, REFS * 4, bootstrap=300, seed=3)["bleu"]
    lo, hi = value.ci
    assert lo <= value.score <= hi and lo < hi
    assert compute("bleu", HYPS * 4, REFS * 4, bootstrap=300, seed=3)["bleu"].ci == value.ci
    assert compute("bleu", HYPS, REFS)["bleu"].ci is None  # off by default


# -- summarization --------------------------------------------------------------------------------
SUM_PREDS = ["The cats were sitting on the mats. Then they ran away quickly.",
             "Police arrested two men after the robbery on Monday.",
             "Stocks fell sharply as investors worried about inflation."]
SUM_REFS = ["Two cats sat on mats and then ran away.",
            "Two men were arrested by police following Monday's robbery. No one was hurt.",
            "Investors worried about rising inflation; stocks fell."]


def test_rouge_parity_with_rouge_score():
    ours = compute("rouge", SUM_PREDS, SUM_REFS)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    direct = [scorer.score(r, p) for p, r in zip(SUM_PREDS, SUM_REFS)]
    for t in ("rouge1", "rouge2", "rougeL"):
        expected = 100 * sum(d[t].fmeasure for d in direct) / len(direct)
        assert ours[t].score == pytest.approx(expected, abs=1e-9)
        assert ours[t].stats == {"kind": "mean", "sum": pytest.approx(expected * 3), "n": 3}
    assert set(ours) == set(METRICS.get("rouge").produces)


def test_rouge_multi_reference_takes_best():
    refs = [[r, "completely unrelated words here"] for r in SUM_REFS]
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    expected = 100 * sum(scorer.score_multi(r, p)["rouge1"].fmeasure for p, r in zip(SUM_PREDS, refs)) / 3
    assert compute("rouge", SUM_PREDS, refs, rouge_types=["rouge1"])["rouge1"].score == pytest.approx(expected)
    assert expected == pytest.approx(compute("rouge", SUM_PREDS, SUM_REFS)["rouge1"].score)


def test_rouge_lsum_newline_inputs_match_rouge_score():
    preds = [p.replace(". ", ".\n") for p in SUM_PREDS]
    refs = [r.replace(". ", ".\n") for r in SUM_REFS]
    scorer = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    expected = 100 * sum(scorer.score(r, p)["rougeLsum"].fmeasure for p, r in zip(preds, refs)) / 3
    assert compute("rouge", preds, refs)["rougeLsum"].score == pytest.approx(expected, abs=1e-9)
    # without newlines pysbd splits the same sentences, so the score is unchanged
    assert compute("rouge", SUM_PREDS, SUM_REFS)["rougeLsum"].score == pytest.approx(expected, abs=1e-9)


def test_split_sentences_and_lsum_differs_from_l_on_multi_sentence_text():
    assert split_sentences("Mr. Smith went home. He slept.") == "Mr. Smith went home.\nHe slept."
    assert split_sentences("one\ntwo") == "one\ntwo"
    # whole-text LCS is 3 of 6 tokens (rougeL 50); per-sentence union LCS matches all 6 (rougeLsum 100)
    pred, ref = ["Cats run fast. Dogs bark loudly."], ["Dogs bark loudly. Cats run fast."]
    out = compute("rouge", pred, ref, bootstrap=0)
    assert out["rougeL"].score == pytest.approx(50.0) and out["rougeLsum"].score == pytest.approx(100.0)


def test_rouge_bootstrap_ci_contains_estimate_deterministic_and_narrows():
    preds, refs = SUM_PREDS * 4, SUM_REFS[1:] + SUM_REFS[:1] + SUM_REFS * 3  # varied per-example scores
    small = compute("rouge", preds, refs, bootstrap=500, seed=7)
    again = compute("rouge", preds, refs, bootstrap=500, seed=7)
    big = compute("rouge", preds * 8, refs * 8, bootstrap=500, seed=7)
    for t in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        lo, hi = small[t].ci
        assert lo <= small[t].score <= hi and lo < hi
        assert again[t].ci == small[t].ci
        assert big[t].score == pytest.approx(small[t].score)
        assert (big[t].ci[1] - big[t].ci[0]) < (hi - lo)
    assert compute("rouge", preds, refs, bootstrap=500, seed=8)["rouge1"].ci != small["rouge1"].ci


# -- classification -------------------------------------------------------------------------------
def test_classification_hand_computed():
    gold = ["pos", "pos", "pos", "neg", "neg", "neu"]
    pred = ["pos", "pos", "neg", "neg", "pos", "neu"]
    # accuracy: 4 of 6 correct -> 66.67
    assert compute("accuracy", pred, gold)["accuracy"].score == pytest.approx(400 / 6)
    # per class F1 = 2TP / (2TP + FP + FN):
    #   pos: TP 2, FP 1, FN 1 -> 4/6;  neg: TP 1, FP 1, FN 1 -> 2/4;  neu: TP 1 -> 2/2
    #   macro = (2/3 + 1/2 + 1) / 3 = 0.72222
    assert compute("f1", pred, gold)["f1"].score == pytest.approx(100 * (2 / 3 + 1 / 2 + 1) / 3)
    # MCC (R_K): c = 4 correct, s = 6; true counts t = (neg 2, neu 1, pos 3), predicted p = (2, 1, 3)
    #   (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) = (24 - 14) / sqrt(22 * 22) = 10/22
    assert compute("mcc", pred, gold)["mcc"].score == pytest.approx(100 * 10 / 22)


def test_binary_mcc_and_int_labels():
    # TP 3, TN 2, FP 1, FN 2: (3*2 - 1*2) / sqrt(4 * 5 * 3 * 4) = 4 / sqrt(240)
    gold = [1, 1, 1, 1, 1, 0, 0, 0]
    pred = [1, 1, 1, 0, 0, 0, 0, 1]
    assert compute("mcc", pred, gold)["mcc"].score == pytest.approx(100 * 4 / math.sqrt(240))
    assert compute("mcc", [1 - p for p in gold], gold)["mcc"].score == pytest.approx(-100.0)


def test_classification_degenerate_cases():
    out = {name: compute(name, ["a", "a", "a"], ["a", "a", "a"])[name] for name in ("accuracy", "f1", "mcc")}
    assert out["accuracy"].score == 100.0 and out["f1"].score == 100.0
    assert out["mcc"].score == 0.0  # single class: undefined correlation -> 0
    assert compute("mcc", ["a", "a", "a"], ["a", "b", "a"])["mcc"].score == 0.0  # constant prediction


def test_classification_matches_sklearn():
    from sklearn import metrics
    gold = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0]
    pred = [0, 2, 2, 1, 1, 0, 1, 2, 1, 0, 2, 2]
    assert compute("f1", pred, gold)["f1"].score == pytest.approx(100 * metrics.f1_score(gold, pred, average="macro"))
    assert compute("mcc", pred, gold)["mcc"].score == pytest.approx(100 * metrics.matthews_corrcoef(gold, pred))


def test_classification_aggregate_and_accuracy_ci():
    gold = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1]
    pred = [0, 1, 0, 0, 1, 1, 1, 0, 1, 1]
    for name in ("accuracy", "f1", "mcc"):
        full = compute(name, pred, gold)[name]
        shards = [compute(name, pred[:4], gold[:4])[name].stats, compute(name, pred[4:], gold[4:])[name].stats]
        assert aggregate(name, shards).score == pytest.approx(full.score)
    # a shard that never saw label 0 still aligns
    assert aggregate("f1", [compute("f1", [1, 1], [1, 1])["f1"].stats,
                            compute("f1", pred, gold)["f1"].stats]).score == pytest.approx(
        compute("f1", [1, 1] + pred, [1, 1] + gold)["f1"].score)
    acc = compute("accuracy", pred * 3, gold * 3, seed=1)["accuracy"]
    assert acc.ci[0] <= acc.score <= acc.ci[1]
    assert acc.ci == compute("accuracy", pred * 3, gold * 3, seed=1)["accuracy"].ci


# -- qa ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pred, golds, em, f1", [
    ("the Eiffel Tower", ["Eiffel Tower"], 100, 100),          # articles dropped
    ("Eiffel Tower!", ["eiffel tower"], 100, 100),              # punctuation and case
    ("  Eiffel\n  Tower ", ["Eiffel Tower"], 100, 100),         # whitespace
    ("a big red dog", ["the red dog"], 0, 80),                  # P = 2/3, R = 2/2 -> 2*(2/3)/(5/3) = 0.8
    ("red", ["the red dog", "a red"], 100, 100),                # max over gold answers
    ("blue car", ["red dog"], 0, 0),
    ("", ["Paris"], 0, 0),                                      # empty prediction
    ("Denver Broncos", ["Broncos", "Denver Broncos win"], 0, 80),  # best F1: 2*(1)*(2/3)/(5/3)
])
def test_squad_official_rules(pred, golds, em, f1):
    out = compute("squad", [pred], [golds])
    assert out["exact_match"].score == pytest.approx(em)
    assert out["f1"].score == pytest.approx(f1)


def test_squad_reference_shapes_and_mean():
    refs = [{"text": ["Paris", "paris france"], "answer_start": [0, 0]},
            {"answers": {"text": ["1990"], "answer_start": [3]}, "id": "x"}, "blue"]
    out = compute("squad", [{"prediction_text": "Paris"}, "in 1990", "green"], refs)
    assert out["exact_match"].score == pytest.approx(100 / 3)        # (1 + 0 + 0) / 3
    assert out["f1"].score == pytest.approx((100 + 100 * 2 / 3 + 0) / 3)  # "in 1990" vs "1990": P 1/2, R 1
    with pytest.raises(ValueError, match="squad_v2"):
        compute("squad", ["x"], [[]])


def test_squad_v2_has_and_no_answer():
    preds = ["Paris", "", "something", ""]
    refs = [["Paris"], [], [], ["Rome"]]
    out = compute("squad_v2", preds, refs)
    # per example EM/F1: 1, 1 (abstained on unanswerable), 0 (answered unanswerable), 0 (abstained)
    assert out["exact_match"].score == pytest.approx(50) and out["f1"].score == pytest.approx(50)
    assert out["HasAns_exact"].score == pytest.approx(50) and out["HasAns_f1"].score == pytest.approx(50)
    assert out["NoAns_exact"].score == pytest.approx(50) and out["NoAns_f1"].score == pytest.approx(50)
    assert out["HasAns_exact"].stats["n"] == 2 and out["NoAns_f1"].stats["n"] == 2
    assert set(out) == set(METRICS.get("squad_v2").produces)
    assert "NoAns_f1" not in compute("squad_v2", ["x"], [["x"]])  # empty split omitted


# -- dialogue ---------------------------------------------------------------------------------------
def test_unigram_f1_by_hand():
    preds = ["I'd like the red one, please.", "no idea"]
    refs = ["The red one is mine", ["yes", "No, no idea at all"]]
    # 1: normalised "i d like red one please" (6 tokens) vs "red one is mine" (4): common 2 -> P 2/6, R 2/4,
    #    F1 = 2*(1/3)(1/2)/(5/6) = 0.4;  2: best ref "no no idea at all": common {no, idea} = 2, P 1, R 2/5 -> 4/7
    out = compute("unigram_f1", preds, refs)["unigram_f1"]
    assert out.score == pytest.approx(100 * (0.4 + 4 / 7) / 2)


def test_bleu4_is_sacrebleu():
    assert compute("bleu4", HYPS, REFS)["bleu4"].score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)


def test_distinct_by_hand():
    out = compute("distinct", ["a b a b", "a c", "d"], None)
    # unigrams: a b a b a c d -> 4 unique / 7;  bigrams: ab ba ab ac -> 3 unique / 4
    assert out["distinct_1"].score == pytest.approx(400 / 7)
    assert out["distinct_2"].score == pytest.approx(75.0)
    assert compute("distinct", ["A a"], None, lowercase=True)["distinct_1"].score == pytest.approx(50.0)
    with pytest.raises(ValueError):
        aggregate("distinct", [out["distinct_1"].stats])


def test_perplexity_by_hand_and_aggregate():
    preds = [{"nll": 2.0, "tokens": 2}, {"nll": 6.0, "tokens": 4}, {"nll": 1.0, "tokens": 3}]
    out = compute("perplexity", preds, None)["perplexity"]
    assert out.score == pytest.approx(math.exp(9 / 9))
    assert out.stats == {"kind": "perplexity", "sum_nll": 9.0, "tokens": 9}
    assert out.ci[0] <= out.score <= out.ci[1]
    parts = [compute("perplexity", preds[:1], None)["perplexity"].stats,
             compute("perplexity", preds[1:], None)["perplexity"].stats]
    assert aggregate("perplexity", parts).score == pytest.approx(out.score)
    assert METRICS.get("perplexity").info()["higher_is_better"] == {"perplexity": False}
    with pytest.raises(ValueError):
        compute("perplexity", ["not a dict"], None)


def test_mean_metrics_aggregate():
    preds, refs = ["a b c", "a", "x y", "b"], ["a b", "a c", "x", "b"]
    full = compute("unigram_f1", preds, refs)["unigram_f1"]
    shards = [compute("unigram_f1", preds[:1], refs[:1])["unigram_f1"].stats,
              compute("unigram_f1", preds[1:], refs[1:])["unigram_f1"].stats]
    assert aggregate("unigram_f1", shards).score == pytest.approx(full.score)


# -- registry-facing contract -----------------------------------------------------------------------
def test_every_builtin_metric_says_what_it_is():
    for name, metric in METRICS.items():
        info = metric.info()
        assert metric.name == name and info["produces"] and info["task"] and info["description"]
        assert set(info["higher_is_better"]) == set(info["produces"])
    assert METRICS.get("ter").info()["higher_is_better"]["ter"] is False


def test_unknown_metric_and_bad_inputs():
    with pytest.raises(KeyError) as err:
        compute("blue", ["a"], ["a"])
    assert "bleu" in str(err.value) and "rouge" in str(err.value)
    for name in ("bleu", "rouge", "accuracy", "squad", "unigram_f1"):
        with pytest.raises(ValueError, match="lengths must match"):
            compute(name, ["a", "b"], ["a"])
        with pytest.raises(ValueError, match="empty"):
            compute(name, [], [])


def test_metric_value_round_trip():
    value = compute("accuracy", [1, 0], [1, 1])["accuracy"]
    data = json.loads(json.dumps(value.to_dict()))
    assert MetricValue.from_dict(data) == value


def test_import_does_not_pull_in_torch():
    code = "import nlptasks.metrics, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)

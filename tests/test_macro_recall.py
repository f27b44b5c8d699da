"""macro_recall: TweetEval's official metric, pure Python/numpy, checked against scikit-learn."""
from __future__ import annotations

import pytest

from nlptasks.metrics import aggregate, compute
from nlptasks.registry import METRICS


@pytest.mark.parametrize("gold, pred", [
    ([0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0], [0, 2, 2, 1, 1, 0, 1, 2, 1, 0, 2, 2]),
    (["negative", "neutral", "positive", "neutral"], ["negative", "negative", "positive", "positive"]),
    ([0, 0, 1, 1], [0, 0, 0, 2]),   # a predicted label that is never gold counts, with recall 0
    ([1, 1, 1], [1, 1, 1]),
])
def test_macro_recall_matches_sklearn(gold, pred):
    from sklearn.metrics import recall_score

    expected = 100 * recall_score(gold, pred, average="macro", zero_division=0)
    assert compute("macro_recall", pred, gold)["macro_recall"].score == pytest.approx(expected)


def test_macro_recall_by_hand_and_never_neutral():
    gold = ["neg", "neg", "neu", "neu", "pos", "pos"]
    # never neutral: recall neg 1, neu 0, pos 1 -> 66.67 though accuracy is 66.67 too
    assert compute("macro_recall", ["neg", "neg", "pos", "neg", "pos", "pos"], gold)["macro_recall"].score == \
        pytest.approx(100 * 2 / 3)
    # one of each wrong: (1/2 + 1 + 1) / 3
    assert compute("macro_recall", ["neg", "pos", "neu", "neu", "pos", "pos"], gold)["macro_recall"].score == \
        pytest.approx(100 * 2.5 / 3)


def test_macro_recall_registered_aggregates_and_has_interval():
    assert "macro_recall" in METRICS and METRICS.get("macro_recall").produces == ("macro_recall",)
    gold = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0] * 3
    pred = [0, 2, 2, 1, 1, 0, 1, 2, 1, 0, 2, 2] * 3
    full = compute("macro_recall", pred, gold, seed=3)["macro_recall"]
    shards = [compute("macro_recall", pred[:5], gold[:5])["macro_recall"].stats,
              compute("macro_recall", pred[5:], gold[5:])["macro_recall"].stats]
    assert aggregate("macro_recall", shards).score == pytest.approx(full.score)
    assert full.ci[0] <= full.score <= full.ci[1] and full.ci[0] < full.ci[1]

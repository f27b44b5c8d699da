"""Chat responses read naturally (DailyDialog's tokenised text detokenised by sacremoses + closed
contractions) while the dialogue metrics score tokenised and detokenised responses alike."""
from __future__ import annotations

import logging
import sys

import pytest

from nlptasks import detokenize as detok
from nlptasks.metrics import compute

CASES = [
    ("I ’ m very well , Thank you .", "I’m very well, Thank you."),
    ("Don ' t worry . It ' s fine !", "Don't worry. It's fine!"),
    ("Well , that's too far.Can you change some money for me ?",
     "Well, that's too far. Can you change some money for me?"),
    ("can ’ t you see ? I ’ ll be there at 5 : 30 .", "can’t you see? I’ll be there at 5:30."),
    ('He said " hello " ( twice ) .', 'He said "hello" (twice).'),
]


@pytest.mark.parametrize("raw, readable", CASES)
def test_detokenize_dailydialog_text(raw, readable):
    assert detok.detokenize(raw) == readable
    assert detok.detokenize(readable) == readable  # already readable text is left as it is


def test_without_sacremoses_text_is_unchanged_with_one_warning(monkeypatch, caplog):
    detok._moses.cache_clear()
    monkeypatch.setitem(sys.modules, "sacremoses", None)  # import fails
    try:
        with caplog.at_level(logging.WARNING, logger="nlptasks"):
            assert detok.detokenize("I ’ m fine .") == "I ’ m fine ."
            assert detok.detokenizer() is None
        assert sum("nlptasks[detok]" in r.getMessage() for r in caplog.records) == 1
    finally:
        detok._moses.cache_clear()


@pytest.mark.parametrize("name, key", [("unigram_f1", "unigram_f1"), ("bleu4", "bleu4"), ("distinct", "distinct_2")])
def test_dialogue_metrics_score_both_forms_alike(name, key):
    raws = [raw for raw, _ in CASES]
    readable = [detok.detokenize(r) for r in raws]
    refs = raws[::-1]  # tokenised references, as in DailyDialog
    a = compute(name, raws, refs)[key]
    b = compute(name, readable, refs)[key]
    assert a.score == pytest.approx(b.score)
    assert "spaced" in a.extra["normalize"]
    from nlptasks.metrics.signature import value_signature
    from nlptasks.registry import METRICS

    assert "normalize:spaced" in value_signature(name, METRICS.get(name), a)  # the record's signature says so
    # scored as they are, the readable form loses (so the normalisation is what makes them equal)
    if name == "unigram_f1":
        assert compute(name, readable, raws, normalize="none")[key].score < \
            compute(name, raws, raws, normalize="none")[key].score
        assert compute(name, readable, raws)[key].score == pytest.approx(100.0)
    with pytest.raises(ValueError, match="normalize"):
        compute(name, raws, refs, normalize="moses")


def test_packaged_chat_default_answers_readably():
    from nlptasks.api import load_task

    task = load_task("chat", device="cpu")
    out = task.predict([{"history": ["Hello , how are you ?"]}, {"history": ["Where is the bank ?"]},
                        {"history": ["Can I help you ?"]}])
    for o in out:
        text = o["response"]
        assert text == detok.detokenize(text) and " ," not in text and " ’ " not in text and not text.endswith(" .")
    assert task.run_settings()["retrieval"]["detokenize"].startswith("sacremoses")

"""nlptasks.text: the single-sentence fast path returns what pysbd returns (it only skips the call)."""
import json

import pytest

from nlptasks import text


def _pysbd_only(piece: str, language: str) -> list[str]:
    return [x.strip() for x in text._pysbd(piece, language) if x.strip()]


CASES = ["A man in a blue shirt is standing on a ladder.", 'He said "go home" and left.', "Look at that!\" ",
         "Wait... what?", "Mr. Smith went home.", "1) first item 2) second item.", "a) apples b) pears.",
         "It works (mostly).", "Done.)", "Done.]", "Done.\"", "Zwei Männer stehen am Herd und bereiten Essen zu.", "Is it? Yes."]


@pytest.mark.parametrize("piece", CASES)
def test_fast_path_agrees_with_pysbd(piece):
    assert text._piece_sentences(piece, "en") == _pysbd_only(piece, "en")


def test_fast_path_skips_pysbd_only_on_single_sentences(monkeypatch):
    calls = []
    real = text._pysbd
    monkeypatch.setattr(text, "_pysbd", lambda piece, lang: calls.append(piece) or real(piece, lang))
    assert text.split_sentences("A dog runs on the beach.") == ["A dog runs on the beach."]
    assert calls == []  # the fast path: no pysbd call
    assert text.split_sentences("A dog runs. A cat sleeps.") == ["A dog runs.", "A cat sleeps."]
    assert calls == ["A dog runs. A cat sleeps."]
    assert text.split_sentences("1) a dog 2) a cat.") == ["1) a dog", "2) a cat."]  # list items: pysbd


@pytest.mark.data
def test_fast_path_agrees_with_pysbd_on_real_lines(shared_data):
    pieces = []
    with open(shared_data / "translation" / "validation.jsonl", encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)["translation"]
            pieces += [(pair["en"], "en"), (pair["de"], "de")]
    with open(shared_data / "sst3" / "validation.jsonl", encoding="utf-8") as f:
        pieces += [(json.loads(line)["text"], "en") for line in f]
    fast = [p for p in pieces if text._one_sentence(p[0])]
    assert len(fast) > len(pieces) // 2  # the path is taken on most lines
    assert [text._piece_sentences(p, lang) for p, lang in pieces] == [_pysbd_only(p, lang) for p, lang in pieces]

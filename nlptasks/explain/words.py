"""Word units and their character offsets: what every token-attribution explanation is made of.

A *word* is a run of letters/digits (``\\w+``) or a single other non-space character (punctuation), the
same split BERT-style pre-tokenizers make. Sub-word scores are summed into the word holding the sub-word's
first character, so a method's total is kept (integrated gradients' completeness survives the grouping).
Pure Python: no torch.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of the words of ``text``: ``text[start:end]`` is the word."""
    return [m.span() for m in _WORD.finditer(text)]


def words_to_tokens(text: str, spans: Sequence[tuple[int, int]], scores: Sequence[float], **extra) -> list[dict]:
    """The ``tokens`` list of an explanation: ``{"text", "start", "end", "score"}`` per word (plus ``extra``
    keys, e.g. ``field="context"``)."""
    return [{"text": text[a:b], "start": a, "end": b, "score": float(s), **extra}
            for (a, b), s in zip(spans, scores)]


def group_subwords(spans: Sequence[tuple[int, int]], offsets: Iterable[tuple[int, int] | None],
                   scores: Iterable[float]) -> list[float]:
    """Sum sub-word ``scores`` into words: a sub-word whose character offsets ``(a, b)`` start inside a
    word (or, for a sub-word that starts on a space, end inside one) adds its score to that word.
    ``None`` offsets (special tokens, padding, other fields) are skipped."""
    out = [0.0] * len(spans)
    starts = [a for a, _ in spans]
    import bisect

    for off, s in zip(offsets, scores):
        if off is None:
            continue
        a, b = off
        if b <= a:
            continue
        k = bisect.bisect_right(starts, a) - 1
        if k < 0 or a >= spans[k][1]:  # starts in a gap (a leading space): the next word it reaches
            k += 1
            if k >= len(spans) or spans[k][0] >= b:
                continue
        out[k] += float(s)
    return out


def normalise_token_offsets(offsets) -> list[tuple[int, int] | None]:
    """A tokenizer's ``offset_mapping`` row as tuples, ``None`` for special tokens (``(0, 0)``)."""
    return [None if o is None or (o[0] == 0 and o[1] == 0) else (int(o[0]), int(o[1])) for o in offsets]

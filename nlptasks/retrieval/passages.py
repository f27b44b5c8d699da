"""Documents cut into passages: sentence-aligned, about ``min_words``-``max_words`` words, overlapping.

Sentences come from the project's splitter (:func:`nlptasks.text.split_sentences`, pysbd) and are
located back in the document, so a passage is always a verbatim slice ``text[start:end]`` of its
document. Sentences are packed into a passage until the next one would pass ``max_words``; the next
passage starts with the last sentences of the previous one (as many as fit in ``overlap_words`` words,
and at least the last one when it is at most half a passage), so an answer that straddles a boundary is
whole in one of them. A sentence longer than ``max_words`` is cut
at whitespace into pieces of ``max_words`` words. Nothing is truncated: every non-space character of
the document lies in at least one passage (tests check this), however long the document.

Passage ids are ``<document id>#<n>`` (n = 0, 1, ... in document order): the same document and
settings give the same ids on every build.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_WORDS = 160
DEFAULT_OVERLAP_WORDS = 40
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Passage:
    id: str
    doc_id: str
    text: str
    start: int  # character offsets of the passage in its document: text == document[start:end]
    end: int


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text``; any text the splitter did not return (it never
    should) becomes a span of its own, so the spans cover every non-space character."""
    from ..text import split_sentences

    spans: list[tuple[int, int]] = []
    pos = 0
    for sent in split_sentences(text):
        i = text.find(sent, pos)
        if i < 0:  # not found verbatim (should not happen): keep going from where we are
            continue
        if text[pos:i].strip():  # text skipped by the splitter: a span of its own
            spans.append(_strip_span(text, pos, i))
        spans.append((i, i + len(sent)))
        pos = i + len(sent)
    if text[pos:].strip():
        spans.append(_strip_span(text, pos, len(text)))
    return spans


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _units(text: str, max_words: int) -> list[tuple[int, int, int]]:
    """Sentence spans with their word counts; sentences over ``max_words`` words cut at whitespace."""
    out = []
    for a, b in _sentence_spans(text):
        words = [m.span() for m in _WORD.finditer(text, a, b)]
        if len(words) <= max_words:
            out.append((a, b, len(words)))
            continue
        for k in range(0, len(words), max_words):
            chunk = words[k:k + max_words]
            out.append((chunk[0][0], chunk[-1][1], len(chunk)))
    return out


def split_passages(doc_id: str, text: str, max_words: int = DEFAULT_MAX_WORDS,
                   overlap_words: int = DEFAULT_OVERLAP_WORDS) -> list[Passage]:
    """The passages of one document (none for a blank one)."""
    if max_words < 1:
        raise ValueError("max_words must be >= 1")
    overlap_words = max(0, min(overlap_words, max_words // 2))
    words = [m.span() for m in _WORD.finditer(text)]
    if not words:
        return []
    if len(words) <= max_words:  # fits in one passage: no sentence splitting needed (pysbd is the slow part)
        a, b = words[0][0], words[-1][1]
        return [Passage(f"{doc_id}#0", doc_id, text[a:b], a, b)]
    units = _units(text, max_words)
    passages: list[Passage] = []
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units) and (j == i or words + units[j][2] <= max_words):
            words += units[j][2]
            j += 1
        a, b = units[i][0], units[j - 1][1]
        passages.append(Passage(f"{doc_id}#{len(passages)}", doc_id, text[a:b], a, b))
        if j >= len(units):
            break
        # the next passage starts with the trailing sentences of this one: as many as fit in overlap_words
        # words, and at least the last one when it is at most half a passage; it always moves forward
        k, back = j, 0
        while k - 1 > i and (back + units[k - 1][2] <= overlap_words
                             or (k == j and overlap_words and units[k - 1][2] <= max_words // 2)):
            k -= 1
            back += units[k][2]
        i = k
    return passages

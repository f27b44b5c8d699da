"""Sentence splitting without nltk punkt (which cannot be downloaded here): pysbd, rule-based.

Paragraphs (blank-line or newline separated) are split first, then each paragraph by pysbd. pysbd's
time grows with the square of its input's length (a 100 KB paragraph takes seconds), so a paragraph
longer than ``MAX_SEGMENT`` characters is read in windows of that length: pysbd splits the window, every
sentence but the last is kept, and the next window starts where that last (possibly unfinished)
sentence starts, or earlier, before a quotation still open there (pysbd keeps a quoted passage as one
sentence once it sees the closing quote) — so the sentences are pysbd's own, as if it had seen the whole
paragraph, and the time stays linear in the text length. A window that holds a single sentence is cut
at its last whitespace (else hard); a piece without any sentence-final punctuation, or with it only at
its end, is one sentence and skips pysbd. A leaf module: pure Python, imports nothing else of ours.
"""
from __future__ import annotations

import re
from functools import lru_cache

_PARA = re.compile(r"\n\s*\n|\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s")
_SPACE = re.compile(r"\s")
MAX_SEGMENT = 2000
# sentence-final punctuation of the scripts pysbd knows; a segment with none of it is one sentence
_TERMINAL = re.compile("[.!?\u2026\u3002\uff01\uff1f\uff61\u061f\u06d4\u0964\u0965\u1362\u1367"
                       "\u166e\u1803\u1809\u203c\u2047\u2048\u2049\u037e]")
# a piece's ending: sentence-final punctuation and spaces
_TAIL = re.compile(_TERMINAL.pattern[:-1] + "\\s]+$")


@lru_cache(maxsize=4)
def _segmenter(language: str):
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


def _cut(window: str, limit: int) -> int:
    """Where to end a piece of at most ``limit`` characters: after the last sentence end (``. ! ?`` +
    space) in the window's second half, else at its last whitespace there, else hard at ``limit``."""
    half = limit // 2
    cut = None
    for m in _SENTENCE_END.finditer(window, half):
        cut = m.end()
    if cut is None:
        spaces = [m.end() for m in _SPACE.finditer(window, half)]
        cut = spaces[-1] if spaces else limit
    return cut


def segments(text: str, limit: int = MAX_SEGMENT) -> list[str]:
    """``text`` cut into consecutive pieces of at most ``limit`` characters (see :func:`_cut`); joined,
    they give ``text`` back."""
    out, start = [], 0
    while len(text) - start > limit:
        cut = _cut(text[start:start + limit], limit)
        out.append(text[start:start + cut])
        start += cut
    out.append(text[start:])
    return out


def _pysbd(text: str, language: str) -> list[str]:
    try:
        return _segmenter(language).segment(text)
    except ValueError:  # language unknown to pysbd
        return _segmenter("en").segment(text)


def _piece_sentences(piece: str, language: str) -> list[str]:
    if not _TERMINAL.search(piece):  # no sentence end: one sentence (pysbd is slow on long runs of words)
        return [piece.strip()] if piece.strip() else []
    if _one_sentence(piece):  # the common single sentence: pysbd would return it whole
        return [piece.strip()]
    return [x.strip() for x in _pysbd(piece, language) if x.strip()]


def _one_sentence(piece: str) -> bool:
    """True when the only sentence-final punctuation ends the piece (nothing but spaces after it: pysbd
    splits ``Done."`` and ``Done.)``) and there is no ``)`` anywhere (pysbd splits list items such as
    ``1) a 2) b``): pysbd returns such a piece whole (tests/test_text.py checks this on real data)."""
    return ")" not in piece and not _TERMINAL.search(_TAIL.sub("", piece))


def _located(sentences: list[str], window: str) -> list[tuple[str, int]] | None:
    """Each sentence with its start offset in ``window`` (None when one cannot be found in order)."""
    out, pos = [], 0
    for sent in sentences:
        i = window.find(sent, pos)
        if i < 0:
            return None
        out.append((sent, i))
        pos = i + len(sent)
    return out


def _outside_quotes(text: str) -> bool:
    return text.count('"') % 2 == 0 and text.count("\u201c") <= text.count("\u201d")


def _long_paragraph(para: str, language: str, limit: int) -> list[str]:
    out, start = [], 0
    while len(para) - start > limit:
        window = para[start:start + limit]
        found = _located(_piece_sentences(window, language), window) if _TERMINAL.search(window) else None
        if found and len(found) > 1 and found[-1][1] > 0:
            # the last sentence may go on past the window: read it again; so may an open quotation,
            # which pysbd keeps as one sentence when it sees the closing quote: restart before it
            starts = [i for _, i in found[1:]]
            keep = next((k for k in range(len(starts) - 1, -1, -1) if _outside_quotes(window[:starts[k]])),
                        len(starts) - 1)
            out.extend(sent for sent, _ in found[:keep + 1])
            start += starts[keep]
        else:
            cut = _cut(window, limit)
            out.extend(_piece_sentences(window[:cut], language))
            start += cut
    out.extend(_piece_sentences(para[start:], language))
    return out


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split ``text`` into sentences (stripped, non-empty), in order."""
    out: list[str] = []
    for para in _PARA.split(text):
        para = para.strip()
        if para:
            out.extend(_long_paragraph(para, language, MAX_SEGMENT))
    return out

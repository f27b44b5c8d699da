"""Sentence splitting without nltk punkt (which cannot be downloaded here): pysbd, rule-based.

Paragraphs (blank-line or newline separated) are split first, then each paragraph by pysbd. pysbd's
time grows with the square of its input's length (a 100 KB paragraph takes seconds), so a paragraph
longer than ``MAX_SEGMENT`` characters is first cut into segments of at most that length — after a
sentence end (``. ! ?`` + space) in the segment's second half when there is one, else at the last
whitespace, else hard — which keeps splitting linear in the text length; a segment without any
sentence-final punctuation is one sentence and skips pysbd. A leaf module: pure Python,
imports nothing else of ours.
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


@lru_cache(maxsize=4)
def _segmenter(language: str):
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


def segments(text: str, limit: int = MAX_SEGMENT) -> list[str]:
    """``text`` cut into consecutive pieces of at most ``limit`` characters, preferably after a
    sentence end, else at whitespace (see the module doc); joined, they give ``text`` back."""
    out, start = [], 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        half = limit // 2
        cut = None
        for m in _SENTENCE_END.finditer(window, half):
            cut = m.end()
        if cut is None:
            spaces = [m.end() for m in _SPACE.finditer(window, half)]
            cut = spaces[-1] if spaces else limit
        out.append(window[:cut])
        start += cut
    out.append(text[start:])
    return out


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split ``text`` into sentences (stripped, non-empty), in order."""
    out: list[str] = []
    for para in _PARA.split(text):
        para = para.strip()
        if not para:
            continue
        for seg in segments(para):
            if not _TERMINAL.search(seg):  # no sentence end: skip pysbd (slow on long runs of words)
                if seg.strip():
                    out.append(seg.strip())
                continue
            try:
                segs = _segmenter(language).segment(seg)
            except ValueError:  # language unknown to pysbd
                segs = _segmenter("en").segment(seg)
            out.extend(s.strip() for s in segs if s.strip())
    return out

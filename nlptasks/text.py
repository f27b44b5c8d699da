"""Sentence splitting without nltk punkt (which cannot be downloaded here): pysbd, rule-based.

Paragraphs (blank-line or newline separated) are split first, then each paragraph by pysbd. A leaf
module: pure Python, imports nothing else of ours.
"""
from __future__ import annotations

import re
from functools import lru_cache

_PARA = re.compile(r"\n\s*\n|\n")


@lru_cache(maxsize=4)
def _segmenter(language: str):
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split ``text`` into sentences (stripped, non-empty), in order."""
    out: list[str] = []
    for para in _PARA.split(text):
        para = para.strip()
        if not para:
            continue
        try:
            segs = _segmenter(language).segment(para)
        except ValueError:  # language unknown to pysbd
            segs = _segmenter("en").segment(para)
        out.extend(s.strip() for s in segs if s.strip())
    return out

"""Readable text from corpus tokenisation: DailyDialog's ``I ’ m very well , Thank you .`` ->
``I’m very well, Thank you.`` (what the packaged chat model shows users).

sacremoses' ``MosesDetokenizer`` (English) joins punctuation to its words; before it, contractions split
around their apostrophe (``I ’ m``, ``don ' t``, ``It ' s``), which Moses leaves apart, are closed up, and
so are clock times (``5 : 30``). sacremoses is the ``detok`` extra, imported only here; without it the
text is returned unchanged and one warning names the extra.

Scores never depend on this: the dialogue metrics compare responses and references after
:func:`nlptasks.metrics.dialogue.spaced` (punctuation split off, whitespace squashed), which gives a
tokenised and a detokenised response the same tokens.
"""
from __future__ import annotations

import functools
import logging
import re

log = logging.getLogger("nlptasks")

# a word, an apostrophe with spaces on one or both sides, a contraction/possessive ending
_APOSTROPHE = re.compile(r"(\w)(?: ([’'])|([’']) | ([’']) )(s|m|re|ve|ll|d|t)\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b(\d{1,2}) : (\d{2})\b")
_GLUED = re.compile(r"(?<=[a-z]{2})\.(?=[A-Z][a-z])")  # "too far.Can you": a sentence end without its space


@functools.lru_cache(maxsize=1)
def _moses():
    try:
        from sacremoses import MosesDetokenizer
    except ImportError:
        log.warning("nlptasks: responses are shown as the corpus tokenised them; for readable text: "
                    "pip install 'nlptasks[detok]'")
        return None
    return MosesDetokenizer(lang="en")


def close_contractions(text: str) -> str:
    """``I ’ m`` -> ``I’m``, ``don ' t`` -> ``don't``, ``5 : 30`` -> ``5:30``, ``far.Can`` -> ``far. Can``
    (the rest unchanged)."""
    text = _APOSTROPHE.sub(lambda m: m.group(1) + (m.group(2) or m.group(3) or m.group(4)) + m.group(5), text)
    return _GLUED.sub(". ", _CLOCK.sub(r"\1:\2", text))


def detokenize(text: str) -> str:
    """``text`` as a reader expects it (English); unchanged when sacremoses is not installed."""
    moses = _moses()
    if moses is None or not text.strip():
        return text
    return moses.detokenize(close_contractions(text).split())


def detokenizer() -> str | None:
    """What :func:`detokenize` does here (recorded in run settings and prediction-cache keys), or None when
    it returns text unchanged (no sacremoses)."""
    if _moses() is None:
        return None
    from importlib import metadata

    return f"sacremoses {metadata.version('sacremoses')} MosesDetokenizer(en) + closed contractions"

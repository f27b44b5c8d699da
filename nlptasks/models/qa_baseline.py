"""``sliding-window``: the word-overlap QA baseline of the SQuAD paper, without a parser.

Rajpurkar et al. (2016), "SQuAD: 100,000+ Questions for Machine Comprehension of Text", section 5:
candidate answers are constituents; for each candidate, the unigram/bigram overlap between the
sentence containing it (the candidate excluded) and the question is computed, the candidates with the
maximal overlap are kept, and among those the best is chosen with the sliding-window scorer of
Richardson et al. (2013, MCTest): a window of ``|Q ∪ A|`` words slides over the text and scores
``sum IC(w)`` over its words ``w`` in ``Q ∪ A``, with ``IC(w) = log(1 + 1 / count(w in the passage))``.

What is implemented here (a simpler, reasonable version, documented rather than tuned):

* tokens are words and numbers with their character offsets, lower-cased and with a final ``s`` dropped
  (a crude stemmer); sentences end at ``.!?``;
* candidates (no parser, so no constituents) are spans of 1 to ``MAX_WORDS`` tokens inside one sentence
  that contain no question word and neither start nor end with a stop word;
* step 1: keep the candidates whose sentence (candidate removed) has the highest unigram + bigram
  overlap with the question (stop words ignored in unigrams);
* step 2: among them, the best sliding window of ``|Q ∪ A|`` tokens that holds the whole candidate,
  scored by ``sum IC`` of the distinct question words in it (the candidate's own words are not counted:
  every such window holds them, and counting them would favour long candidates), as a share of
  ``sum IC`` over all question words; ties go to the candidate closest to the question words in the
  sentence (the paper's "+ distance" variant), then the shorter one, then the first.

The output score is that share, in [0, 1]. Pure Python: no model, no torch.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

MAX_WORDS = 4
WORD = re.compile(r"\w+(?:[-'.]\w+)*", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
STOP = frozenset("""a an the of in on at to for from by with and or but nor is are was were be been being am
do does did has have had it its this that these those which who whom whose what when where why how as
than then there their they them he she his her him we our you your i me my not no so if into about
over under after before during between through also can could would should will shall may might must
one ones such other many much more most some any each every both either neither own same very s""".split())


@dataclass
class Token:
    text: str   # the matching key (see _key)
    start: int
    end: int


def _key(word: str) -> str:
    """Lower-cased, with a plural/3rd-person ``s`` dropped (``stands`` matches ``stand``): a crude stemmer."""
    w = word.lower()
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def tokens(text: str) -> list[Token]:
    return [Token(_key(m.group()), m.start(), m.end()) for m in WORD.finditer(text)]


def sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges of the sentences of ``text``."""
    out, start = [], 0
    for m in SENTENCE_END.finditer(text):
        out.append((start, m.end()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _bigrams(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:]))


@dataclass
class Candidate:
    start: int          # character offsets into the context
    end: int
    overlap: int        # step 1: unigram + bigram overlap of its sentence (candidate removed) with Q
    window: float       # step 2: sliding-window score of the question words next to the candidate
    best: float         # sum IC over the question words (the most the window can reach)
    distance: int       # tokens from the candidate to the nearest question word in the sentence
    length: int         # tokens

    @property
    def share(self) -> float:
        """The window score as a share of its maximum."""
        return self.window / self.best if self.best > 0 else 0.0


def answer(question: str, context: str, max_words: int = MAX_WORDS) -> tuple[int, int, float] | None:
    """``(start, end, score)`` of the baseline's answer span in ``context``; None when no candidate."""
    q_words = [t.text for t in tokens(question)]
    q_set = set(q_words)
    q_content = q_set - STOP
    q_bigrams = _bigrams(q_words)
    ctx_tokens = tokens(context)
    counts = Counter(t.text for t in ctx_tokens)
    ic = {w: math.log(1.0 + 1.0 / counts[w]) if counts[w] else math.log(2.0) for w in set(counts) | q_set}
    cands: list[Candidate] = []
    for s, e in sentences(context):
        sent = [t for t in ctx_tokens if s <= t.start < e]
        words = [t.text for t in sent]
        q_pos = [i for i, w in enumerate(words) if w in q_content]
        for i in range(len(sent)):
            for n in range(1, max_words + 1):
                j = i + n
                if j > len(sent):
                    break
                span = words[i:j]
                if any(w in q_set for w in span):
                    break  # a longer span from i would contain it too
                if span[0] in STOP or span[-1] in STOP:
                    continue
                rest = words[:i] + words[j:]
                overlap = len(set(rest) & q_content) + len(_bigrams(rest) & q_bigrams)
                size = len(q_set | set(span))
                # windows of |Q ∪ A| tokens that hold the whole candidate; the question words in them count
                window = max(sum(ic[w] for w in set(words[k:k + size]) if w in q_set)
                             for k in range(max(0, j - size), min(i, max(0, len(words) - size)) + 1))
                dist = min((min(abs(p - i), abs(p - (j - 1))) for p in q_pos), default=len(words))
                cands.append(Candidate(sent[i].start, sent[j - 1].end, overlap, window,
                                       sum(ic[w] for w in q_set), dist, n))
    if not cands:
        return None
    top = max(c.overlap for c in cands)
    best = max((c for c in cands if c.overlap == top),
               key=lambda c: (round(c.share, 9), -c.distance, -c.length, -c.start))
    return best.start, best.end, best.share

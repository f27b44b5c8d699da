"""Span selection for extractive QA: pure numpy over the logits of every window of one record.

Every window of a record is a candidate source: spans are chosen across ALL windows at once (never
"best per window, then merge", which makes scores of different windows incomparable).

- A candidate span is a pair of context tokens ``(i, j)`` of one window with ``i <= j``, at most
  ``max_answer_length`` tokens long, covering at least one character. Its logit is
  ``start_logits[i] + end_logits[j]``; its characters are ``offsets[i][0]:offsets[j][1]``.
- A character span seen in several (overlapping) windows counts once, with its best logit.
- ``score`` is the probability of a span under a softmax over the logits of every distinct candidate
  span of every window of the record (plus the null answer when impossible answers are allowed).
- Null answer (SQuAD 2.0): its logit is the minimum over windows of ``start_logits[null] +
  end_logits[null]`` (``null`` = the CLS token); it wins when ``null_logit - best_span_logit >
  null_threshold``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def window_stride(doc_stride: int, room: int) -> int:
    """The overlap (tokens) between the context windows of one record, the one rule of serving
    (``QATask``) and training (``nlptasks.training.preprocess.qa``): ``--doc-stride``, unless it does not
    fit the ``room`` a window leaves for the context (window length - question - special tokens); then
    half that room."""
    return doc_stride if doc_stride < room else room // 2


@dataclass
class Window:
    """One tokenized window: per-token logits, and for each token its ``(start, end)`` character offsets
    in the original context, or ``None`` when the token is not part of the context."""

    start_logits: np.ndarray
    end_logits: np.ndarray
    offsets: Sequence[tuple[int, int] | None]
    null_index: int = 0


@dataclass
class Span:
    start: int | None   # character offsets into the context; None for the null (no) answer
    end: int | None
    score: float        # probability (see the module docstring)
    logit: float        # start_logit + end_logit
    window: int | None  # index of the window the span was taken from

    @property
    def is_null(self) -> bool:
        return self.start is None


def _window_candidates(w: Window, max_answer_length: int):
    offs = w.offsets
    ctx = np.array([k for k, o in enumerate(offs) if o is not None], dtype=np.int64)
    if ctx.size == 0:
        return None
    cs = np.array([offs[k][0] for k in ctx], dtype=np.int64)
    ce = np.array([offs[k][1] for k in ctx], dtype=np.int64)
    s = np.asarray(w.start_logits, dtype=np.float64)[ctx]
    e = np.asarray(w.end_logits, dtype=np.float64)[ctx]
    n = ctx.size
    ii, jj = [], []
    for d in range(min(max_answer_length, n)):  # a band: end index = start index + d
        i = np.arange(n - d)
        j = i + d
        ok = (ctx[j] - ctx[i] < max_answer_length) & (ce[j] > cs[i])
        ii.append(i[ok])
        jj.append(j[ok])
    ii, jj = np.concatenate(ii), np.concatenate(jj)
    return cs[ii], ce[jj], s[ii] + e[jj]


def select_spans(windows: Sequence[Window], *, max_answer_length: int = 30, top_k: int = 1,
                 allow_impossible: bool = False, null_threshold: float = 0.0,
                 context: str | None = None) -> tuple[Span, list[Span]]:
    """Return ``(answer, best)``: the chosen answer (a span, or the null answer when allowed and it wins)
    and the ``top_k`` best distinct non-empty spans over all windows, best first.

    With ``context`` given, span edges are moved inwards past whitespace (so answers never start or end
    with a space) and spans that become empty are dropped.
    """
    if max_answer_length < 1:
        raise ValueError("max_answer_length must be >= 1")
    parts = []
    for wi, w in enumerate(windows):
        c = _window_candidates(w, max_answer_length)
        if c is not None and c[0].size:
            parts.append((c[0], c[1], c[2], np.full(c[0].size, wi, dtype=np.int64)))
    null_logit = None
    if windows:
        null_logit = min(float(w.start_logits[w.null_index]) + float(w.end_logits[w.null_index])
                         for w in windows)
    if parts:
        cs, ce, logit, win = (np.concatenate(x) for x in zip(*parts))
        # one entry per distinct character span, keeping its best logit (then its first window)
        order = np.lexsort((win, -logit, ce, cs))
        cs, ce, logit, win = cs[order], ce[order], logit[order], win[order]
        first = np.ones(cs.size, dtype=bool)
        first[1:] = (cs[1:] != cs[:-1]) | (ce[1:] != ce[:-1])
        cs, ce, logit, win = cs[first], ce[first], logit[first], win[first]
    else:
        cs = ce = win = np.zeros(0, dtype=np.int64)
        logit = np.zeros(0, dtype=np.float64)

    # softmax over every distinct span (+ the null answer when allowed)
    all_logits = np.append(logit, null_logit) if allow_impossible and null_logit is not None else logit
    if all_logits.size:
        m = all_logits.max()
        z = np.exp(all_logits - m).sum()
        probs = np.exp(logit - m) / z
        null_prob = float(np.exp(null_logit - m) / z) if allow_impossible and null_logit is not None else 0.0
    else:
        probs, null_prob = logit, 0.0

    ranked = np.lexsort((ce, cs, -logit))  # best logit first; ties: earliest, then shortest
    best: list[Span] = []
    seen: set[tuple[int, int]] = set()
    for k in ranked:
        a, b = int(cs[k]), int(ce[k])
        if context is not None:
            while a < b and context[a].isspace():
                a += 1
            while b > a and context[b - 1].isspace():
                b -= 1
            if a == b or (a, b) in seen:
                continue
        seen.add((a, b))
        best.append(Span(a, b, float(probs[k]), float(logit[k]), int(win[k])))
        if len(best) >= top_k:
            break

    null = Span(None, None, null_prob, null_logit if null_logit is not None else float("nan"), None)
    if not best:
        return null, best
    if allow_impossible and null_logit is not None and null_logit - best[0].logit > null_threshold:
        return null, best
    return best[0], best

"""Explanations for extractive summaries: every sentence's score and why it was kept or dropped.

``sentences``: one entry per sentence of the document, in order, with its character offsets
(``start``/``end``, ``null`` when the splitter changed the text), ``score``, ``rank`` (1 = best score),
``kept`` and ``reason``. The selection is replayed step by step with the task's own rules and settings:

- ``minilm-extsum`` (supervised scorer): score = the scorer's logit; sentences are taken by score until
  ``k`` sentences or the learned word budget is reached; a sentence sharing a word trigram with one
  already taken is skipped (``redundancy``); after the stop, the rest are ``length budget``.
- ``minilm-extractive`` (MMR): score = relevance (cosine with the document centroid plus the position
  bonus); each step takes the best ``(1 - diversity) * relevance - diversity * redundancy``; the reason
  of a dropped sentence names its redundancy with the kept ones when that decided (it would have been
  taken on relevance alone).
- ``lead-3``: position only.
"""
from __future__ import annotations

from ..errors import NlpTasksError

METHODS = ("selection",)


def sentence_offsets(document: str, sentences: list[str]) -> list[tuple[int, int] | None]:
    out, at = [], 0
    for s in sentences:
        k = document.find(s, at)
        if k < 0:
            out.append(None)
            continue
        out.append((k, k + len(s)))
        at = k + len(s)
    return out


def trace_supervised(scores, sentences: list[str], k: int, trigram_block: bool = True,
                     max_words: int | None = None) -> list[dict]:
    """The supervised scorer's selection (``extractive_supervised.select``), replayed with a reason per
    sentence. The kept set is the same as ``select``'s (tested)."""
    import numpy as np  # lazily: the CLI parser imports this module for METHODS

    from ..models.extractive_supervised import _trigrams

    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    reason: dict[int, str] = {}
    picked: list[int] = []
    seen: set = set()
    words = 0
    stop = None
    for i in (int(x) for x in order):
        if stop is None and (len(picked) >= k or (max_words and words >= max_words)):
            stop = (f"length budget: {len(picked)} sentence(s) already kept (at most {k})" if len(picked) >= k
                    else f"length budget: {words} words already kept (budget {max_words})")
        if stop is not None:
            reason[i] = stop
            continue
        tri = _trigrams(sentences[i])
        if trigram_block and tri & seen:
            other = next(p for p in picked if _trigrams(sentences[p]) & tri)
            reason[i] = f"redundancy: shares a word trigram with kept sentence {other + 1}"
            continue
        picked.append(i)
        seen |= tri
        words += len(sentences[i].split())
        reason[i] = f"kept: rank {len(picked)} among the kept, by score"
    if not max_words and len(picked) < min(k, len(sentences)):  # select() fills from the blocked ones
        for i in (int(x) for x in order):
            if len(picked) >= k:
                break
            if i not in picked:
                picked.append(i)
                reason[i] = "kept: too few sentences without repeated trigrams, filled by score"
    return _rows(scores, picked, reason)


def _rows(scores, picked, reason) -> list[dict]:
    import numpy as np  # lazily: the CLI parser imports this module for METHODS

    rank = {int(i): r + 1 for r, i in enumerate(np.argsort(-np.asarray(scores), kind="stable"))}
    return [{"score": float(s), "rank": rank[i], "kept": i in picked, "reason": reason[i]}
            for i, s in enumerate(scores)]


def trace_mmr(embeddings, k: int, diversity: float, position_weight: float) -> list[dict]:
    """``extractive.select_sentences`` with a reason per sentence (the same MMR steps: ``mmr_steps``)."""
    import numpy as np  # lazily: the CLI parser imports this module for METHODS

    from ..tasks.extractive import mmr_steps

    relevance, selected = mmr_steps(embeddings, k, diversity, position_weight)
    n = len(relevance)
    if k >= n:
        return _rows(relevance, list(range(n)), {i: "kept: the summary length covers every sentence"
                                                  for i in range(n)})
    emb = np.asarray(embeddings, dtype=np.float64)
    sim = emb @ emb.T
    reason = {}
    by_rel = [int(i) for i in np.argsort(-relevance, kind="stable")]
    top_rel = set(by_rel[:k])
    for step, i in enumerate(selected):
        reason[i] = f"kept: MMR step {step + 1}"
    for i in range(n):
        if i in reason:
            continue
        j = int(np.argmax(sim[i, selected]))
        if i in top_rel:
            reason[i] = (f"redundancy: relevant enough to be kept, but similar to kept sentence "
                         f"{selected[j] + 1} (cosine {sim[i, selected[j]]:.2f})")
        else:
            reason[i] = f"length budget: {k} sentence(s) kept, this one scored lower"
    return _rows(relevance, selected, reason)


def explain(task, records: list[dict], outputs: list[dict], method: str) -> list[dict]:
    from ..tasks.extractive import summary_length
    from ..text import split_sentences

    kind = getattr(task, "_kind", None)
    if kind == "abstractive":
        raise NlpTasksError("--explain for summarize explains extractive models (minilm-extsum, "
                            "minilm-extractive, lead-3); an abstractive model writes new sentences")
    docs = [r["document"] for r in records]
    sents = [split_sentences(d) or [d.strip()] for d in docs]
    s = task.settings
    traces = []
    if kind == "lead":
        for ss in sents:
            traces.append([{"score": None, "rank": i + 1, "kept": i < 3,
                            "reason": "kept: lead-3 takes the first three" if i < 3 else "position: after the first three"}
                           for i in range(len(ss))])
        detail = {"rule": "lead-3"}
    elif kind == "supervised":
        sc = task._scorer
        cap = sc.settings.get("max_sentences")
        block = bool(sc.settings.get("trigram_block", True))
        scored = sc.sentence_scores([ss[: cap or len(ss)] for ss in sents], task.batch_size)
        budget = sc.settings.get("summary_words") if s["sentences"] is None and s["ratio"] is None else None
        for ss, scs in zip(sents, scored):
            rows = trace_supervised(scs, ss[:len(scs)], summary_length(len(scs), s["sentences"], s["ratio"]),
                                    block, max_words=budget)
            rows += [{"score": None, "rank": None, "kept": False,
                      "reason": f"not scored: the model reads the first {cap} sentences"}
                     for _ in ss[len(scs):]]
            traces.append(rows)
        detail = {"rule": "top score, trigram blocking, length budget", "word_budget": budget,
                  "trigram_block": block}
    else:
        flat = [x for ss in sents for x in ss]
        emb = task._encoder.encode(flat, batch_size=task.batch_size or 64).float().cpu().numpy()
        at = 0
        for ss in sents:
            traces.append(trace_mmr(emb[at:at + len(ss)], summary_length(len(ss), s["sentences"], s["ratio"]),
                                    s["diversity"], s["position_weight"]))
            at += len(ss)
        detail = {"rule": "maximal marginal relevance", "diversity": s["diversity"],
                  "position_weight": s["position_weight"]}
    out = []
    for doc, ss, rows in zip(docs, sents, traces):
        offs = sentence_offsets(doc, ss)
        out.append({"method": "selection", "target": "summary", **detail,
                    "sentences": [{"text": t, "start": o[0] if o else None, "end": o[1] if o else None, **r}
                                  for t, o, r in zip(ss, offs, rows)]})
    return out

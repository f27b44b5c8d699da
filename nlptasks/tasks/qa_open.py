"""Question answering over a knowledge base: retrieve, then read (the qa task with ``--index DIR``).

A record holds only a ``question``. The index (``nlptasks.retrieval``) returns the ``--top-k-passages``
best passages (``--retriever``: BM25, dense, or both fused by reciprocal rank); the reader (the qa
task's own model and span decoding) reads every passage, and the answer is the best span over all of
them: the windows of all passages are decoded together by ``select_spans`` (one softmax over every
candidate span of every passage, so ``score`` compares across passages), with each passage's character
offsets moved to its place in a virtual concatenation and mapped back. ``--passage-prior rank`` subtracts
the log of the passage's retrieval rank from its spans' logits (a Zipf prior over the ranking), so a
lower-ranked passage must out-score a higher-ranked one clearly to supply the answer. ``--answer-aggregation
sum`` (the default) adds up the probabilities of the best candidate spans (after the prior) that give the
same answer text (SQuAD normalisation: case, punctuation, articles, spaces), so an answer that several
passages or places support wins over a single slightly higher span (evidence aggregation, as in Wang et
al., 2018, "Evidence Aggregation for Answer Re-Ranking in Open-Domain QA"); ``max`` keeps the single best
span, as DrQA. The answer is then that text's best span, and ``score`` its summed probability. The
output keeps the qa fields (``answer``, ``score``, ``start``/``end`` — offsets into ``passage``) and adds
``source`` (the document id or file path), ``passage_id``, ``passage`` (the text the answer came from)
and ``passages`` (the retrieved passages, best first: id, source, retrieval score and text, which is
what ``retrieval_recall`` scores).
"""
from __future__ import annotations

from ..errors import InputError
from ..optypes import positive_int
from .base import Option

RETRIEVERS = ("bm25", "dense", "hybrid")
DEFAULT_TOP_K_PASSAGES = 5
PRIORS = ("none", "rank")
# chosen on squad_open_local's validation questions (docs/guide/qa-knowledge-base.md): with hybrid retrieval
# and k = 5, the rank prior gives F1 57.8 against 55.1 without it (k = 1..5 and the three retrievers compared)
DEFAULT_PRIOR = "rank"
AGGREGATIONS = ("max", "sum")
# chosen on squad_open_local's validation questions with the rank prior (docs/guide/qa-knowledge-base.md):
# summing over the 20 best spans raised F1 at every k compared (1, 3, 5, 10, 20; hybrid retrieval), at
# k = 5 from 57.4 to 58.4
DEFAULT_AGGREGATION = "sum"
AGGREGATION_CANDIDATES = 20  # the n-best spans whose probabilities are summed per answer text
_SEP = "\n\n"

OPEN_OPTIONS = (
    Option("--index", type=str, default=None,
           help="answer from this knowledge-base index folder (`nlptasks index build`): records need only "
                "a question (plain text: one question per line; or --question)"),
    Option("--retriever", type=str, default="hybrid", choices=RETRIEVERS,
           help="with --index: bm25, dense, or hybrid = both fused by reciprocal rank (default)"),
    Option("--top-k-passages", type=positive_int, default=DEFAULT_TOP_K_PASSAGES,
           help=f"with --index: passages retrieved and read per question (default {DEFAULT_TOP_K_PASSAGES})"),
    Option("--passage-prior", type=str, default=DEFAULT_PRIOR, choices=PRIORS,
           help=f"with --index: how the retrieval rank weighs the reader: none (the best span logit over all "
                f"passages, as DrQA) or rank (a span's logit minus the log of its passage's rank) "
                f"(default {DEFAULT_PRIOR})"),
    Option("--answer-aggregation", type=str, default=DEFAULT_AGGREGATION, choices=AGGREGATIONS,
           help=f"with --index: max (the single best span) or sum (the probabilities of the "
                f"{AGGREGATION_CANDIDATES} best spans added up per answer text, so an answer found in several "
                f"passages gains) (default {DEFAULT_AGGREGATION})"),
)


def records_from_options(options: dict):
    question = options.get("question")
    if options.get("context_file") is not None:
        raise InputError("--context-file and --index are two ways to give the context: choose one")
    if question is None:
        return None
    if not question.strip():
        raise InputError("--question is empty")
    return [{"question": question, "__line__": 1}], "--question"


def check_index(settings: dict) -> None:
    from ..retrieval.index import check_encoder, read_manifest

    folder = settings["index"]
    check_encoder(read_manifest(folder), folder)


def index_fingerprint(folder: str) -> str:
    from ..retrieval.index import read_manifest

    return read_manifest(folder)["fingerprint"]


def model_info(task, info: dict) -> dict:
    """The reader's identity plus the retrieval settings: the name shows retriever and k (so boards keep
    one row per setting), the weights hash covers the reader and the retrieval encoder."""
    from ..retrieval.index import encoder_identity

    s = task.settings
    enc = encoder_identity()["weights_sha256"]
    agg = s["answer_aggregation"]
    scoring = ("" if s["passage_prior"] == "none" else f", {s['passage_prior']} prior") + \
        ("" if agg == "max" else f", {agg}")
    return {**info, "name": f"{info.get('name') or task.model_name} [{s['retriever']}, k={s['top_k_passages']}{scoring}]",
            "reader": info.get("name") or task.model_name,
            "weights_hash": f"{info.get('weights_hash')}+{enc}" if info.get("weights_hash") else None,
            "retrieval": {"retriever": s["retriever"], "top_k_passages": s["top_k_passages"],
                          "passage_prior": s["passage_prior"], "answer_aggregation": agg,
                          "encoder": "all-MiniLM-L6-v2", "encoder_weights_sha256": enc}}


def _index(task):
    kb = getattr(task, "_kb", None)
    if kb is None or str(kb.folder) != str(task.settings["index"]):
        from ..retrieval.index import KnowledgeIndex

        kb = task._kb = KnowledgeIndex(task.settings["index"])
    return kb


def _hit_summary(h: dict) -> dict:
    return {"passage_id": h["id"], "source": h["source"], "title": h.get("title"), "score": h["score"],
            "text": h["text"]}


def predict_open(task, records: list[dict]) -> list[dict]:
    s = task.settings
    questions = [r["question"].strip() for r in records]
    hits = _index(task).search(questions, s["retriever"], s["top_k_passages"])
    if task._kind == "baseline":
        return [_baseline(task, q, h) for q, h in zip(questions, hits)]
    pairs = [{"question": q, "context": h["text"]} for q, hs in zip(questions, hits) for h in hs]
    owners_of_pair = [i for i, hs in enumerate(hits) for _ in hs]
    per_q: list[list] = [[] for _ in records]
    if pairs:
        from ..backend.inference import forward_batched
        from .qa_postprocess import Window

        items, owners, offsets, nulls = task._encode(pairs)
        logits = forward_batched(task._lm, items, outputs=("start_logits", "end_logits"), per_token=True,
                                 batch_size=task.batch_size, max_tokens=task.max_tokens, desc="qa")
        first_pair = {}
        for p_i, q_i in enumerate(owners_of_pair):
            first_pair.setdefault(q_i, p_i)
        for owner, (start, end), offs, null in zip(owners, logits, offsets, nulls):
            q_i = owners_of_pair[owner]
            per_q[q_i].append((owner - first_pair[q_i], Window(start.numpy(), end.numpy(), offs, null)))
    return [_answer(task, hs, wins) for hs, wins in zip(hits, per_q)]


def _answer(task, hits: list[dict], windows: list) -> dict:
    import numpy as np

    from .qa_postprocess import Window, select_spans

    s = task.settings
    passages = [_hit_summary(h) for h in hits]
    if not hits:
        return {"answer": "", "score": 0.0, "start": None, "end": None, "source": None, "passage_id": None,
                "passage": None, "passages": [], "windows": 0}
    bases, pos = [], 0
    for h in hits:
        bases.append(pos)
        pos += len(h["text"]) + len(_SEP)
    virtual = _SEP.join(h["text"] for h in hits)
    shifted = []
    rank_prior = s.get("passage_prior") == "rank"
    for j, w in windows:
        b = bases[j]
        # a constant added to a window's start logits moves every span logit of that window by it
        start = w.start_logits - np.log(j + 1) if rank_prior else w.start_logits
        shifted.append(Window(start, w.end_logits,
                              [None if o is None else (o[0] + b, o[1] + b) for o in w.offsets], w.null_index))
    summed = s["answer_aggregation"] == "sum"
    answer, best = select_spans(shifted, max_answer_length=s["max_answer_length"],
                                top_k=max(s["top_k"], AGGREGATION_CANDIDATES) if summed else s["top_k"],
                                allow_impossible=s["allow_impossible"], null_threshold=s["null_threshold"],
                                context=virtual)
    if summed and not answer.is_null and best:
        answer = _aggregate(best, virtual)
    best = best[:s["top_k"]]
    row = _span(answer, hits, bases)
    row.update(passages=passages, windows=len(windows))
    if s["top_k"] > 1:
        row["answers"] = [_span(b, hits, bases) for b in best]
    return row


def _aggregate(best: list, virtual: str):
    """The best span of the answer text whose spans' probabilities add up highest, with that sum as its score
    (``best``: the n-best distinct spans, best first)."""
    from dataclasses import replace

    from ..metrics.qa import normalize_answer

    total: dict[str, float] = {}
    first: dict[str, object] = {}
    for span in best:
        key = normalize_answer(virtual[span.start:span.end])
        total[key] = total.get(key, 0.0) + span.score
        first.setdefault(key, span)
    key = max(total, key=lambda k: (total[k], first[k].score))
    return replace(first[key], score=total[key])


def _span(span, hits: list[dict], bases: list[int]) -> dict:
    if span.is_null:
        top = hits[0]
        return {"answer": "", "score": span.score, "start": None, "end": None, "source": top["source"],
                "passage_id": top["id"], "passage": top["text"]}
    j = max(i for i, b in enumerate(bases) if b <= span.start)
    h, b = hits[j], bases[j]
    start, end = span.start - b, span.end - b
    return {"answer": h["text"][start:end], "score": span.score, "start": start, "end": end,
            "source": h["source"], "passage_id": h["id"], "passage": h["text"]}


def _baseline(task, question: str, hits: list[dict]) -> dict:
    from ..models.qa_baseline import answer

    best = None
    for h in hits:
        found = answer(question, h["text"])
        if found is not None and (best is None or found[2] > best[0][2]):
            best = (found, h)
    passages = [_hit_summary(h) for h in hits]
    if best is None:
        return {"answer": "", "score": 0.0, "start": None, "end": None, "source": None, "passage_id": None,
                "passage": None, "passages": passages, "windows": 0}
    (start, end, score), h = best
    return {"answer": h["text"][start:end], "score": score, "start": start, "end": end, "source": h["source"],
            "passage_id": h["id"], "passage": h["text"], "passages": passages, "windows": 0}

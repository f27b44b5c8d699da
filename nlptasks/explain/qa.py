"""Explanations for extractive QA: which words the chosen span rests on, and the spans it beat.

- ``tokens``: integrated gradients (:mod:`.ig`) of the chosen span's logit ``start_logits[i] +
  end_logits[j]`` in the window the span was taken from, summed into words of the question
  (``field: "question"``, offsets into the stripped question) and of the context (``field: "context"``,
  offsets into the context). Words outside that window get no score.
- ``alternatives``: the best distinct spans over every window (the task's own span selection,
  ``qa_postprocess.select_spans``), each with its probability, logit and the window it came from
  (``window`` and that window's character range in the context).
"""
from __future__ import annotations

from ..errors import NlpTasksError
from .ig import DEFAULT_STEPS, baseline_ids, check_differentiable, integrate, pad_batch
from .words import group_subwords, word_spans, words_to_tokens

METHODS = ("ig",)
ALTERNATIVES = 5


def explain(task, records: list[dict], outputs: list[dict], method: str) -> list[dict]:
    if getattr(task, "_kind", None) != "model":
        raise NlpTasksError(f"--explain for qa needs a span model; {task.model_name!r} is a baseline")
    check_differentiable(task._lm)
    return [_one(task, rec, out) for rec, out in zip(records, outputs)]


def _one(task, rec: dict, out: dict) -> dict:
    import torch

    from ..backend.inference import forward_batched
    from ..tasks.qa_postprocess import Window, select_spans

    s = task.settings
    items, _, offsets, nulls = task._encode([rec])
    logits = forward_batched(task._lm, items, outputs=("start_logits", "end_logits"), per_token=True,
                             desc="qa explain")
    windows = [Window(a.numpy(), b.numpy(), offs, null) for (a, b), offs, null in zip(logits, offsets, nulls)]
    ctx = rec["context"]
    answer, best = select_spans(windows, max_answer_length=s["max_answer_length"], top_k=ALTERNATIVES,
                                allow_impossible=s["allow_impossible"], null_threshold=s["null_threshold"],
                                context=ctx)

    def ranges(w):
        spans = [o for o in offsets[w] if o is not None]
        return [spans[0][0], spans[-1][1]] if spans else None

    alternatives = [{"answer": ctx[b.start:b.end], "start": b.start, "end": b.end, "score": b.score,
                     "logit": b.logit, "window": b.window, "window_range": ranges(b.window)} for b in best]
    expl = {"method": "ig", "target": out.get("answer", ""), "tokens": [], "alternatives": alternatives,
            "windows": len(windows)}
    if answer.is_null or answer.window is None:
        expl["note"] = "no answer was chosen: nothing to attribute"
        return expl
    w = answer.window
    offs = offsets[w]
    # the token positions of the span's edges in its window (the best-logit pair covering its characters)
    start_logits, end_logits = windows[w].start_logits, windows[w].end_logits
    starts = [k for k, o in enumerate(offs) if o is not None and o[0] <= answer.start < max(o[1], o[0] + 1)]
    starts = starts or [k for k, o in enumerate(offs) if o is not None and o[0] >= answer.start][:1]
    ends = [k for k, o in enumerate(offs) if o is not None and o[0] < answer.end <= o[1]]
    ends = ends or [k for k, o in enumerate(offs) if o is not None and o[1] <= answer.end][-1:]
    i = max(starts, key=lambda k: start_logits[k])
    j = max(ends, key=lambda k: end_logits[k])
    tok, model = task._lm.tokenizer, task._lm.model
    row = dict(items[w])
    row["baseline_ids"] = baseline_ids(tok, row["input_ids"])
    keys = list(items[w].keys())
    batch = pad_batch([row], tok.pad_token_id or 0, keys + ["baseline_ids"])
    names = [k for k in keys if k != "input_ids"]

    def forward(input_ids, *extra):
        o = model(input_ids=input_ids, **dict(zip(names, extra)))
        return o.start_logits[:, i].float() + o.end_logits[:, j].float()

    attr, delta = integrate(model, forward, batch["input_ids"], batch["baseline_ids"],
                            tuple(batch[k] for k in names), None, DEFAULT_STEPS)
    scores = attr[0].tolist()
    expl["tokens"] = words_to_tokens(ctx, word_spans(ctx), group_subwords(word_spans(ctx), offs, scores),
                                     field="context")
    q_tokens = _question_tokens(task, rec, row["input_ids"], offs, scores)
    expl["tokens"] = q_tokens + [t for t in expl["tokens"] if _in_window(t, offs)]
    expl["span_tokens"] = [i, j]
    expl["window"] = w
    expl["completeness_delta"] = float(delta[0])
    return expl


def _in_window(token: dict, offs) -> bool:
    spans = [o for o in offs if o is not None]
    return bool(spans) and token["start"] < spans[-1][1] and token["end"] > spans[0][0]


def _question_tokens(task, rec: dict, ids, offs, scores) -> list[dict]:
    """Question words with their scores: the window's non-context, non-special tokens are the question's
    tokens, in order (matched to the question tokenized alone)."""
    tok = task._lm.tokenizer
    raw = rec["question"]
    q = raw.strip()
    lead = len(raw) - len(raw.lstrip())
    enc = tok(q, add_special_tokens=False, return_offsets_mapping=True)
    special = set(tok.all_special_ids)
    pos = [k for k, (t, o) in enumerate(zip(ids, offs)) if o is None and int(t) not in special]
    if len(pos) != len(enc["input_ids"]):
        return []
    q_offs = [(a + lead, b + lead) for a, b in enc["offset_mapping"]]
    spans = word_spans(raw)
    word = group_subwords(spans, q_offs, [scores[k] for k in pos])
    return words_to_tokens(raw, spans, word, field="question")

"""Explanations for translation: a source-target alignment and each target token's log-probability.

The output is generated again (the task's greedy settings: the same tokens) and then scored in one
teacher-forced forward pass over ``decoder start + output + EOS`` with attention weights returned:

- ``logprob`` of target token ``t`` = ``log softmax(logits)`` at the step that predicts it (the model's
  own distribution, before generation constraints such as ``bad_words_ids``);
- ``alignment[t][s]`` = the cross-attention from the decoder query that predicts target token ``t`` to
  source token ``s``, averaged over all heads of the last ``ALIGN_LAYERS`` decoder layers (rows sum to 1;
  the last layers align best in practice, and averaging heads keeps no single head's idiosyncrasy);
  ``source`` of a target token is its argmax.

A text translated in several pieces (longer than the model's input) is explained piece by piece
(``pieces``). Source tokens carry character offsets into the input text (``null`` for special tokens
and the task's prefix).
"""
from __future__ import annotations

import contextlib

from ..errors import NlpTasksError

METHODS = ("attention",)
ALIGN_LAYERS = 2


@contextlib.contextmanager
def eager_attention(model):
    """Attention weights need the eager implementation (SDPA does not return them); restored after."""
    before = getattr(model.config, "_attn_implementation", None)
    switch = before not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)


def explain(task, records: list[dict], outputs: list[dict], method: str) -> list[dict]:
    if getattr(task, "_kind", None) != "model":
        raise NlpTasksError(f"--explain for translate needs a model; {task.model_name!r} is a baseline")
    if task._lm.ct2 is not None:
        raise NlpTasksError("--explain for translate needs the transformers engine (attention weights), "
                            "not --engine ctranslate2")
    out = []
    for rec, o in zip(records, outputs):
        text = rec["text"]
        if not text.strip():
            out.append({"method": "attention", "target": o.get("translation", ""), "pieces": []})
            continue
        pair = task._pair(rec)
        plan = task._plan(pair)
        pieces = task._pieces(text, plan["prefix"], pair[0])
        at, parts = 0, []
        for piece in pieces:
            k = text.find(piece, at)
            base = k if k >= 0 else None
            at = k + len(piece) if k >= 0 else at
            parts.append(_piece(task, piece, plan, base))
        out.append({"method": "attention", "target": o.get("translation", ""),
                    "rule": f"mean over heads of the last {ALIGN_LAYERS} decoder layers' cross-attention",
                    "pieces": parts})
    return out


def _piece(task, piece: str, plan: dict, base: int | None) -> dict:
    import torch

    from ..backend.inference import generate_batched

    lm = task._lm
    tok, model = lm.tokenizer, lm.model
    if plan["src_code"] is not None:
        tok.src_lang = plan["src_code"]
    prefix = plan["prefix"]
    enc = tok(prefix + piece, truncation=True, max_length=task.input_limit, return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")
    cfg = task.gen_config
    if plan["forced_bos"] is not None:
        import copy

        cfg = copy.deepcopy(cfg)
        cfg.forced_bos_token_id = plan["forced_bos"]
    item = {k: enc[k] for k in enc.keys()}
    ids = generate_batched(lm, [item], cfg, desc="translate explain")[0]
    start = model.config.decoder_start_token_id
    if start is None:
        start = cfg.decoder_start_token_id
    eos = cfg.eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) else eos
    target = list(ids) + ([eos] if eos is not None else [])
    dev = next(model.parameters()).device
    inputs = {k: torch.tensor([v], device=dev) for k, v in item.items()}
    dec = torch.tensor([[start] + target[:-1]], device=dev)
    with eager_attention(model), torch.inference_mode():
        res = model(**inputs, decoder_input_ids=dec, output_attentions=True)
    logp = torch.log_softmax(res.logits[0].float(), dim=-1)
    token_lp = [float(logp[t, tid]) for t, tid in enumerate(target)]
    cross = res.cross_attentions[-ALIGN_LAYERS:]
    align = torch.stack([c[0].float() for c in cross]).mean(dim=(0, 1))  # [target, source]
    src_ids = item["input_ids"]
    src_tokens = []
    for tid, (a, b) in zip(src_ids, offsets):
        special = int(tid) in set(tok.all_special_ids) or (a == 0 and b == 0)
        if not special:
            while a < b and (prefix + piece)[a].isspace():
                a += 1
        inside = not special and base is not None and a >= len(prefix)
        src_tokens.append({"text": (prefix + piece)[a:b] if not special else tok.convert_ids_to_tokens(int(tid)),
                           "start": base + a - len(prefix) if inside else None,
                           "end": base + b - len(prefix) if inside else None})
    tgt_tokens = []
    special_ids = set(tok.all_special_ids)
    for t, tid in enumerate(target):
        row = align[t]
        shown = tok.decode([int(tid)]).strip() if int(tid) not in special_ids else tok.convert_ids_to_tokens(int(tid))
        tgt_tokens.append({"text": shown or tok.convert_ids_to_tokens(int(tid)), "logprob": token_lp[t],
                           "source": int(row.argmax()), "special": int(tid) in special_ids})
    return {"source_tokens": src_tokens, "target_tokens": tgt_tokens,
            "alignment": [[round(float(x), 5) for x in row] for row in align],
            "logprob": sum(token_lp), "text_start": base}

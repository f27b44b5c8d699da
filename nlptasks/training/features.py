"""Turn a task's records into model features, collator, metric function and generation prompts."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from . import preprocess
from .evaluation import score
from .tasks import TrainTask

log = logging.getLogger("nlptasks")


@dataclass
class Prepared:
    train: list[dict]
    eval: list[dict] | None
    collator: Any
    compute_metrics: Callable | None
    label_names: list[str] | None = None          # Trainer's label keys (qa: start/end positions)
    gen_prompts: list[list[int]] | None = None    # chat: prompt ids per validation record
    gen_references: list[str] | None = None
    info: dict = field(default_factory=dict)      # recorded in the result (labels, prefix, languages)


def model_limit(tokenizer, config, wanted: int) -> int:
    limits = [wanted]
    tm = getattr(tokenizer, "model_max_length", None)
    if tm and tm < 10**8:
        limits.append(int(tm))
    for attr in ("max_position_embeddings", "n_positions"):
        v = getattr(config, attr, None)
        if isinstance(v, int) and v > 0:
            limits.append(v)
    return min(limits)


def prepare(task: TrainTask, s, tokenizer, config, train_records: list[dict], eval_records: list[dict] | None,
            label2id: dict | None) -> Prepared:
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding

    from .settings import LENGTHS

    max_len, max_tgt = LENGTHS[task.kind]
    max_len = model_limit(tokenizer, config, s.max_length or max_len)
    max_tgt = s.max_target_length or max_tgt
    use_metric = s.metric != "loss"

    if task.kind == "classification":
        tr = preprocess.classification(train_records, tokenizer, label2id, max_length=max_len, name="--train")
        ev = None
        if eval_records is not None:
            ev = preprocess.classification(eval_records, tokenizer, label2id, max_length=max_len,
                                           name="--validation")

        def metrics(p):
            logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
            return score(task, logits.argmax(-1).tolist(), [int(x) for x in p.label_ids])

        return Prepared(tr, ev, DataCollatorWithPadding(tokenizer), metrics if use_metric else None,
                        info={"max_length": max_len})

    if task.kind == "qa":
        stride = min(s.stride, max_len // 2)
        tr, _ = preprocess.qa(train_records, tokenizer, max_length=max_len, stride=stride, name="--train")
        ev = meta = None
        if eval_records is not None:
            ev, meta = preprocess.qa(eval_records, tokenizer, max_length=max_len, stride=stride,
                                     name="--validation", keep_offsets=True)
        contexts = [str(r["context"]) for r in eval_records or []]
        refs = [[str(t) for t in r["answers"]["text"]] for r in eval_records or []]

        def metrics(p):
            start, end = p.predictions[:2]
            answers = preprocess.decode_qa(start, end, meta, contexts)
            return score(task, answers, refs)

        return Prepared(tr, ev, DataCollatorWithPadding(tokenizer), metrics if use_metric else None,
                        label_names=["start_positions", "end_positions"],
                        info={"max_length": max_len, "stride": stride, "windows_train": len(tr)})

    if task.kind == "seq2seq":
        src, tgt = (preprocess.translation_langs(train_records, s.source_lang, s.target_lang)
                    if task.name == "translate" else (None, None))
        prefix = preprocess.seq2seq_prefix(config, task.name, src, tgt, s.prefix)
        xs, ys = preprocess.seq2seq_pairs(train_records, task.name, "--train", src, tgt)
        tr = preprocess.seq2seq(xs, ys, tokenizer, prefix=prefix, max_source=max_len, max_target=max_tgt)
        ev = None
        refs: list[str] = []
        if eval_records is not None:
            exs, refs = preprocess.seq2seq_pairs(eval_records, task.name, "--validation", src, tgt)
            ev = preprocess.seq2seq(exs, refs, tokenizer, prefix=prefix, max_source=max_len, max_target=max_tgt)

        def metrics(p):
            import numpy as np

            ids = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
            ids = np.where(ids < 0, tokenizer.pad_token_id, ids)
            preds = [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
            return score(task, preds, refs[:len(preds)])

        info = {"max_length": max_len, "max_target_length": max_tgt, "prefix": prefix}
        if src:
            info.update(source_lang=src, target_lang=tgt)
        return Prepared(tr, ev, DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=preprocess.IGNORE),
                        metrics if use_metric else None, info=info)

    # causal LM (chat)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tr = preprocess.chat(train_records, tokenizer, max_length=max_len, max_response=max_tgt, name="--train")
    ev = prompts = refs = None
    if eval_records is not None:
        ev = preprocess.chat(eval_records, tokenizer, max_length=max_len, max_response=max_tgt, name="--validation")
        if use_metric:
            prompts = [preprocess.chat_prompt_ids(tokenizer, r["history"])[-(max_len - s.max_new_tokens):]
                       for r in eval_records]
            refs = [str(r["response"]) for r in eval_records]
    return Prepared(tr, ev, DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=preprocess.IGNORE), None,
                    gen_prompts=prompts, gen_references=refs,
                    info={"max_length": max_len, "max_response_length": max_tgt})

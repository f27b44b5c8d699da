"""Turn a task's records into model features, collator, metric function and generation prompts: the
lengths are settled here, the rest is the task's training spec (``spec.prepare``)."""
from __future__ import annotations

from .spec import Prepared, TrainingSpec

__all__ = ["Prepared", "model_limit", "prepare"]


def model_limit(tokenizer, config, wanted: int) -> int:
    """``wanted`` capped by the model's input limit (the rule of run and eval)."""
    from ..backend.limits import max_input_tokens

    return min(wanted, max_input_tokens(tokenizer, config, fallback=wanted))


def prepare(spec: TrainingSpec, s, tokenizer, config, train_records: list[dict], eval_records: list[dict] | None,
            label2id: dict | None) -> Prepared:
    max_len, max_tgt = spec.lengths
    max_len = model_limit(tokenizer, config, s.max_length or max_len)
    max_tgt = s.max_target_length or max_tgt
    return spec.prepare(s, tokenizer, config, train_records, eval_records, label2id, max_len, max_tgt)

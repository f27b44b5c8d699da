"""Greedy decoding that drops finished rows from the batch.

transformers' greedy search keeps every row of a batch in the decoder until the last row emits EOS: a
row that finished early still costs a decoder position (self- and cross-attention, feed-forward, the
vocabulary projection) at every later step, and its output is padding. On a model with real EOS
behaviour that is a large share of the work (``benchmarks/finished_rows_translation.py``).

:func:`decode` is a ``custom_generate`` loop for ``model.generate``: transformers prepares everything
as usual (special tokens, encoder outputs, decoder start ids, generation lengths, logits processors,
stopping criteria, the cache) and this loop runs the steps. It is transformers' greedy step, with one
change: when rows finish, they leave the batch (their rows of the cache, the encoder states and the
attention mask are dropped), so the remaining steps run on the rows still decoding. It returns the same
``(batch, length)`` tensor as transformers, finished rows padded, so the tokens are the same as plain
``generate`` (tests check this on tiny Marian, BART, T5 and GPT-2 models and on the packaged translator).

Only row-wise logits processors and stopping criteria allow rows to leave (each row's scores depend on
that row alone); with any other processor, criterion or model input the loop keeps all rows, exactly as
transformers does. :func:`supported` says whether a generation config can use this loop at all (greedy,
one sequence per input; encoder-decoder and decoder-only models alike).
"""
from __future__ import annotations

import inspect
import logging

log = logging.getLogger("nlptasks")

# Logits processors and stopping criteria whose decision for a row depends on that row's tokens (and the
# shared step count) alone, so that they give the same result on any subset of the batch's rows.
ROW_WISE_PROCESSORS = frozenset({
    "NoBadWordsLogitsProcessor", "SequenceBiasLogitsProcessor", "ForcedEOSTokenLogitsProcessor",
    "ForcedBOSTokenLogitsProcessor", "MinLengthLogitsProcessor", "MinNewTokensLengthLogitsProcessor",
    "NoRepeatNGramLogitsProcessor", "RepetitionPenaltyLogitsProcessor", "SuppressTokensLogitsProcessor",
    "SuppressTokensAtBeginLogitsProcessor", "LogitNormalization", "ExponentialDecayLengthPenalty",
    "InfNanRemoveLogitsProcessor",
})
ROW_WISE_CRITERIA = frozenset({"MaxLengthCriteria", "EosTokenCriteria", "MaxTimeCriteria"})
# Per-row state of those processors, cut along with the batch (repetition penalty on left-padded prompts)
PER_ROW_STATE = frozenset({"prompt_ignore_length"})
# Model inputs shared by all rows even when their length happens to equal the number of rows
SHARED_INPUTS = frozenset({"cache_position"})


def supported(model, gen_config) -> bool:
    """Whether :func:`decode` can run ``gen_config`` on ``model``: greedy search (one beam, no sampling,
    no assistant), one sequence per input, a model with transformers' generation helpers."""
    return (not gen_config.do_sample
            and (gen_config.num_beams or 1) == 1
            and (gen_config.num_return_sequences or 1) == 1
            and not getattr(gen_config, "return_dict_in_generate", False)
            and getattr(gen_config, "penalty_alpha", None) is None
            and getattr(gen_config, "prompt_lookup_num_tokens", None) is None
            and getattr(gen_config, "prefill_chunk_size", None) is None
            and hasattr(model, "prepare_inputs_for_generation")
            and hasattr(model, "_update_model_kwargs_for_generation"))


def _row_wise(items, names, batch: int) -> bool:
    """Every item is of a known row-wise class and holds no per-row state (a tensor over the batch's rows,
    such as the repetition penalty's prompt lengths of left-padded prompts)."""
    import torch

    def per_row_state(x) -> bool:
        return any(isinstance(v, torch.Tensor) and v.dim() >= 1 and v.shape[0] == batch
                   for k, v in vars(x).items() if k not in PER_ROW_STATE)

    return all(type(x).__name__ in names and not per_row_state(x) for x in items)


def _selectable(value) -> bool:
    """Whether :func:`_select` knows how to cut ``value`` down to some of its rows."""
    import torch
    from transformers.cache_utils import Cache
    from transformers.utils import ModelOutput

    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return True
    if isinstance(value, Cache):
        return hasattr(value, "batch_select_indices")
    if isinstance(value, ModelOutput):
        return all(isinstance(v, torch.Tensor) or (isinstance(v, tuple) and all(isinstance(t, torch.Tensor) for t in v))
                   for v in value.values())
    return False


def _select(value, keep, n_rows):
    """``value`` restricted to the rows in ``keep`` (a LongTensor of row indices); a cache is cut in place.
    Tensors whose first dimension is not the batch are shared by all rows and stay as they are."""
    import torch
    from transformers.cache_utils import Cache
    from transformers.utils import ModelOutput

    if isinstance(value, torch.Tensor):
        if value.dim() == 0 or value.shape[0] != n_rows:
            return value
        return value.index_select(0, keep.to(value.device))
    if isinstance(value, Cache):
        value.batch_select_indices(keep)
        return value
    if isinstance(value, ModelOutput):
        out = value.__class__()
        for k, v in value.items():
            out[k] = tuple(_select(t, keep, n_rows) for t in v) if isinstance(v, tuple) else _select(v, keep, n_rows)
        return out
    return value


def decode(model, input_ids, logits_processor, stopping_criteria, generation_config, **model_kwargs):
    """Greedy search that drops finished rows (a ``custom_generate`` callable for ``model.generate``).

    transformers hands a custom loop neither a streamer nor ``synced_gpus`` (ranks decoding in lockstep
    under DeepSpeed ZeRO-3 or FSDP): callers use this loop only where neither is wanted
    (``inference.drop_finished_rows``)."""
    import torch

    pad = generation_config._pad_token_tensor
    pad_id = int(pad) if pad is not None else 0
    has_eos = any(hasattr(c, "eos_token_id") for c in stopping_criteria)
    batch = input_ids.shape[0]
    may_drop = has_eos and _row_wise(logits_processor, ROW_WISE_PROCESSORS, batch) and _row_wise(
        stopping_criteria, ROW_WISE_CRITERIA, batch)
    if not may_drop:
        log.debug("greedy loop keeps finished rows: processors %s, criteria %s",
                  [type(p).__name__ for p in logits_processor], [type(c).__name__ for c in stopping_criteria])
    params = inspect.signature(model.prepare_inputs_for_generation).parameters
    takes_next_len = "next_sequence_length" in params
    takes_first = "is_first_iteration" in params

    rows = torch.arange(batch, device=input_ids.device)  # original row of each active row
    unfinished = torch.ones(batch, dtype=torch.long, device=input_ids.device)
    done: dict[int, torch.Tensor] = {}
    first = True
    while True:
        kwargs = dict(model_kwargs)
        if takes_next_len:
            kwargs["next_sequence_length"] = None if first else 1
        if takes_first:
            kwargs["is_first_iteration"] = first
        inputs = model.prepare_inputs_for_generation(input_ids, **kwargs)
        outputs = model(**inputs, return_dict=True)
        first = False
        model_kwargs = model._update_model_kwargs_for_generation(outputs, model_kwargs,
                                                                 is_encoder_decoder=model.config.is_encoder_decoder)
        logits = outputs.logits[:, -1].to(copy=True, dtype=torch.float32, device=input_ids.device)
        del outputs
        scores = logits_processor(input_ids, logits)
        next_tokens = torch.argmax(scores, dim=-1)
        if has_eos:
            next_tokens = next_tokens * unfinished + pad_id * (1 - unfinished)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
        unfinished = unfinished & ~stopping_criteria(input_ids, None)
        if int(unfinished.max()) == 0:
            break
        if may_drop and int(unfinished.min()) == 0:
            if not all(_selectable(v) for v in model_kwargs.values()):
                may_drop = False  # a per-row input this loop cannot cut: keep every row, as transformers does
                continue
            keep = unfinished.nonzero().squeeze(1)
            for i in (unfinished == 0).nonzero().squeeze(1).tolist():
                done[int(rows[i])] = input_ids[i]
            model_kwargs = {k: v if k in SHARED_INPUTS else _select(v, keep, input_ids.shape[0])
                            for k, v in model_kwargs.items()}
            for p in logits_processor:
                for name in PER_ROW_STATE & set(vars(p)):
                    setattr(p, name, _select(getattr(p, name), keep, input_ids.shape[0]))
            input_ids, rows, unfinished = input_ids[keep], rows[keep], unfinished[keep]
    for i, r in enumerate(rows.tolist()):
        done[r] = input_ids[i]
    out = torch.full((batch, input_ids.shape[1]), pad_id, dtype=input_ids.dtype, device=input_ids.device)
    for r, seq in done.items():
        out[r, :seq.shape[0]] = seq
    return out

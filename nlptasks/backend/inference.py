"""Batched forward passes and generation over pre-tokenized inputs; task-agnostic.

Inputs are lists of token-id dicts (as returned by a tokenizer without padding). Each batch is
length-sorted (see ``batching``), padded only to its own longest item, moved to the device, and run
under ``torch.inference_mode``. Outputs come back in input order.
"""
from __future__ import annotations

import copy
import logging
import os
import threading
from typing import Sequence

from .. import cost_hooks
from ..errors import NlpTasksError
from .batching import run_batched
from .limits import max_input_tokens

log = logging.getLogger("nlptasks")

FORWARD_BATCH = 64
FORWARD_TOKENS = 16384
GENERATE_BATCH = 64  # CPU decoding is matmul-bound only from ~32 rows on; the token budget caps long inputs
# With finished rows dropped (greedy.py) a larger batch no longer waits for its longest row: on the packaged
# translator, 1,014 sources took 2.99 s at 128 against 3.32 s at 64 (benchmarks/finished_rows_translation.py)
GENERATE_BATCH_DROPPING = 128
GENERATE_TOKENS = 8192

# nlptasks' greedy loop that drops finished rows (backend/greedy.py) runs on the CPU, where it was measured
# (benchmarks/finished_rows_translation.py); "1" runs it on every device, "0" nowhere (transformers' loop)
DROP_FINISHED_ENV = "NLPTASKS_DROP_FINISHED_ROWS"

GENERATION_OPTIONS = ("max_new_tokens", "min_new_tokens", "max_length", "min_length", "num_beams", "no_repeat_ngram_size",
                      "length_penalty", "early_stopping", "do_sample", "temperature", "top_p", "top_k",
                      "repetition_penalty")


# Forward passes run by a thread that called pad_to_multiple(n) pad each batch to a multiple of n tokens.
# A long-running server meets every batch size x padded length, and each new shape makes oneDNN build and
# cache new kernels: RSS grew without end (sentiment, random batches: +447 MB after 150, +715 MB after 300)
# and stayed flat after warm-up once lengths were padded to a multiple of 16 (+6 MB from batch 50 to 150). A thread setting,
# so `nlptasks run` in the same process keeps its exact padding.
_PADDING = threading.local()


def pad_to_multiple(multiple: int | None) -> None:
    """Pad the forward passes this thread runs to a multiple of ``multiple`` tokens (None or 1: to the
    batch's longest item). The attention mask covers the extra padding: outputs are unchanged."""
    _PADDING.multiple = multiple if multiple and multiple > 1 else None


def _pad(tokenizer, items: list[dict], device, padding_side: str | None = None, multiple: int | None = None):
    import torch

    feats = [{k: v for k, v in it.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
             for it in items]
    kwargs = {"return_tensors": "pt"}
    if padding_side is not None:
        kwargs["padding_side"] = padding_side
    if multiple:
        kwargs["pad_to_multiple_of"] = multiple
    batch = tokenizer.pad(feats, **kwargs)
    if getattr(device, "type", str(device)) != "cuda":
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    # pinned host memory makes the copy asynchronous: the GPU starts while the host prepares the next batch
    return {k: v.pin_memory().to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def forward_batched(loaded, encodings: Sequence[dict], *, outputs: Sequence[str] = ("logits",),
                    per_token: bool = False, batch_size: int | None = None, max_tokens: int | None = None,
                    desc: str = "") -> list[tuple]:
    """Run ``loaded.model`` on every encoding; return, per input, a tuple of float32 CPU tensors (one per
    name in ``outputs``), trimmed to the input's own length when ``per_token``."""
    import torch

    model, tok = loaded.model, loaded.tokenizer

    def fn(batch: list[dict]) -> list[tuple]:
        inputs = _pad(tok, batch, loaded.device, padding_side="right", multiple=getattr(_PADDING, "multiple", None))
        with torch.inference_mode():
            out = model(**inputs)
        tensors = [getattr(out, name).float().cpu() for name in outputs]
        res = []
        for i, item in enumerate(batch):
            n = len(item["input_ids"])
            res.append(tuple(t[i, :n] if per_token else t[i] for t in tensors))
        return res

    lengths = [len(e["input_ids"]) for e in encodings]
    return run_batched(list(encodings), fn, lengths=lengths, batch_size=batch_size or FORWARD_BATCH,
                       max_tokens=max_tokens or FORWARD_TOKENS, desc=desc)


def generation_config(model, overrides: dict | None = None):
    """The model's own generation config with the user's non-None overrides applied.

    Greedy unless sampling is asked for; sampling-only settings are dropped when not sampling, so
    greedy runs are deterministic and warning-free.
    """
    cfg = copy.deepcopy(model.generation_config)
    for key, value in (overrides or {}).items():
        if value is not None:
            if key not in GENERATION_OPTIONS:
                raise NlpTasksError(f"unknown generation option {key!r}; known: {', '.join(GENERATION_OPTIONS)}")
            setattr(cfg, key, value)
    if not cfg.do_sample:
        cfg.temperature, cfg.top_p, cfg.top_k = None, None, None
    given = {k for k, v in (overrides or {}).items() if v is not None}
    if cfg.max_new_tokens is None and "max_length" not in given and getattr(cfg, "max_length", None) in (None, 20):
        cfg.max_new_tokens = 64  # transformers' default max_length=20 counts the prompt: too short for most uses
    if cfg.max_new_tokens is not None:
        cfg.max_length = None
    if cfg.min_new_tokens is not None:
        cfg.min_length = 0
    if cfg.num_beams is None or cfg.num_beams == 1:
        cfg.early_stopping = False
        cfg.length_penalty = 1.0
    return cfg


def generate_batched(loaded, encodings: Sequence[dict], gen_config, *, decoder_only: bool = False,
                     batch_size: int | None = None, max_tokens: int | None = None, desc: str = "",
                     extra_kwargs: dict | None = None) -> list[list[int]]:
    """Generate for every encoding; return the new token ids per input (prompt removed, padding and
    the tokens after EOS dropped). Decoder-only models are padded on the left.

    Greedy search on the CPU runs :mod:`greedy`'s loop, which drops rows from the batch as they finish
    (the same tokens as transformers' loop; ``NLPTASKS_DROP_FINISHED_ROWS``: ``0`` runs transformers' loop,
    ``1`` runs nlptasks' loop on accelerators too)."""
    import torch

    model, tok = loaded.model, loaded.tokenizer
    kwargs = dict(extra_kwargs or {})
    if "custom_generate" not in kwargs and loaded.ct2 is None:
        kwargs.update(greedy_loop_kwargs(model, loaded.device, gen_config))
    default_batch = GENERATE_BATCH_DROPPING if "custom_generate" in kwargs else GENERATE_BATCH
    pad_id = gen_config.pad_token_id if gen_config.pad_token_id is not None else tok.pad_token_id
    eos = gen_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])

    def fn(batch: list[dict]) -> list[list[int]]:
        if loaded.ct2 is not None:  # --engine ctranslate2
            from .ct2 import generate

            res = generate(loaded, batch, gen_config)
            cost_hooks.report_generated_tokens(sum(len(r) for r in res))
            return res
        inputs = _pad(tok, batch, loaded.device, padding_side="left" if decoder_only else "right")
        with torch.inference_mode():
            out = model.generate(**inputs, generation_config=gen_config, **kwargs)
        if decoder_only:
            out = out[:, inputs["input_ids"].shape[1]:]
        res = []
        for row in out.tolist():
            if not decoder_only:
                row = row[1:]  # the decoder start token (pad for T5/Marian, </s> for BART)
            ids = []
            for t in row:
                if t in eos_ids:
                    break
                if t != pad_id:
                    ids.append(t)
            res.append(ids)
        cost_hooks.report_generated_tokens(sum(len(r) for r in res))
        return res

    lengths = [len(e["input_ids"]) for e in encodings]
    return run_batched(list(encodings), fn, lengths=lengths, batch_size=batch_size or default_batch,
                       max_tokens=max_tokens or GENERATE_TOKENS, desc=desc)


def drop_finished_rows(model, gen_config, device="cpu") -> bool:
    """Whether generation with ``gen_config`` on ``device`` runs nlptasks' greedy loop that drops finished
    rows: by default on the CPU only (timed there; on a GPU each step's check of finished rows is a
    synchronisation, which transformers' own loop now defers), ``NLPTASKS_DROP_FINISHED_ROWS`` overrides.
    Never where ranks must decode in lockstep (DeepSpeed ZeRO-3, FSDP): transformers does not pass its
    ``synced_gpus`` to a custom loop."""
    from .greedy import supported

    setting = os.environ.get(DROP_FINISHED_ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    on_cpu = getattr(device, "type", str(device)).split(":")[0] == "cpu"
    return (on_cpu or setting in ("1", "true", "yes", "on")) and supported(model, gen_config) and not _lockstep(model)


def _lockstep(model) -> bool:
    """Whether ``model``'s generation must run in lockstep across ranks (transformers' own rule)."""
    try:
        import torch.distributed as dist
        from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled
        from transformers.integrations.fsdp import is_fsdp_managed_module
    except ImportError:  # pragma: no cover - both ship with the supported versions
        return False
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return False
    return is_deepspeed_zero3_enabled() or is_fsdp_managed_module(model)


def greedy_loop_kwargs(model, device, gen_config=None) -> dict:
    """Extra ``model.generate`` arguments that run nlptasks' loop dropping finished rows, where
    :func:`drop_finished_rows` allows it for ``gen_config`` (default: a plain greedy call,
    ``do_sample=False, num_beams=1``, over the model's own config); else ``{}``."""
    if gen_config is None:
        gen_config = copy.deepcopy(model.generation_config)
        gen_config.do_sample, gen_config.num_beams = False, 1
    if not drop_finished_rows(model, gen_config, device):
        return {}
    from .greedy import decode

    return {"custom_generate": decode}


def model_max_input(loaded, fallback: int = 512) -> int:
    """The longest input the loaded model accepts, in tokens (:func:`limits.max_input_tokens`)."""
    return max_input_tokens(loaded.tokenizer, loaded.model.config, fallback=fallback)


def label_nll(loaded, encodings: Sequence[dict], *, batch_size: int | None = None, max_tokens: int | None = None,
              desc: str = "") -> list[tuple[float, int]]:
    """Teacher-forced negative log-likelihood of label tokens: per encoding, ``(sum of -log p in nats,
    number of scored tokens)``.

    Decoder-only models: ``input_ids`` is prompt + target and ``labels`` has the same length, -100 on the
    tokens not scored (the prompt); token t is scored from the logits at t-1. Encoder-decoder models:
    ``input_ids`` is the source and ``labels`` the target (decoder inputs are derived from it).
    """
    import torch

    model, tok = loaded.model, loaded.tokenizer
    seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))

    def fn(batch: list[dict]) -> list[tuple[float, int]]:
        inputs = _pad(tok, batch, loaded.device, padding_side="right")
        width = max(len(b["labels"]) for b in batch)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for i, b in enumerate(batch):
            labels[i, :len(b["labels"])] = torch.tensor(b["labels"], dtype=torch.long)
        labels = labels.to(loaded.device)
        with torch.inference_mode():
            if seq2seq:
                logits = model(**inputs, labels=labels).logits
            else:
                logits = model(**inputs).logits[:, :-1]
                labels = labels[:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100,
                                                    reduction="none").sum(-1)
        counts = (labels != -100).sum(-1)
        return [(float(a), int(n)) for a, n in zip(nll.cpu().tolist(), counts.cpu().tolist())]

    lengths = [len(e["input_ids"]) + (len(e["labels"]) if seq2seq else 0) for e in encodings]
    return run_batched(list(encodings), fn, lengths=lengths, batch_size=batch_size or 16,
                       max_tokens=max_tokens or 2048, desc=desc)  # full-vocabulary logits: keep batches small

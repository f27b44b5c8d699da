"""Integrated gradients (Sundararajan et al., 2017) through Captum's ``LayerIntegratedGradients``.

Attributions are taken at the output of the model's input-embedding layer (``get_input_embeddings()``,
the word embeddings: positions and token types are the same for input and baseline) and summed over
the hidden dimension, one score per input token. The baseline is the same sequence with every token
that is not a special token (CLS, SEP, BOS, EOS, language codes, ...) replaced by the pad token (the
unknown token when there is no pad token), so the baseline keeps the model's frame and removes the
words. Completeness: the scores of a sequence sum to ``f(input) - f(baseline)`` up to the integral's
approximation error (``delta``; Gauss-Legendre quadrature, ``n_steps`` points).

Captum is imported here only (the ``explain`` extra).
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..errors import NlpTasksError

DEFAULT_STEPS = 16  # Gauss-Legendre points: completeness error < 0.05 log-odds on SST-2; 32 points: < 0.005, at twice the cost
INTERNAL_BATCH = 256  # interpolated sequences per forward/backward pass


def _captum():
    try:
        from captum.attr import LayerIntegratedGradients
    except ImportError as exc:
        raise NlpTasksError("integrated gradients need Captum: pip install 'nlptasks[explain]' "
                            "(or use --explain-method occlusion)") from exc
    return LayerIntegratedGradients


def check_differentiable(loaded) -> None:
    """Refuse models whose weights cannot be differentiated (dynamic int8 quantization, CTranslate2)."""
    if getattr(loaded, "quantize", None) or getattr(loaded, "ct2", None) is not None:
        raise NlpTasksError("--explain-method ig needs gradients, which an int8-quantized model or the "
                            "CTranslate2 engine does not give: drop --quantize/--engine or use "
                            "--explain-method occlusion")


def baseline_ids(tokenizer, input_ids: Sequence[int]) -> list[int]:
    """``input_ids`` with every non-special token replaced by the pad (else unknown) token."""
    fill = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.unk_token_id
    if fill is None:
        raise NlpTasksError("integrated gradients need a pad or unknown token for the baseline; this "
                            "tokenizer has neither (use --explain-method occlusion)")
    special = set(tokenizer.all_special_ids) - {tokenizer.pad_token_id, tokenizer.unk_token_id,
                                                 tokenizer.mask_token_id}
    return [int(t) if int(t) in special else int(fill) for t in input_ids]


def pad_batch(rows: Sequence[dict], pad_id: int, keys: Sequence[str]):
    """Right-pad a list of encodings (lists) to one ``[B, L]`` tensor per key (mask 0 on padding)."""
    import torch

    length = max(len(r["input_ids"]) for r in rows)
    out = {}
    for k in keys:
        fill = pad_id if k in ("input_ids", "baseline_ids") else 0
        out[k] = torch.tensor([list(r[k]) + [fill] * (length - len(r[k])) for r in rows], dtype=torch.long)
    return out


def integrate(model, forward: Callable, input_ids, baselines, extra: tuple, target=None,
              n_steps: int = DEFAULT_STEPS):
    """``([B, L] attributions, [B] deltas)`` of ``forward(input_ids, *extra)`` (a ``[B]`` or ``[B, C]``
    output; ``target`` picks the column) with respect to the input-embedding layer."""
    import torch

    LayerIntegratedGradients = _captum()
    device = next(model.parameters()).device
    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    ids, base = input_ids.to(device), baselines.to(device)
    extra = tuple(x.to(device) if hasattr(x, "to") else x for x in extra)
    per_batch = max(n_steps, (INTERNAL_BATCH // n_steps) * n_steps)
    with torch.enable_grad():
        attr, delta = lig.attribute(inputs=ids, baselines=base, target=target, additional_forward_args=extra,
                                    n_steps=n_steps, internal_batch_size=per_batch,
                                    return_convergence_delta=True)
    return attr.sum(dim=-1).detach().float().cpu(), delta.detach().float().cpu()

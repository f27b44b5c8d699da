"""Integrated gradients (Sundararajan et al., 2017), computed directly and batched.

Attributions are taken at the output of the model's input-embedding layer (``get_input_embeddings()``,
the word embeddings: positions and token types are the same for input and baseline) and summed over
the hidden dimension, one score per input token. The baseline is the same sequence with every token
that is not a special token (CLS, SEP, BOS, EOS, language codes, ...) replaced by the pad token (the
unknown token when there is no pad token), so the baseline keeps the model's frame and removes the
words. Completeness: the scores of a sequence sum to ``f(input) - f(baseline)`` up to the integral's
approximation error (``delta``; Gauss-Legendre quadrature, ``n_steps`` points).

:func:`integrate` evaluates the integral itself (every interpolation point of several sequences in one
forward/backward pass, gradients for the embeddings only); :func:`integrate_captum` is the same quantity
through Captum's ``LayerIntegratedGradients`` (the ``explain`` extra), kept as the reference the tests
compare with.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Callable, Sequence

from ..errors import NlpTasksError

# Gauss-Legendre points. Along the straight path from the pad baseline the explained log-odds of the packaged
# SST-2 model change in a narrow band of the path, which 8 points do not resolve; 16 do for most sentences,
# and a window whose completeness error is above DELTA_ABS + DELTA_REL * |f(input) - f(baseline)| is
# integrated again with REFINE_STEPS points (benchmarks/explain_speed.py reports the deltas).
DEFAULT_STEPS = 16
REFINE_STEPS = 32
DELTA_ABS = 0.05  # log-odds
DELTA_REL = 0.05
IG_TOKENS = 8192  # padded tokens (interpolated sequences x length) per forward/backward pass


def _captum():
    try:
        from captum.attr import LayerIntegratedGradients
    except ImportError as exc:
        raise NlpTasksError("the Captum reference of integrated gradients needs Captum: "
                            "pip install 'nlptasks[explain]'") from exc
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


def gauss_legendre(n_steps: int):
    """``(nodes, weights)`` of the ``n_steps``-point Gauss-Legendre rule on [0, 1] (float64 numpy arrays;
    the rule Captum's ``method="gausslegendre"`` uses)."""
    import numpy as np

    x, w = np.polynomial.legendre.leggauss(n_steps)
    return 0.5 * (x + 1.0), 0.5 * w


@contextmanager
def input_grads_only(model):
    """No parameter gradients while integrating: ``requires_grad`` is off on every parameter (so autograd
    neither keeps what a weight gradient would need nor computes one) and restored afterwards."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _cheap_attention_backward(device):
    """On the CPU, scaled-dot-product attention through its plain matmul kernel: the fused (flash) kernel's
    backward pass costs several times its forward there (bfloat16 worst), the matmul one about twice."""
    if getattr(device, "type", str(device)) != "cpu":
        return nullcontext()
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # pragma: no cover - torch < 2.3
        return nullcontext()
    return sdpa_kernel([SDPBackend.MATH])


def _pick(out, target):
    """The explained output per row: ``out`` is ``[N]`` (or ``[N, 1]``) or ``[N, C]`` with ``target`` ``[N]``."""
    if target is None:
        return out.reshape(out.shape[0], -1)[:, 0] if out.dim() > 1 else out
    return out.gather(1, target.view(-1, 1))[:, 0]


def _rows(x, times: int):
    import torch

    return x.repeat_interleave(times, dim=0) if isinstance(x, torch.Tensor) and x.dim() > 0 else x


def _integrate_chunk(model, forward, ids, base, extra, target, nodes, weights):
    """One forward/backward pass over every interpolation point of a few sequences (see :func:`integrate`)."""
    import torch

    emb = model.get_input_embeddings()
    b, k = nodes.shape
    with torch.no_grad():  # the two ends: f(input), f(baseline), for the completeness delta
        e_in, e_base = emb(ids), emb(base)
        both = (torch.cat([target, target]) if target is not None else None)
        ends = _pick(forward(torch.cat([ids, base]), *(torch.cat([x, x]) if isinstance(x, torch.Tensor) else x
                                                         for x in extra)).float(), both)
    dtype = e_in.dtype
    diff = e_in.float() - e_base.float()
    points = e_base.float()[:, None] + nodes[:, :, None, None] * diff[:, None]  # [b, k, L, H]
    points = points.reshape(b * k, *diff.shape[1:]).to(dtype).requires_grad_(True)
    hook = emb.register_forward_hook(lambda module, args, output: points)  # the interpolated embeddings
    try:
        with torch.enable_grad(), _cheap_attention_backward(ids.device):
            out = forward(_rows(ids, k), *(_rows(x, k) for x in extra)).float()
            out = _pick(out, _rows(target, k) if target is not None else None)
            (grads,) = torch.autograd.grad(out.sum(), points)
    finally:
        hook.remove()
    mean_grad = torch.einsum("bklh,bk->blh", grads.float().view(b, k, *diff.shape[1:]), weights)
    attr = (mean_grad * diff).sum(dim=-1)
    delta = attr.sum(dim=-1) - (ends[:b] - ends[b:])
    return attr, delta


def integrate(model, forward: Callable, input_ids, baselines, extra: tuple, target=None,
              n_steps: int = DEFAULT_STEPS, max_tokens: int = IG_TOKENS):
    """``([B, L] attributions, [B] deltas)`` of ``forward(input_ids, *extra)`` (a ``[B]`` or ``[B, C]``
    output; ``target`` (``[B]``) picks the column) with respect to the input-embedding layer's output.

    Computed directly, batched: every interpolation point of several sequences goes through the model in
    one forward and one backward pass (at most ``max_tokens`` padded tokens a pass), with gradients for the
    interpolated embeddings only (:func:`input_grads_only`), in the model's dtype (gradients summed in
    float32). The same quantity as Captum's ``LayerIntegratedGradients(forward, embeddings)`` with
    ``method="gausslegendre"`` (tests/test_explain.py compares them); ``delta`` is
    ``sum(attributions) - (f(input) - f(baseline))``, the quadrature error."""
    import torch

    device = next(model.parameters()).device
    ids, base = input_ids.to(device), baselines.to(device)
    extra = tuple(x.to(device) if hasattr(x, "to") else x for x in extra)
    if target is not None:
        target = torch.as_tensor(target, dtype=torch.long).reshape(-1).expand(ids.shape[0]).to(device)
    x, w = gauss_legendre(n_steps)
    nodes = torch.tensor(x, dtype=torch.float32, device=device).expand(ids.shape[0], -1)
    weights = torch.tensor(w, dtype=torch.float32, device=device).expand(ids.shape[0], -1)
    per_pass = max(1, max_tokens // (n_steps * ids.shape[1]))
    attrs, deltas = [], []
    with input_grads_only(model):
        for s in range(0, ids.shape[0], per_pass):
            sl = slice(s, s + per_pass)
            part = tuple(x[sl] if isinstance(x, torch.Tensor) and x.dim() > 0 else x for x in extra)
            a, d = _integrate_chunk(model, forward, ids[sl], base[sl], part,
                                    target[sl] if target is not None else None, nodes[sl], weights[sl])
            attrs.append(a.detach().cpu())
            deltas.append(d.detach().cpu())
    return torch.cat(attrs), torch.cat(deltas)


def integrate_captum(model, forward: Callable, input_ids, baselines, extra: tuple, target=None,
                     n_steps: int = DEFAULT_STEPS):
    """The reference: the same attributions through Captum's ``LayerIntegratedGradients`` (Gauss-Legendre),
    one pass per sequence's steps. Used by the tests to check :func:`integrate`."""
    import torch

    LayerIntegratedGradients = _captum()
    device = next(model.parameters()).device
    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    ids, base = input_ids.to(device), baselines.to(device)
    extra = tuple(x.to(device) if hasattr(x, "to") else x for x in extra)
    with torch.enable_grad():
        attr, delta = lig.attribute(inputs=ids, baselines=base, target=target, additional_forward_args=extra,
                                    n_steps=n_steps, method="gausslegendre", internal_batch_size=n_steps,
                                    return_convergence_delta=True)
    return attr.sum(dim=-1).detach().float().cpu(), delta.detach().float().cpu()

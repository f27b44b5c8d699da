"""Device and dtype selection."""
from __future__ import annotations

import re

from ..errors import NlpTasksError

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(spec: str | None = "auto"):
    import torch

    spec = (spec or "auto").lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", spec):
        if not torch.cuda.is_available():
            raise NlpTasksError(f"--device {spec}: CUDA is not available on this machine (use --device cpu)")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise NlpTasksError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return torch.device(spec)
    if spec == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise NlpTasksError("--device mps: MPS is not available on this machine (use --device cpu)")
        return torch.device("mps")
    raise NlpTasksError(f"unknown device {spec!r}; use one of: auto, cpu, cuda, cuda:N, mps")


def resolve_dtype(spec: str | None, device) -> "torch.dtype":
    """``auto`` is float32 everywhere except CUDA with bf16 support, where it is bfloat16."""
    import torch

    spec = (spec or "auto").lower()
    if spec not in DTYPES:
        raise NlpTasksError(f"unknown dtype {spec!r}; use one of: {', '.join(DTYPES)}")
    if spec == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if spec == "float16" and device.type == "cpu":
        raise NlpTasksError("--dtype float16 is not supported on CPU; use bfloat16 or float32")
    return getattr(torch, spec)


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")

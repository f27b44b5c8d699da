"""Merging a LoRA update into a weight: the one routine behind packaged adapters (``adapters.py``) and the
embedded encoder heads (``encoder.py``)."""
from __future__ import annotations

from ..errors import ModelLoadError


def add_lora_delta(module, a, b, scale: float, *, what: str, name: str) -> None:
    """``module.weight += scale * (B @ A)``, computed in float32 and stored in the weight's dtype; a delta of
    the wrong shape is one line naming ``what`` (the file) and the module ``name``."""
    delta = (b.float() @ a.float()) * scale
    if delta.shape != module.weight.shape:
        raise ModelLoadError(f"{what}: LoRA delta {tuple(delta.shape)} does not fit {name!r}")
    w = module.weight
    w.copy_((w.float() + delta.to(w.device)).to(w.dtype))

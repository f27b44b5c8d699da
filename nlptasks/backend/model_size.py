"""Absurd model configs are refused before anything is allocated.

A ``config.json`` that asks for 100,000 layers or a hidden size of 10^9 makes ``from_pretrained``
allocate until the machine kills it. :func:`check_model_size` reads the config first and refuses, with
the figures, a depth or width beyond any real model, or more parameters than the free memory holds
(:func:`estimated_parameters`, :func:`available_memory`). Standard library only (psutil and torch when
present, for the free memory).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ModelLoadError

MAX_LAYERS = 10_000        # the deepest published transformers have a few hundred layers
MAX_WIDTH = 1 << 20        # hidden / feed-forward sizes: the widest have tens of thousands


def _config_int(cfg: dict, *names) -> int:
    for n in names:
        v = cfg.get(n)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return int(min(v, 1 << 62))
    return 0


def estimated_parameters(cfg: dict) -> int | None:
    """About how many parameters a transformer ``config.json`` implies (embeddings plus, per layer,
    attention 4·h² and feed-forward 2·h·ffn); ``None`` when the config names no width or depth."""
    h = _config_int(cfg, "hidden_size", "d_model", "n_embd", "dim", "model_dim", "embed_dim")
    layers = max(_config_int(cfg, "num_hidden_layers", "n_layer", "n_layers", "num_layers"),
                 _config_int(cfg, "encoder_layers") + _config_int(cfg, "decoder_layers", "num_decoder_layers"))
    if not h or not layers:
        return None
    ffn = _config_int(cfg, "intermediate_size", "ffn_dim", "d_ff", "n_inner", "encoder_ffn_dim",
                      "decoder_ffn_dim") or 4 * h
    vocab = _config_int(cfg, "vocab_size")
    return vocab * h + layers * (4 * h * h + 2 * h * ffn)


def available_memory() -> int | None:
    """Bytes of memory free for a model now: RAM, plus free GPU memory when CUDA is in use."""
    try:
        import psutil

        free = psutil.virtual_memory().available
    except Exception:  # no psutil: the kernel's count of free pages
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        import torch

        if torch.cuda.is_available():
            free += sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
    except Exception:
        pass
    return free


def check_model_size(path, ref: str | None = None, dtype=None, *, spread: bool = False) -> None:
    """Refuse a local model folder whose ``config.json`` asks for an absurd size: a depth or width beyond
    :data:`MAX_LAYERS`/:data:`MAX_WIDTH`, or (unless ``spread``: ``--device-map`` may offload to disk)
    more bytes of parameters than the free memory. One :class:`ModelLoadError` line with the figures."""
    p = Path(str(path)) / "config.json"
    if not p.is_file():
        return
    try:
        with open(p, encoding="utf-8") as fh:
            cfg = json.loads(fh.read(1 << 20))
    except (OSError, ValueError):
        return  # the loader reports it
    if not isinstance(cfg, dict):
        return
    name = ref or str(path)
    layers = max(_config_int(cfg, "num_hidden_layers", "n_layer", "n_layers", "num_layers"),
                 _config_int(cfg, "encoder_layers"), _config_int(cfg, "decoder_layers", "num_decoder_layers"))
    width = max(_config_int(cfg, "hidden_size", "d_model", "n_embd", "dim", "model_dim"),
                _config_int(cfg, "intermediate_size", "ffn_dim", "d_ff", "n_inner"))
    if layers > MAX_LAYERS or width > MAX_WIDTH:
        raise ModelLoadError(f"model {name!r}: its config.json asks for {layers:,} layers of width {width:,}, "
                             f"beyond any real model (at most {MAX_LAYERS:,} layers and width {MAX_WIDTH:,}); "
                             f"refused before allocating anything")
    n = estimated_parameters(cfg)
    if n is None or spread:
        return
    size = getattr(dtype, "itemsize", None) or 4
    free = available_memory()
    if free is not None and n * size > free:
        raise ModelLoadError(f"model {name!r}: its config.json implies about {n:,} parameters "
                             f"({n * size / 2**30:,.1f} GiB at {size} bytes each), more than the "
                             f"{free / 2**30:,.1f} GiB of memory free; refused before allocating anything")

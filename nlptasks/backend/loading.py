"""The front door of model loading, shared by every task: ``load_pretrained`` resolves a reference (hub id,
local folder, LoRA adapter folder) and loads it onto a device in a dtype, cached; ``engine="ctranslate2"``
attaches a CTranslate2 generator (:mod:`.ct2`), an adapter folder is merged over its base
(:mod:`.adapters`), ``load_embedded`` loads a packaged adapter. The low level (``from_pretrained``,
hashes, quantization) is :mod:`.hf`; its names are re-exported here."""
from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import cost_hooks
from ..errors import ModelLoadError
from .device import configure_threads, dtype_name, is_packaged, resolve_device, resolve_dtype
# the low level (one from_pretrained rule, weights hashes, quantization), re-exported for callers
from .hf import (_PLACEMENT, QUANTIZE, LoadedModel, load_config, load_model, load_tokenizer, quantize_model,  # noqa: F401
                 unsafe_weights, weights_hash)
from .resolve import ModelSource, resolve_model

log = logging.getLogger("nlptasks")



_CACHE: dict[tuple, LoadedModel] = {}
_LOCK = threading.Lock()


# -- models bigger than one device: accelerate's big-model inference -------------------------------
@dataclass(frozen=True)
class Placement:
    """``from_pretrained(device_map=..., max_memory=..., offload_folder=...)``: the layers are spread
    over the GPUs, then the CPU, then disk (``offload_folder``), within ``max_memory`` per device."""

    device_map: str = "auto"
    max_memory: tuple = ()  # ((device, size), ...): device an int (GPU), "cpu", "mps" or "disk"
    offload_folder: str | None = None

    def kwargs(self) -> dict:
        kw: dict = {"device_map": self.device_map}
        if self.max_memory:
            kw["max_memory"] = dict(self.max_memory)
        folder = self.offload_folder
        if folder is None:
            import tempfile

            folder = tempfile.mkdtemp(prefix="nlptasks-offload-")
        kw["offload_folder"] = folder
        return kw


DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


def parse_max_memory(text: str | None) -> tuple:
    """``"0=20GiB,cpu=60GiB,disk=200GiB"`` -> ``((0, "20GiB"), ("cpu", "60GiB"), ("disk", "200GiB"))``."""
    from ..errors import InputError

    if not text:
        return ()
    out = []
    for item in text.split(","):
        key, sep, size = (x.strip() for x in item.partition("="))
        if not sep or not key or not size:
            raise InputError(f"--max-memory: expected DEVICE=SIZE[,DEVICE=SIZE...] (e.g. 0=20GiB,cpu=60GiB), "
                             f"got {item.strip()!r}")
        if key.isdigit():
            dev: int | str = int(key)
        elif key.lower() in ("cpu", "mps", "disk"):
            dev = key.lower()
        else:
            raise InputError(f"--max-memory: unknown device {key!r}; use a GPU index, cpu, mps or disk")
        if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B)?", size, re.IGNORECASE):
            raise InputError(f"--max-memory: {key}={size!r} is not a size (e.g. 500MiB, 20GiB, 1000000)")
        out.append((dev, int(size) if size.isdigit() else size))
    return tuple(out)


def placement_from_options(device_map: str | None, max_memory: str | None = None,
                           offload_folder: str | None = None) -> Placement | None:
    """The checked ``--device-map/--max-memory/--offload-folder`` of a command (``None``: the usual
    one-device load); refused before any model loads."""
    from ..errors import InputError

    if device_map is None:
        if max_memory or offload_folder:
            raise InputError("--max-memory and --offload-folder apply with --device-map auto")
        return None
    if device_map not in DEVICE_MAPS:
        raise InputError(f"--device-map: unknown map {device_map!r}; use one of: {', '.join(DEVICE_MAPS)}")
    return Placement(device_map, parse_max_memory(max_memory), offload_folder)


@contextlib.contextmanager
def placement(how: Placement | None):
    """Models loaded inside the block are placed by ``how`` (``None``: as usual, on one device)."""
    token = _PLACEMENT.set(how)
    try:
        yield
    finally:
        _PLACEMENT.reset(token)


def load_pretrained(ref: str, auto_class: str, *, revision: str | None = None, device: str = "auto",
                    dtype: str = "auto", trust_remote_code: bool = False, quantize: str | None = None,
                    tokenizer_kwargs: dict | None = None, model_kwargs: dict | None = None,
                    cache: bool = True, allow_untrained: bool = False, engine: str = "transformers") -> LoadedModel:
    """Resolve ``ref`` and load it with ``transformers.<auto_class>`` plus its tokenizer.

    Safetensors weights are preferred (transformers' default); ``trust_remote_code`` is off unless asked.
    ``quantize="int8"`` applies PyTorch dynamic int8 quantization of Linear layers (CPU only).
    Weights missing from the checkpoint (e.g. a base model without the task's head) are an error unless
    ``allow_untrained`` (fine-tuning starts from such models). ``engine="ctranslate2"``: generation runs
    on a cached CTranslate2 conversion of the weights (``quantize``/``dtype`` become its compute type).
    """
    if quantize not in QUANTIZE:
        raise ModelLoadError(f"unknown quantization {quantize!r}; use one of: int8")
    if engine != "transformers":
        from .ct2 import ENGINES, attach

        if engine not in ENGINES:
            raise ModelLoadError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
        base = load_pretrained(ref, auto_class, revision=revision, device=device, dtype="auto",
                               trust_remote_code=trust_remote_code, tokenizer_kwargs=tokenizer_kwargs,
                               model_kwargs=model_kwargs, cache=cache)
        return attach(base, quantize=quantize, dtype=dtype)
    from .adapters import is_adapter_dir

    if is_adapter_dir(ref):  # a LoRA adapter folder: merged over its base model (backend/adapters.py)
        return load_adapter_cached(ref, ref, auto_class, device=device, dtype=dtype, quantize=quantize,
                                   trust_remote_code=trust_remote_code, cache=cache)
    source = resolve_model(ref, revision)
    configure_threads()
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev, packaged=is_packaged(source.path), quantize=quantize)
    if quantize == "int8" and dev.type != "cpu":
        raise ModelLoadError("--quantize int8 (dynamic int8) runs on CPU only; use --device cpu")
    spread = _PLACEMENT.get()
    if spread is not None and quantize:
        raise ModelLoadError("--quantize int8 cannot be combined with --device-map (the layers of a spread "
                             "model are moved between devices)")
    key = (source, auto_class, str(dev), str(dt), trust_remote_code, quantize,
           repr(sorted((tokenizer_kwargs or {}).items())), repr(sorted((model_kwargs or {}).items())), spread)
    with _LOCK:
        if cache and key in _CACHE:
            cost_hooks.report_model(_CACHE[key].model)
            return _CACHE[key]
    loaded = _load(source, auto_class, dev, dt, trust_remote_code, quantize, tokenizer_kwargs or {},
                   {**(model_kwargs or {}), **(spread.kwargs() if spread else {})}, allow_untrained)
    if cache:
        with _LOCK:
            _CACHE[key] = loaded
    cost_hooks.report_model(loaded.model)
    return loaded


def load_adapter_cached(name: str, folder, auto_class: str, *, device: str = "auto", dtype: str = "auto",
                        quantize: str | None = None, trust_remote_code: bool = False, cache: bool = True):
    """A LoRA adapter folder merged over its base (``nlptasks.backend.adapters``), cached like models."""
    from .adapters import load_adapter

    if _PLACEMENT.get() is not None:  # checked before the cache too: a cached adapter never hides it
        raise ModelLoadError(f"--device-map cannot place {name!r}: a LoRA adapter is merged into its base model "
                             f"on one device (--device); drop --device-map")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev, packaged=is_packaged(folder), quantize=quantize)  # what "auto" means here
    key = ("adapter", name, str(Path(folder).resolve()), auto_class, str(dev), str(dt), trust_remote_code, quantize)
    with _LOCK:
        if cache and key in _CACHE:
            cost_hooks.report_model(_CACHE[key].model)
            return _CACHE[key]
    loaded = load_adapter(name, folder, auto_class, device=device, dtype=dtype, quantize=quantize,
                          trust_remote_code=trust_remote_code)
    if cache:
        with _LOCK:
            _CACHE[key] = loaded
    return loaded


def load_embedded(name: str, auto_class: str, *, device: str = "auto", dtype: str = "auto",
                  quantize: str | None = None):
    """A packaged adapter (e.g. ``minilm-squad``) merged over the packaged MiniLM, as a ``LoadedModel``."""
    from .adapters import embedded_folder

    return load_adapter_cached(name, embedded_folder(name), auto_class, device=device, dtype=dtype,
                               quantize=quantize)


def _load(source: ModelSource, auto_class: str, dev, dt, trust_remote_code: bool, quantize: str | None,
          tokenizer_kwargs: dict, model_kwargs: dict, allow_untrained: bool = False) -> LoadedModel:
    common = dict(revision=source.revision, local_files_only=source.local_files_only)
    tokenizer = load_tokenizer(source.path, trust_remote_code=trust_remote_code, ref=source.ref,
                               **common, **tokenizer_kwargs)
    model, loading_info = load_model(source.path, auto_class, trust_remote_code=trust_remote_code, ref=source.ref,
                                     dtype=dt, **common, **model_kwargs)
    missing = sorted(loading_info.get("missing_keys") or [])
    if missing and not allow_untrained:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelLoadError(f"model {source.ref!r} has no trained weights for {shown} as {auto_class} "
                             f"(a base model, or one trained for another task?); choose a model trained for "
                             f"this task or fine-tune it first with `nlptasks finetune`")
    model.eval()
    if "device_map" in model_kwargs:  # spread by accelerate (Placement): its hooks move the activations
        dmap = getattr(model, "hf_device_map", None) or {}
        log.info("device map of %s: %s", source.ref, dmap)
        first = next(iter(dmap.values()), "cpu")  # inputs go where the first layers are
        import torch

        dev = torch.device(f"cuda:{first}" if isinstance(first, int) else "cpu" if first == "disk" else first)
    else:
        model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    model = quantize_model(model, quantize)
    log.info("loaded %s (%s) on %s as %s%s", source.ref, type(model).__name__, dev, dtype_name(dt),
             " int8" if quantize else "")
    return LoadedModel(model, tokenizer, source, dev, dt, quantize, info={"parameters": n_params})

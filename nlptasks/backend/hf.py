"""The low level of model loading: the one way nlptasks calls ``from_pretrained`` (``trust_remote_code``
always explicit, one-line errors), the weights hashes, dynamic int8 quantization and :class:`LoadedModel`.
It knows nothing of adapters, CTranslate2 or packaged models: :mod:`nlptasks.backend.loading` (the front
door, ``load_pretrained``) and the adapter and CTranslate2 modules build on it.

Two weights hashes, one home: :func:`weights_hash` identifies a local model folder in result records
and caches (sha256 over every ``*.safetensors``/``*.bin`` file, name then bytes); :func:`weights_file_hash`
is the sha256 of a model's one weights file, the value packaged adapters and fitted models record as
their base encoder's ``base_weights_sha256`` (checked on load). They hash different things, so their
values differ; both are kept as they are because records and packaged models store them.
"""
from __future__ import annotations

import contextvars
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from ..hashing import cached_file_hash, files_hash
from .device import dtype_name
from .resolve import ModelSource

log = logging.getLogger("nlptasks")

QUANTIZE = (None, "int8")
# the Placement (``nlptasks.backend.loading``) of the models loaded in this context, or None: set by
# ``loading.placement()``; here so that every loader (adapters included) can refuse what it cannot place
_PLACEMENT: contextvars.ContextVar[Any] = contextvars.ContextVar("nlptasks_placement", default=None)


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: ModelSource
    device: Any
    dtype: Any
    quantize: str | None = None
    info: dict = field(default_factory=dict)
    ct2: Any = None  # generation on CTranslate2 (``--engine ctranslate2``, backend/ct2.py)

    @property
    def config(self):
        return self.model.config

    def num_parameters(self) -> int:
        """Parameters of the model as loaded (before quantization, which hides Linear weights)."""
        if "parameters" not in self.info:
            self.info["parameters"] = sum(p.numel() for p in self.model.parameters())
        return self.info["parameters"]

    def describe(self) -> dict:
        """Plain-data identity of the model for result records."""
        return {"name": self.source.ref, "revision": self.source.revision, "path": self.source.path,
                "weights_hash": weights_hash(self.source), "config_hash": config_files_hash(self.source),
                "variant": {"dtype": dtype_name(self.dtype), "quantize": self.quantize,
                            **({"engine": "ctranslate2", "compute_type": self.ct2.compute_type} if self.ct2 else {})},
                "parameters": self.num_parameters()}


def weights_hash(source: ModelSource) -> str | None:
    """sha256 of the weight files of a local model dir (first 16 hex chars); None for uncached hub ids."""
    if source.kind != "local":
        return None
    files = sorted(p for p in Path(source.path).iterdir()
                   if p.suffix in {".safetensors", ".bin"} and p.is_file())
    return files_hash(files)


# files beside the weights that change predictions: config, generation settings, tokenizer, label maps
CONFIG_SUFFIXES = {".json", ".txt", ".model", ".spm", ".vocab", ".tiktoken", ".bpe"}


def config_files_hash(source: ModelSource) -> str | None:
    """sha256 over the files of a local model folder that change predictions but are not weights: its
    ``config.json`` (labels, sizes), ``generation_config.json``, tokenizer files (``tokenizer*.json``,
    ``vocab.txt``, ``merges.txt``, sentencepiece models), adapter configs; the model card
    (``README.md``) and hidden files are left out. With :func:`weights_hash` it identifies the model in
    the prediction cache and in run ids, so editing ``id2label`` in ``config.json`` never returns stale
    predictions. None for hub ids."""
    if source.kind != "local" or not Path(source.path).is_dir():
        return None
    files = sorted(p for p in Path(source.path).iterdir()
                   if p.suffix.lower() in CONFIG_SUFFIXES and not p.name.startswith(".") and p.is_file())
    return files_hash(files)


def _auto_class(name: str):
    import transformers

    try:
        return getattr(transformers, name)
    except AttributeError as exc:
        raise ModelLoadError(f"transformers has no model class {name}") from exc


def weights_file(path: str | Path) -> Path | None:
    """The weights file of a model folder (``model.safetensors``, else ``pytorch_model.bin``, else the
    first ``*.safetensors``); None when there is none locally."""
    p = Path(path)
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (p / name).is_file():
            return p / name
    files = sorted(p.glob("*.safetensors")) if p.is_dir() else []
    return files[0] if files else None


def weights_file_hash(path: str | Path) -> str | None:
    """sha256 (first 16 hex chars) of a model's weights file (:func:`weights_file`); None when absent."""
    f = weights_file(path)
    return cached_file_hash(str(f.resolve())) if f else None


# -- the one way nlptasks calls from_pretrained: trust_remote_code always explicit --------------------
def load_config(path: str, *, trust_remote_code: bool = False, ref: str | None = None, **kwargs):
    """``AutoConfig`` of a model; custom code runs only with ``trust_remote_code=True``."""
    from transformers import AutoConfig

    _refuse_custom_code(path, ref, trust_remote_code)
    with _load_errors(ref or path, "AutoConfig"):
        return AutoConfig.from_pretrained(path, trust_remote_code=bool(trust_remote_code), **kwargs)


def load_tokenizer(path: str, *, trust_remote_code: bool = False, ref: str | None = None, **kwargs):
    """``AutoTokenizer`` of a model; custom code runs only with ``trust_remote_code=True``."""
    from transformers import AutoTokenizer

    _refuse_custom_code(path, ref, trust_remote_code)
    with _load_errors(ref or path, "AutoTokenizer"):
        return AutoTokenizer.from_pretrained(path, trust_remote_code=bool(trust_remote_code), **kwargs)


def load_model(path: str, auto_class: str, *, trust_remote_code: bool = False, ref: str | None = None, **kwargs):
    """``(model, loading_info)`` from ``transformers.<auto_class>``; custom code runs only with
    ``trust_remote_code=True``. The model is returned as loaded (no device move, no ``eval()``)."""
    cls = _auto_class(auto_class)
    _refuse_custom_code(path, ref, trust_remote_code)
    from .model_size import check_model_size  # an absurd config.json is refused before any allocation

    check_model_size(path, ref, kwargs.get("dtype"), spread="device_map" in kwargs)
    with _load_errors(ref or path, auto_class):
        return cls.from_pretrained(path, output_loading_info=True, trust_remote_code=bool(trust_remote_code),
                                   **kwargs)


def _refuse_custom_code(path: str, ref: str | None, trust_remote_code: bool) -> None:
    """A local model whose architecture exists only in its own Python files (``auto_map`` in
    config.json, a model type transformers does not know) needs ``--trust-remote-code``: refused here,
    with one clear line, whatever transformers' own checks would do."""
    if trust_remote_code or not Path(path).is_dir():
        return
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the loader reports it
    if not isinstance(config, dict) or not config.get("auto_map"):
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if config.get("model_type") not in CONFIG_MAPPING:
        raise ModelLoadError(f"model {ref or path!r} needs custom code from its repository (auto_map in its "
                             f"config.json); re-run with --trust-remote-code only if you trust it")


class _load_errors:
    """Turn transformers' loading exceptions into one-line :class:`ModelLoadError`s."""

    def __init__(self, ref: str, what: str):
        self.ref, self.what = ref, what

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is None or isinstance(exc, ModelLoadError) or not isinstance(exc, Exception):
            return False
        text = str(exc).strip()
        msg = text.splitlines()[0] if text else type(exc).__name__
        refused = unsafe_weights(exc, self.ref)
        if refused is not None:
            raise refused from exc
        if isinstance(exc, ValueError) and "trust_remote_code" in text:
            raise ModelLoadError(f"model {self.ref!r} needs custom code from its repository; re-run with "
                                 f"--trust-remote-code only if you trust it") from exc
        if isinstance(exc, ValueError):
            raise ModelLoadError(f"model {self.ref!r} cannot be loaded as {self.what}: {msg}") from exc
        if isinstance(exc, OSError):
            raise ModelLoadError(f"model {self.ref!r} could not be loaded: {msg}") from exc
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(exc, HfHubHTTPError):
            raise ModelLoadError(f"model {self.ref!r}: {msg}") from exc
        return False


def unsafe_weights(exc: BaseException, ref: str) -> ModelLoadError | None:
    """The one-line error for a weights file that was refused or cannot be parsed: a pickle holding more
    than tensors (refused by torch's weights-only loader) or a damaged safetensors file; ``None`` for
    other errors. Nothing in such a file runs: weights-only unpickling executes no code."""
    import pickle

    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" in text:
        return ModelLoadError(f"model {ref!r}: its pickle weights file (.bin/.pt) holds objects other than "
                              f"tensors (possibly code), so it was refused; nothing in it was executed. Use "
                              f"safetensors weights, or a model from a source you trust converted to safetensors")
    if type(exc).__name__ == "SafetensorError":
        first = text.strip().splitlines()[0] if text.strip() else "unreadable"
        return ModelLoadError(f"model {ref!r}: a .safetensors weights file is truncated or damaged ({first}); "
                              f"nothing was loaded or executed")
    return None


def quantize_model(model, quantize: str | None):
    """Dynamic int8 quantization of every ``nn.Linear`` (weights int8, activations quantized on the fly;
    CPU only). ``None`` returns the model unchanged."""
    if quantize is None:
        return model
    if quantize != "int8":
        raise ModelLoadError(f"unknown quantization {quantize!r}; use one of: int8")
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

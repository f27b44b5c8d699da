"""Supervised extractive summarization (BertSumExt's idea on a small budget).

Each sentence of a document gets a score from a small trained scorer (logistic regression or a
one-hidden-layer MLP) over features of the packaged MiniLM encoder:

* the sentence embedding (384 dims, L2-normalised);
* its cosine similarity with the document embedding (the normalised mean of the sentence embeddings)
  and with the mean of the first three sentences;
* position: ``i / n``, ``1 / (i + 1)``, one-hot for the first five positions, ``log(1 + n) / 5``;
* length in words (``/ 40``) and a flag for sentences shorter than five words.

The ``k`` best sentences (``--sentences``, default 3) are taken greedily, skipping a sentence that
shares a word trigram with one already taken (trigram blocking), and output in document order.

A scorer is a folder (``nlptasks finetune summarize --model minilm --extractive`` writes one; the
packaged ``minilm-extsum`` is one) with ``extsum.json`` (format, encoder identity, architecture,
settings) and ``scorer.safetensors``. Numpy for features; torch only to run the scorer.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelLoadError

FORMAT = "nlptasks-extractive-scorer/1"
META = "extsum.json"
WEIGHTS = "scorer.safetensors"
DEFAULT_NAME = "minilm-extsum"
N_EXTRA = 13  # features besides the embedding


def is_extractive_model(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / META).is_file()


def features(sentences: Sequence[str], emb: np.ndarray) -> np.ndarray:
    """``[n, dim + N_EXTRA]`` float32 features of one document's ``n`` sentences (``emb`` normalised)."""
    emb = np.asarray(emb, dtype=np.float32)
    n = emb.shape[0]
    doc = emb.mean(axis=0)
    doc = doc / (np.linalg.norm(doc) or 1.0)
    lead = emb[:3].mean(axis=0)
    lead = lead / (np.linalg.norm(lead) or 1.0)
    pos = np.arange(n, dtype=np.float32)
    extra = np.zeros((n, N_EXTRA), dtype=np.float32)
    extra[:, 0] = emb @ doc
    extra[:, 1] = emb @ lead
    extra[:, 2] = pos / max(n, 1)
    extra[:, 3] = 1.0 / (pos + 1.0)
    for j in range(5):
        extra[:, 4 + j] = (pos == j)
    extra[:, 9] = math.log1p(n) / 5.0
    words = np.array([len(s.split()) for s in sentences], dtype=np.float32)
    extra[:, 10] = np.minimum(words, 80) / 40.0
    extra[:, 11] = words < 5
    extra[:, 12] = 1.0  # bias-like constant (keeps the MLP's input layout fixed)
    return np.concatenate([emb, extra], axis=1)


def build_scorer(input_dim: int, hidden_dim: int = 0, dropout: float = 0.0):
    """``Linear -> 1`` (logistic regression) or ``Linear-GELU-Dropout-Linear -> 1``."""
    from torch import nn

    if hidden_dim > 0:
        return nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, 1))
    return nn.Sequential(nn.Linear(input_dim, 1))


def _trigrams(sentence: str) -> set:
    w = sentence.lower().split()
    return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}


def select(scores: np.ndarray, sentences: Sequence[str], k: int, trigram_block: bool = True,
           max_words: int | None = None) -> list[int]:
    """Indices of the ``k`` best-scored sentences (trigram blocking), in document order. ``max_words``:
    stop early once the picked sentences hold that many words (whole sentences; the model's learned
    summary length)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    picked: list[int] = []
    seen: set = set()
    words = 0
    for i in order:
        if len(picked) >= k or (max_words and words >= max_words):
            break
        tri = _trigrams(sentences[i])
        if trigram_block and tri & seen:
            continue
        picked.append(int(i))
        seen |= tri
        words += len(sentences[i].split())
    if not max_words and len(picked) < min(k, len(sentences)):  # blocking left too few: fill by score
        picked += [int(i) for i in order if int(i) not in picked][:k - len(picked)]
    return sorted(picked)


class ExtractiveScorer:
    """A loaded scorer: the packaged MiniLM encoder plus the trained sentence scorer of one folder."""

    def __init__(self, encoder, net, meta: dict, path: Path, name: str):
        self.encoder, self.net, self.meta, self.path, self.name = encoder, net, meta, path, name
        self.settings = dict(meta.get("settings") or {})

    @classmethod
    def load(cls, path: str | Path | None = None, *, device="cpu", dtype=None, quantize: str | None = None,
             name: str | None = None) -> "ExtractiveScorer":
        from safetensors.torch import load_file

        from ..backend.embedded import packaged_path
        from ..backend.encoder import SentenceEncoder, read_fitted_meta

        folder = Path(path) if path is not None else packaged_path(DEFAULT_NAME)
        meta = read_fitted_meta(folder, files=(META, WEIGHTS), meta_name=META, fmt=FORMAT, what="extractive summarization model",
                                rebuild="nlptasks finetune summarize --extractive")

        arch = meta["architecture"]
        net = build_scorer(int(arch["input_dim"]), int(arch.get("hidden_dim", 0)))
        try:
            net.load_state_dict(load_file(str(folder / WEIGHTS)))
        except RuntimeError as exc:
            raise ModelLoadError(f"{folder / WEIGHTS}: weights do not match the architecture in {META}") from exc
        net.eval()
        encoder = SentenceEncoder.load(device=device, dtype=dtype, quantize=quantize)
        if encoder.dim + N_EXTRA != int(arch["input_dim"]):
            raise ModelLoadError(f"{folder}: scorer input {arch['input_dim']} does not fit encoder dim {encoder.dim}")
        return cls(encoder, net, meta, folder, name or meta.get("name") or folder.name)

    def num_parameters(self) -> int:
        return self.encoder.num_parameters() + sum(p.numel() for p in self.net.parameters())

    def describe(self) -> dict:
        from ..hashing import cached_file_hash as file_hash

        enc = self.encoder.describe()
        return {**enc, "name": self.name, "path": str(self.path),
                "weights_hash": f"{enc['weights_hash']}+{file_hash(str((self.path / WEIGHTS).resolve()))}",
                "parameters": self.num_parameters(), "encoder": enc["name"], "kind": "extractive-supervised"}

    def sentence_scores(self, documents: list[list[str]], batch_size: int | None = 64) -> list[np.ndarray]:
        import torch

        flat = [s for ss in documents for s in ss]
        emb = self.encoder.encode(flat, batch_size=batch_size or 64, desc="summarize").numpy()
        out, start = [], 0
        for ss in documents:
            x = torch.from_numpy(features(ss, emb[start:start + len(ss)]))
            with torch.inference_mode():
                out.append(self.net(x).squeeze(-1).float().numpy())
            start += len(ss)
        return out

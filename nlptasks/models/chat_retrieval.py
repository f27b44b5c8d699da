"""Retrieval dialogue model: answer with the response of the most similar training context.

A retrieval model is a folder (``nlptasks finetune chat --model minilm --retrieval`` writes one; the
packaged default ``minilm-retrieval`` is one) holding

* ``retrieval.json``        format, encoder identity, scoring settings, counts;
* ``index.safetensors``     ``contexts`` int8 ``[n, dim]`` + ``scales`` float16 ``[n]``: the encoded
                            *context* of each training pair (row-wise symmetric int8);
* ``responses.json.gz``     the ``n`` candidate responses (the gold next turns of those contexts).

A conversation is encoded like the training contexts: its last turns are embedded with the packaged
MiniLM encoder and summed with weights that favour the most recent turn (``turn_weights``, most recent
first), then L2-normalised. Candidates are the ``top_k`` training pairs whose contexts are most similar
(context-context matching). The answer is picked among them by consensus: each candidate scores
``similarity_weight * cos(context) + (1 - similarity_weight) * mean unigram F1 with the other
candidates`` (a minimum-Bayes-risk choice: the response most typical of what followed similar
contexts). There is no language model: a retrieval model has no perplexity.

Pure numpy apart from the encoder; imports nothing from the CLI.
"""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelLoadError

FORMAT = "nlptasks-chat-retrieval/1"
META = "retrieval.json"
INDEX = "index.safetensors"
RESPONSES = "responses.json.gz"
DEFAULT_NAME = "minilm-retrieval"
DEFAULTS = {"turn_weights": [1.0, 0.5, 0.25], "top_k": 20, "similarity_weight": 0.5}


def is_retrieval_model(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by the retrieval family (it holds ``retrieval.json``)."""
    p = Path(path)
    return p.is_dir() and (p / META).is_file()


# -- shared by training and inference -----------------------------------------------------------------
def context_vectors(turn_embeddings: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """One L2-normalised vector per conversation: ``sum_i weights[i] * e(turn[-1-i])``.

    ``turn_embeddings[c]`` is the ``[turns, dim]`` embedding matrix of conversation ``c`` (oldest first).
    """
    out = []
    for emb in turn_embeddings:
        emb = np.asarray(emb, dtype=np.float32)
        v = np.zeros(emb.shape[1], dtype=np.float32)
        for w, e in zip(weights, emb[::-1]):
            v += float(w) * e
        n = float(np.linalg.norm(v))
        out.append(v / n if n > 0 else v)
    return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)


def quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise symmetric int8: ``x ~= q * scale[:, None]``."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.abs(x).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float16)


def _tokens(text: str) -> list[str]:
    from ..metrics.dialogue import normalize_parlai

    return normalize_parlai(text).split()


def _f1(a: Counter, na: int, b: Counter, nb: int) -> float:
    same = sum((a & b).values())
    if not same:
        return 0.0
    p, r = same / na, same / nb
    return 2 * p * r / (p + r)


def choose(candidates: list[int], sims: np.ndarray, responses: Sequence[str], similarity_weight: float,
           token_cache: dict | None = None) -> int:
    """The candidate (an index into ``responses``) with the best mix of similarity and consensus."""
    if len(candidates) == 1 or similarity_weight >= 1.0:
        return candidates[int(np.argmax(sims))]
    cache = token_cache if token_cache is not None else {}
    bags = []
    for c in candidates:
        if c not in cache:
            toks = _tokens(responses[c])
            cache[c] = (Counter(toks), max(len(toks), 1))
        bags.append(cache[c])
    k = len(candidates)
    consensus = np.zeros(k)
    for i in range(k):
        for j in range(i + 1, k):
            f = _f1(bags[i][0], bags[i][1], bags[j][0], bags[j][1])
            consensus[i] += f
            consensus[j] += f
    consensus /= (k - 1)
    score = similarity_weight * np.asarray(sims, dtype=np.float64) + (1 - similarity_weight) * consensus
    return candidates[int(np.argmax(score))]  # ties -> the most similar (candidates are sorted)


def retrieve(queries: np.ndarray, contexts: np.ndarray, responses: Sequence[str], *, top_k: int,
             similarity_weight: float, exclude: Sequence[set] | None = None) -> list[tuple[int, float]]:
    """``(index, similarity)`` of the chosen response for each query vector. ``exclude[q]``: rows that
    query ``q`` may not use (held-out evaluation on the training pairs themselves)."""
    out: list[tuple[int, float]] = []
    cache: dict = {}
    for start in range(0, len(queries), 256):
        sims = queries[start:start + 256] @ contexts.T
        for row, s in enumerate(sims):
            q = start + row
            if exclude is not None and exclude[q]:
                s = s.copy()
                s[list(exclude[q])] = -np.inf
            k = min(top_k, len(s))
            top = np.argpartition(-s, k - 1)[:k]
            top = top[np.argsort(-s[top], kind="stable")]
            top = [int(t) for t in top if np.isfinite(s[t])]
            best = choose(top, s[top], responses, similarity_weight, cache)
            out.append((best, float(s[best])))
    return out


# -- the model -------------------------------------------------------------------------------------
class RetrievalChat:
    """A loaded retrieval model: the MiniLM encoder plus the index of one folder."""

    def __init__(self, encoder, contexts: np.ndarray, responses: list[str], meta: dict, path: Path, name: str):
        self.encoder, self.contexts, self.responses, self.meta, self.path, self.name = (
            encoder, contexts, responses, meta, path, name)
        settings = {**DEFAULTS, **(meta.get("settings") or {})}
        self.turn_weights = [float(w) for w in settings["turn_weights"]]
        self.top_k = int(settings["top_k"])
        self.similarity_weight = float(settings["similarity_weight"])

    @classmethod
    def load(cls, path: str | Path | None = None, *, device="cpu", dtype=None, quantize: str | None = None,
             name: str | None = None) -> "RetrievalChat":
        from safetensors.numpy import load_file

        from ..backend.embedded import packaged_path
        from ..backend.encoder import SentenceEncoder, read_fitted_meta

        folder = Path(path) if path is not None else packaged_path(DEFAULT_NAME)
        meta = read_fitted_meta(folder, files=(META, INDEX, RESPONSES), meta_name=META, fmt=FORMAT,
                                what="retrieval chat model", rebuild="nlptasks finetune chat --retrieval")
        arrays = load_file(str(folder / INDEX))
        contexts = arrays["contexts"].astype(np.float32) * arrays["scales"].astype(np.float32)[:, None]
        with gzip.open(folder / RESPONSES, "rt", encoding="utf-8") as f:
            responses = json.load(f)
        if len(responses) != contexts.shape[0]:
            raise ModelLoadError(f"retrieval chat model {folder}: {len(responses)} responses for "
                                 f"{contexts.shape[0]} index rows")
        encoder = SentenceEncoder.load(device=device, dtype=dtype, quantize=quantize)
        if encoder.dim != contexts.shape[1]:
            raise ModelLoadError(f"retrieval chat model {folder}: index dim {contexts.shape[1]} != encoder dim "
                                 f"{encoder.dim}")
        return cls(encoder, contexts, responses, meta, folder, name or meta.get("name") or folder.name)

    def describe(self) -> dict:
        from ..hashing import cached_file_hash as file_hash

        enc = self.encoder.describe()
        return {**enc, "name": self.name, "path": str(self.path),
                "weights_hash": f"{enc['weights_hash']}+{file_hash(str((self.path / INDEX).resolve()))}",
                "parameters": self.encoder.num_parameters(), "encoder": enc["name"],
                "kind": "retrieval", "candidates": len(self.responses), "perplexity": None}

    def settings(self) -> dict:
        from ..detokenize import detokenizer

        return {"turn_weights": self.turn_weights, "top_k": self.top_k, "similarity_weight": self.similarity_weight,
                "detokenize": detokenizer()}

    def respond(self, conversations: list[list[str]], batch_size: int | None = 64) -> list[dict]:
        n = len(self.turn_weights)
        last = [[t for t in turns if t.strip()][-n:] for turns in conversations]
        flat = [t for turns in last for t in turns]
        emb = self.encoder.encode(flat, batch_size=batch_size or 64, desc="chat").numpy()
        per, start = [], 0
        for turns in last:
            per.append(emb[start:start + len(turns)])
            start += len(turns)
        queries = context_vectors(per, self.turn_weights)
        picks = retrieve(queries, self.contexts, self.responses, top_k=self.top_k,
                         similarity_weight=self.similarity_weight)
        from ..detokenize import detokenize

        # DailyDialog's responses are tokenised (`I ’ m fine , thanks .`): shown detokenised; the dialogue
        # metrics score both forms alike (metrics.dialogue.spaced)
        return [{"response": detokenize(self.responses[i]), "dropped_turns": 0, "similarity": round(s, 4)}
                for i, s in picks]

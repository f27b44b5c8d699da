"""Dense passage vectors: embedding with the packaged sentence encoder, and search.

Vectors are the encoder's mean-pooled, L2-normalised embeddings (all-MiniLM-L6-v2 was trained for
semantic search with them), stored as float16 ``.npy`` shards (one per build or ``add``) and
memory-mapped on load, so an index larger than memory is searched without reading it all in.
The score of a passage is the inner product (cosine) with the query vector.

* exact search (small indexes): the shards are scanned in blocks of ``BLOCK_ROWS`` rows; time grows
  linearly with the number of passages, memory stays at one block.
* FAISS (large indexes, at least the manifest's ``faiss_threshold`` passages): an inverted-file index
  (``IndexIVFFlat``, inner product, ``nlist`` ~ 4 sqrt(n) lists, ``nprobe`` of them searched), read
  with ``IO_FLAG_MMAP``: approximate, sub-linear.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

BLOCK_ROWS = 32_768
DEFAULT_NPROBE = 32
MAX_PASSAGE_TOKENS = 256  # all-MiniLM-L6-v2 was trained on inputs up to 256 tokens


def load_encoder(device: str = "cpu"):
    from ..backend.encoder import SentenceEncoder

    return SentenceEncoder.load(None, device=device)


def embed(encoder, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """``[n, dim]`` float32 unit vectors."""
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    vecs = encoder.encode(list(texts), batch_size=batch_size, max_length=MAX_PASSAGE_TOKENS, desc="embed")
    vecs = vecs.numpy() if hasattr(vecs, "numpy") else vecs
    return np.asarray(vecs, dtype=np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (ties: lower index first)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    return part[np.lexsort((part, -scores[part]))]


class DenseIndex:
    """The vectors of an index folder (shards memory-mapped; FAISS when a ``dense.faiss`` is there)."""

    def __init__(self, shards: list[Path], faiss_file: Path | None = None, nprobe: int = DEFAULT_NPROBE):
        self.shards = [np.load(p, mmap_mode="r") for p in shards]
        self.offsets = np.cumsum([0] + [s.shape[0] for s in self.shards])
        self.n = int(self.offsets[-1])
        self.faiss = None
        if faiss_file is not None and faiss_file.is_file():
            from .deps import need

            faiss = need("faiss")
            self.faiss = faiss.read_index(str(faiss_file), faiss.IO_FLAG_MMAP)
            self.faiss.nprobe = nprobe

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each query vector, the ``k`` best ``(row, score)`` pairs, best first."""
        k = min(k, self.n)
        if k <= 0:
            return [[] for _ in range(len(queries))]
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if self.faiss is not None:
            scores, rows = self.faiss.search(q, k)
            return [[(int(r), float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, scores)]
        best_rows = [np.zeros(0, dtype=np.int64) for _ in q]
        best_scores = [np.zeros(0, dtype=np.float32) for _ in q]
        for base, block in self._blocks():
            s = block.astype(np.float32) @ q.T  # [rows, queries]
            for j in range(q.shape[0]):
                idx = top_k(s[:, j], k)
                rows = np.concatenate([best_rows[j], idx + base])
                sc = np.concatenate([best_scores[j], s[idx, j]])
                keep = top_k(sc, k)
                best_rows[j], best_scores[j] = rows[keep], sc[keep]
        return [[(int(r), float(s)) for r, s in zip(rr, ss)] for rr, ss in zip(best_rows, best_scores)]

    def _blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        for base, shard in zip(self.offsets, self.shards):
            for i in range(0, shard.shape[0], BLOCK_ROWS):
                yield int(base + i), shard[i:i + BLOCK_ROWS]


def build_faiss(shards: list[Path], dim: int, out: Path, seed: int = 0) -> dict:
    """An ``IndexIVFFlat`` (inner product) over every shard, written to ``out``; returns its settings."""
    from .deps import need

    faiss = need("faiss")
    arrays = [np.load(p, mmap_mode="r") for p in shards]
    n = sum(a.shape[0] for a in arrays)
    nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
    rng = np.random.default_rng(seed)
    sample_n = min(n, 64 * nlist)
    picks = np.sort(rng.choice(n, size=sample_n, replace=False))
    offsets = np.cumsum([0] + [a.shape[0] for a in arrays])
    sample = np.empty((sample_n, dim), dtype=np.float32)
    for s_i, a in enumerate(arrays):
        sel = picks[(picks >= offsets[s_i]) & (picks < offsets[s_i + 1])] - offsets[s_i]
        pos = np.searchsorted(picks, sel + offsets[s_i])
        sample[pos] = a[sel].astype(np.float32)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(sample)
    for a in arrays:
        for i in range(0, a.shape[0], BLOCK_ROWS):
            index.add(np.ascontiguousarray(a[i:i + BLOCK_ROWS], dtype=np.float32))
    faiss.write_index(index, str(out))
    return {"kind": "IndexIVFFlat", "nlist": nlist, "trained_on": sample_n}

"""BM25 over passages with ``bm25s`` (sparse matrices; saved as .npy files and memory-mapped on load).

Texts are lower-cased, split on word characters and English stop words are dropped (bm25s' default
tokenizer); queries go through the same tokenizer. Building tokenizes in chunks into int32 arrays, so
the token ids of a large collection take 4 bytes a token. Passages that share no term with a query
are not returned (their score is 0).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

PARAMS = {"method": "lucene", "k1": 1.5, "b": 0.75, "stopwords": "en"}
CHUNK = 10_000


def _bm25s():
    import logging

    from .deps import need

    module = need("bm25s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
    return module


def build(texts: Iterable[str], folder: Path) -> int:
    """Index ``texts`` (streamed) into ``folder``; returns the number indexed."""
    bm25s = _bm25s()
    from bm25s.tokenization import Tokenized, Tokenizer

    tokenizer = Tokenizer(stopwords=PARAMS["stopwords"])
    ids: list[np.ndarray] = []
    chunk: list[str] = []

    def flush():
        if chunk:
            out = tokenizer.tokenize(chunk, update_vocab=True, return_as="ids", show_progress=False)
            ids.extend(np.asarray(x, dtype=np.int32) for x in out)
            chunk.clear()

    for t in texts:
        chunk.append(t)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    retriever = bm25s.BM25(method=PARAMS["method"], k1=PARAMS["k1"], b=PARAMS["b"])
    retriever.index(Tokenized(ids=ids, vocab=tokenizer.get_vocab_dict()), show_progress=False)
    folder.mkdir(parents=True, exist_ok=True)
    retriever.save(str(folder), show_progress=False)
    return len(ids)


class BM25Index:
    def __init__(self, folder: Path, n: int):
        bm25s = _bm25s()
        self._bm25s = bm25s
        self.retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        self.n = n

    def search(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        """For each query, up to ``k`` ``(row, score)`` pairs, best first (score > 0 only)."""
        k = min(k, self.n)
        if k <= 0:
            return [[] for _ in queries]
        tokens = self._bm25s.tokenize(queries, stopwords=PARAMS["stopwords"], return_ids=False,
                                      show_progress=False)
        out = []
        for q in tokens:
            if not q:
                out.append([])
                continue
            docs, scores = self.retriever.retrieve([q], k=k, show_progress=False, n_threads=1)
            out.append([(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0])
        return out

"""Retrieval for question answering over a knowledge base: documents split into passages
(``passages``), read from files, folders and JSON Lines (``sources``), indexed for BM25 (``bm25``, with
bm25s) and dense search (``dense``: the packaged MiniLM encoder, FAISS for large indexes), fused by
reciprocal rank (``fusion``), all in one folder (``index``). Knows no task: the QA task calls it."""

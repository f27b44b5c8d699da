"""The knowledge-base index: one folder holding everything retrieval needs.

::

    manifest.json            format, encoder (name + weights sha256), counts, settings, shards
    passages.jsonl           one passage a line: row, id, doc_id, source, title, text, start, end
    passages.offsets.npy     byte offset of each line (memory-mapped: a passage is read by a seek)
    documents.jsonl          one indexed document a line: id, source, title, content hash, passages
    embeddings-NNNNN.npy     float16 passage vectors, one shard per build/add (memory-mapped)
    bm25/                    bm25s statistics (rebuilt over all passages on add; memory-mapped)
    dense.faiss              an IVF index over all vectors, only at ``faiss_threshold`` passages or more

Building streams: documents are read one at a time and their passages written to disk, then embedded
in chunks of ``EMBED_CHUNK`` passages straight into a memory-mapped shard, so memory does not grow with
the collection (BM25 keeps int32 token ids: 4 bytes a token). A document whose text (whitespace
collapsed) was indexed before is skipped. The manifest is written last; an index is opened only when
the packaged encoder's weights hash is the one in its manifest.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError, ModelLoadError
from . import bm25 as bm25_mod
from .passages import DEFAULT_MAX_WORDS, DEFAULT_OVERLAP_WORDS, split_passages
from .sources import MANIFEST

log = logging.getLogger("nlptasks")

FORMAT = "nlptasks-index/1"
ENCODER_NAME = "all-MiniLM-L6-v2"
EMBED_CHUNK = 2048
DEFAULT_FAISS_THRESHOLD = 200_000
RETRIEVERS = ("bm25", "dense", "hybrid")
CANDIDATES = 100  # passages each retriever contributes to hybrid fusion
INDEX_FILES = ("manifest.json", "passages.jsonl", "passages.offsets.npy", "documents.jsonl", "bm25", "dense.faiss")
_SPACE = re.compile(r"\s+")


def content_hash(text: str) -> str:
    return hashlib.sha256(_SPACE.sub(" ", text).strip().encode("utf-8")).hexdigest()[:32]


def index_text(p: dict) -> str:
    """What BM25 and the encoder see: the title (when there is one) and the passage."""
    return f"{p['title']}\n{p['text']}" if p.get("title") else p["text"]


def encoder_identity() -> dict:
    from ..backend.embedded import minilm_path
    from ..backend.encoder import encoder_weights_hash

    return {"name": ENCODER_NAME, "weights_sha256": encoder_weights_hash(minilm_path()), "pooling": "mean",
            "normalize": True, "max_length": 256}


@dataclass
class BuildSettings:
    max_words: int = DEFAULT_MAX_WORDS
    overlap_words: int = DEFAULT_OVERLAP_WORDS
    faiss_threshold: int = DEFAULT_FAISS_THRESHOLD
    batch_size: int = 64


# -- reading ---------------------------------------------------------------------------------------
def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such index folder")
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: not an index folder (no {MANIFEST}); build one with "
                         f"`nlptasks index build SOURCES --output {folder}`") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{path}: not an nlptasks index (format {manifest.get('format') if isinstance(manifest, dict) else None!r})")
    return manifest


def check_encoder(manifest: dict, folder: Path) -> None:
    want = (manifest.get("encoder") or {}).get("weights_sha256")
    have = encoder_identity()["weights_sha256"]
    if want != have:
        raise ModelLoadError(f"index {folder} was built with encoder weights {want}, but the packaged "
                             f"encoder has {have}; rebuild it with `nlptasks index build ... --output {folder}`")


class KnowledgeIndex:
    """An opened index folder: ``search(queries, retriever, k)`` and ``passage(row)``."""

    def __init__(self, folder: str | Path, *, encoder=None, nprobe: int | None = None):
        from .dense import DEFAULT_NPROBE, DenseIndex

        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        check_encoder(self.manifest, self.folder)
        self.n = int(self.manifest["passages"])
        self.offsets = np.load(self.folder / "passages.offsets.npy", mmap_mode="r")
        if self.offsets.shape[0] != self.n:
            raise InputError(f"{self.folder}: passages.offsets.npy has {self.offsets.shape[0]} rows, the manifest "
                             f"{self.n}; rebuild the index")
        self._fh = open(self.folder / "passages.jsonl", "rb")
        self.dense = DenseIndex([self.folder / s["file"] for s in self.manifest["shards"]],
                                self.folder / "dense.faiss" if self.manifest.get("faiss") else None,
                                nprobe or DEFAULT_NPROBE)
        self.bm25 = bm25_mod.BM25Index(self.folder / "bm25", self.n)
        self._encoder = encoder

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    def close(self) -> None:
        self._fh.close()

    @property
    def encoder(self):
        if self._encoder is None:
            from .dense import load_encoder

            self._encoder = load_encoder()
        return self._encoder

    def passage(self, row: int) -> dict:
        self._fh.seek(int(self.offsets[row]))
        return json.loads(self._fh.readline())

    def search(self, queries: list[str], retriever: str = "hybrid", k: int = 5) -> list[list[dict]]:
        """For each query, the ``k`` best passages (dicts with ``score`` and ``rank`` added), best first."""
        from .dense import embed
        from .fusion import reciprocal_rank_fusion

        if retriever not in RETRIEVERS:
            raise InputError(f"unknown retriever {retriever!r}; use one of: {', '.join(RETRIEVERS)}")
        depth = max(k, CANDIDATES) if retriever == "hybrid" else k
        sparse = self.bm25.search(queries, depth) if retriever != "dense" else None
        dense = self.dense.search(embed(self.encoder, queries), depth) if retriever != "bm25" else None
        out = []
        for i in range(len(queries)):
            if retriever == "bm25":
                hits = sparse[i][:k]
            elif retriever == "dense":
                hits = dense[i][:k]
            else:
                hits = reciprocal_rank_fusion([sparse[i], dense[i]], k)
            out.append([{**self.passage(r), "score": s, "rank": n} for n, (r, s) in enumerate(hits, 1)])
        return out


# -- building --------------------------------------------------------------------------------------
def _write_jsonl_line(fh, obj: dict) -> int:
    data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    fh.write(data)
    return len(data)


def _stage_passages(documents: Iterable[dict], stage: Path, settings: BuildSettings, seen_hashes: set[str],
                    seen_ids: set[str], first_row: int) -> tuple[int, int, int]:
    """Split new documents into ``stage/passages.jsonl`` and ``stage/documents.jsonl``; returns
    ``(documents, duplicates skipped, passages)``."""
    from ..progress import progress

    n_docs = dup = rows = 0
    with open(stage / "passages.jsonl", "wb") as pf, open(stage / "documents.jsonl", "wb") as df:
        for doc in progress(documents, desc="split", unit="doc"):
            h = content_hash(doc["text"])
            if h in seen_hashes:
                dup += 1
                continue
            seen_hashes.add(h)
            doc_id, k = doc["id"], 1
            while doc_id in seen_ids:  # same id, another text: keep both, apart
                k += 1
                doc_id = f"{doc['id']}~{k}"
            seen_ids.add(doc_id)
            passages = split_passages(doc_id, doc["text"], settings.max_words, settings.overlap_words)
            source = doc["source"] if doc_id == doc["id"] else doc_id
            for p in passages:
                _write_jsonl_line(pf, {"row": first_row + rows, "id": p.id, "doc_id": doc_id, "source": source,
                                       "title": doc.get("title"), "text": p.text, "start": p.start, "end": p.end})
                rows += 1
            _write_jsonl_line(df, {"id": doc_id, "source": source, "title": doc.get("title"), "hash": h,
                                   "passages": len(passages)})
            n_docs += 1
    return n_docs, dup, rows


def _iter_jsonl(path: Path) -> Iterator[dict]:
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _embed_shard(passages: Path, n: int, out: Path, settings: BuildSettings, encoder) -> None:
    from numpy.lib.format import open_memmap

    from ..progress import progress
    from .dense import embed

    arr = open_memmap(str(out), mode="w+", dtype=np.float16, shape=(n, encoder.dim))
    bar = progress(total=n, desc="embed passages", unit="passage")
    i, chunk = 0, []
    for p in _iter_jsonl(passages):
        chunk.append(index_text(p))
        if len(chunk) >= EMBED_CHUNK:
            arr[i:i + len(chunk)] = embed(encoder, chunk, settings.batch_size)
            i += len(chunk)
            bar.update(len(chunk))
            chunk = []
    if chunk:
        arr[i:i + len(chunk)] = embed(encoder, chunk, settings.batch_size)
        i += len(chunk)
        bar.update(len(chunk))
    bar.close()
    arr.flush()
    del arr


def _offsets(path: Path) -> np.ndarray:
    offs, pos = [], 0
    with open(path, "rb") as fh:
        for line in fh:
            offs.append(pos)
            pos += len(line)
    return np.asarray(offs, dtype=np.int64)


def _fingerprint(manifest: dict, doc_hashes: Iterable[str]) -> str:
    h = hashlib.sha256(json.dumps({k: manifest[k] for k in ("format", "encoder", "settings")},
                                  sort_keys=True).encode())
    for d in doc_hashes:
        h.update(d.encode())
    return h.hexdigest()[:16]


def build_index(sources: list[str] | None, output: str | Path, *, documents: Iterable[dict] | None = None,
                text_field: str = "text", id_field: str = "id", settings: BuildSettings | None = None,
                append: bool = False, encoder=None) -> dict:
    """Build (or, with ``append``, extend) the index in ``output`` from ``sources`` (files and folders)
    or ``documents`` (dicts with ``id``, ``text``, optional ``title``/``source``); returns the manifest
    with ``added`` and ``duplicates`` counts."""
    from ..paths import record_outputs
    from .sources import iter_documents

    out = Path(output)
    settings = settings or BuildSettings()
    old = read_manifest(out) if append else None
    if old is not None:
        check_encoder(old, out)
        s = old["settings"]
        settings = BuildSettings(s["max_words"], s["overlap_words"], s["faiss_threshold"], settings.batch_size)
    docs = documents if documents is not None else iter_documents(sources or [], text_field=text_field,
                                                                    id_field=id_field)
    docs = ({"source": d.get("id"), "title": None, **d} for d in docs)
    seen_hashes: set[str] = set()
    seen_ids: set[str] = set()
    if old is not None:
        for d in _iter_jsonl(out / "documents.jsonl"):
            seen_hashes.add(d["hash"])
            seen_ids.add(d["id"])
    first_row = int(old["passages"]) if old else 0
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".building-", dir=out))
    ok = False
    try:
        n_docs, dup, rows = _stage_passages(docs, stage, settings, seen_hashes, seen_ids, first_row)
        if old is None and rows == 0:
            raise InputError("no text to index: the sources hold no documents with text"
                             + (f" ({dup} duplicates skipped)" if dup else ""))
        shards = list(old["shards"]) if old else []
        if rows:
            enc = encoder or _load_encoder()
            shard = f"embeddings-{len(shards):05d}.npy"
            _embed_shard(stage / "passages.jsonl", rows, stage / shard, settings, enc)
            shards.append({"file": shard, "rows": rows})
        names = [s["file"] for s in shards] + list(INDEX_FILES)
        record_outputs(out, "index", names)
        # move the new pieces in: passages and documents appended, the new shard added
        for name in ("passages.jsonl", "documents.jsonl"):
            with open(out / name, "ab" if old else "wb") as dst, open(stage / name, "rb") as src:
                shutil.copyfileobj(src, dst)
        if rows:
            os.replace(stage / shards[-1]["file"], out / shards[-1]["file"])
        total = first_row + rows
        offsets = _offsets(out / "passages.jsonl")
        np.save(out / "passages.offsets.npy", offsets)
        if rows or old is None:
            tmp_bm25 = stage / "bm25"
            bm25_mod.build((index_text(p) for p in _iter_jsonl(out / "passages.jsonl")), tmp_bm25)
            if (out / "bm25").exists():
                shutil.rmtree(out / "bm25")
            os.replace(tmp_bm25, out / "bm25")
        faiss_info = old.get("faiss") if old else None
        if rows and total >= settings.faiss_threshold:
            from .dense import build_faiss

            faiss_info = build_faiss([out / s["file"] for s in shards], enc.dim, stage / "dense.faiss")
            os.replace(stage / "dense.faiss", out / "dense.faiss")
        elif total < settings.faiss_threshold:
            faiss_info = None
            (out / "dense.faiss").unlink(missing_ok=True)
        n_documents = (int(old["documents"]) if old else 0) + n_docs
        manifest = {
            "format": FORMAT, "encoder": encoder_identity(),
            "settings": {"max_words": settings.max_words, "overlap_words": settings.overlap_words,
                         "faiss_threshold": settings.faiss_threshold, "bm25": bm25_mod.PARAMS,
                         "embedding_dtype": "float16"},
            "documents": n_documents, "passages": total,
            "dim": int(np.load(out / shards[0]["file"], mmap_mode="r").shape[1]), "shards": shards,
            "faiss": faiss_info, "created_at": (old or {}).get("created_at") or _now(), "updated_at": _now(),
        }
        manifest["fingerprint"] = _fingerprint(manifest, (d["hash"] for d in _iter_jsonl(out / "documents.jsonl")))
        from ..io import atomic_write

        atomic_write(str(out / MANIFEST), json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not ok:  # a failed first build leaves no folder behind
            shutil.rmtree(out, ignore_errors=True)
    return {**manifest, "added": n_docs, "added_passages": rows, "duplicates": dup}


def _load_encoder():
    from .dense import load_encoder

    return load_encoder()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""The hashes nlptasks records: of JSON values (run ids, definition hashes, cache keys), of files (model
weights) and of datasets (data fingerprints). One place, so the same thing always hashes the same way."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys and no ASCII escaping: equal values give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def json_hash(obj: Any, length: int | None = None) -> str:
    """sha256 (hex) of :func:`canonical_json` of ``obj``; ``length`` keeps that many leading hex chars."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def _update_from_file(h, path: Path) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def file_hash(path: str | Path, length: int | None = 16) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks (first ``length`` hex chars)."""
    h = hashlib.sha256()
    _update_from_file(h, Path(path))
    return h.hexdigest()[:length]


def cached_file_hash(path: str | Path) -> str:
    """:func:`file_hash` of a file that is read again only when its size or modification time changes
    (model weights are hashed on every load)."""
    p = Path(path).resolve()
    st = p.stat()
    return _cached_file_hash(str(p), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=32)
def _cached_file_hash(path: str, size: int, mtime_ns: int) -> str:
    return file_hash(path)


def files_hash(paths: Iterable[str | Path], length: int | None = 16) -> str | None:
    """sha256 over several files, each as its name then its bytes, in the order given; None for none."""
    h, n = hashlib.sha256(), 0
    for p in paths:
        p = Path(p)
        h.update(p.name.encode())
        _update_from_file(h, p)
        n += 1
    return h.hexdigest()[:length] if n else None


def records_fingerprint(records: Iterable[dict]) -> str:
    """A dataset's content fingerprint (first 16 hex chars of a sha256): each record's JSON with sorted
    keys, ``__``-prefixed bookkeeping (row numbers) left out, one per line."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps({k: v for k, v in r.items() if not str(k).startswith("__")}, sort_keys=True,
                            ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]

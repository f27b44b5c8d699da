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
    """:func:`file_hash` of a file that is read again only when its size, modification time, inode or
    status-change time changes (model weights are hashed on every load). The hashes of large files are
    also kept on disk (``file-hashes.json`` beside the prediction cache: ``$NLPTASKS_CACHE_DIR`` or the user
    cache folder), so a new process does not read a 90 MB weights file again just to name it."""
    p = Path(path).resolve()
    st = p.stat()
    return _cached_file_hash(str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


DISK_CACHE_MIN_BYTES = 8 << 20  # smaller files are hashed faster than the cache file is read
DISK_CACHE_MAX_ENTRIES = 256


def _disk_cache_file() -> Path:
    import os

    folder = os.environ.get("NLPTASKS_CACHE_DIR")
    if not folder:
        import platformdirs

        folder = str(Path(platformdirs.user_cache_dir("nlptasks")) / "predictions")
    return Path(folder) / "file-hashes.json"


@lru_cache(maxsize=32)
def _cached_file_hash(path: str, size: int, mtime_ns: int, ino: int = 0, ctime_ns: int = 0) -> str:
    if size < DISK_CACHE_MIN_BYTES:
        return file_hash(path)
    key = f"{path}|{size}|{mtime_ns}|{ino}|{ctime_ns}"
    store = _disk_cache_file()
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    value = known.get(key)
    if isinstance(value, str) and len(value) == 16 and all(c in "0123456789abcdef" for c in value):
        return value
    value = file_hash(path)
    known = {k: v for k, v in known.items() if not k.startswith(f"{path}|")}  # the file's older versions
    known = dict(list(known.items())[-(DISK_CACHE_MAX_ENTRIES - 1):])
    known[key] = value
    try:  # best effort: an unwritable cache folder only costs the next process a re-read
        import os
        import tempfile

        store.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=store.parent, prefix=".file-hashes-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(known, f)
            os.replace(tmp, store)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass
    return value


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

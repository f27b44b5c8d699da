"""A cache of per-example predictions, so a killed evaluation resumes where it stopped and re-running a
suite re-scores without re-predicting.

One SQLite file (``predictions.sqlite3``) under the cache folder (``--cache-dir``; default the user
cache dir, e.g. ``~/.cache/nlptasks/predictions``). A row maps ``sha256(model key, kind, example key)``
to the task's output for that example (JSON), where

- the *model key* hashes everything that can change an output: the task, the model's name, revision,
  weights hash, the hash of its config and tokenizer files (a local folder) and variant (dtype, quantization), the task's run settings (options, seed), the batch
  size and token budget (padding can move floating-point results), the resolved device and the torch
  and transformers versions;
- the *example key* hashes the example's input fields (and, for ``reference_nll``, its reference).

A hit returns exactly what was stored: the record of a run that used the cache is identical to one that
did not, but for timing and cost (whose ``predictions_cached`` / ``predictions_new`` say how many came
from where). Models without a weights hash (a hub id that is not in the local cache) are not cached:
their identity cannot be checked. Rows are committed after every chunk of predictions, so a kill loses
at most the chunk in flight; SQLite's locking lets the processes of a data-parallel run share a file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from .hashing import json_hash

log = logging.getLogger("nlptasks")

FILE_NAME = "predictions.sqlite3"
SCHEMA = ("CREATE TABLE IF NOT EXISTS predictions (key TEXT PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, "
          "created REAL)")


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("nlptasks")) / "predictions"


_hash = json_hash


def example_key(record: dict, extra: Any = None) -> str:
    """The example's input fields (``__``-prefixed bookkeeping such as ``__line__`` left out)."""
    fields = {k: v for k, v in record.items() if not str(k).startswith("__")}
    return _hash([fields, extra] if extra is not None else fields)


def model_key(task, info: dict, device: str) -> str | None:
    """Everything about the model and settings that can change an output, hashed; ``None`` when the
    model's weights cannot be identified (then nothing is cached)."""
    if not info.get("weights_hash"):
        return None
    from importlib import metadata

    versions = {}
    for pkg in ("torch", "transformers"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    model = {k: info.get(k) for k in ("name", "revision", "weights_hash", "variant")}
    if info.get("config_hash"):  # config, tokenizer and label files of a local folder change outputs too
        model["config_hash"] = info["config_hash"]
    return _hash({"task": task.name, "model": model,
                  "settings": task.run_settings(), "batch_size": task.batch_size, "max_tokens": task.max_tokens,
                  "device": device, "packages": versions})


class PredictionCache:
    """Per-example predictions of one model key in the SQLite file under ``folder``."""

    def __init__(self, folder: str | Path, key: str):
        from .errors import InputError

        self.folder = Path(folder).expanduser()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path = self.folder / FILE_NAME
            self._db = sqlite3.connect(str(self.path), timeout=120, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"--cache-dir {folder}: cannot use it as the prediction cache ({exc})") from None
        self.key = key

    def _row_key(self, kind: str, example: str) -> str:
        return hashlib.sha256(f"{self.key}\0{kind}\0{example}".encode()).hexdigest()

    def get_many(self, kind: str, examples: Iterable[str]) -> dict[str, Any]:
        """``{example key: stored value}`` for the examples that are cached."""
        examples = list(dict.fromkeys(examples))
        by_row = {self._row_key(kind, e): e for e in examples}
        found: dict[str, Any] = {}
        rows = list(by_row)
        for i in range(0, len(rows), 500):
            part = rows[i:i + 500]
            q = f"SELECT key, value FROM predictions WHERE key IN ({','.join('?' * len(part))})"
            for k, v in self._db.execute(q, part):
                found[by_row[k]] = json.loads(v)
        return found

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        now = time.time()
        rows = [(self._row_key(kind, e), kind, json.dumps(v, ensure_ascii=False, default=str), now) for e, v in items]
        with self._db:  # one transaction: a chunk is stored whole or not at all
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?)", rows)

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM predictions WHERE kind = ?", (kind,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()


def cached_map(cache: PredictionCache | None, kind: str, keys: list[str], items: list, fn, *,
               chunk: int) -> tuple[list, int]:
    """``fn(items)`` (a list -> list of one result per item) for every item, taking stored results from
    ``cache`` and storing new ones after every ``chunk`` items; returns ``(results, number from cache)``.

    Items are predicted in the order given (callers sort them by length), in chunks of ``chunk`` with
    or without a cache: a chunk is stored whole, so a resumed run predicts the very chunks (the same
    batches, the same padding) an uninterrupted run would have, and its outputs are bit for bit the same.
    """
    stored = cache.get_many(kind, keys) if cache is not None else {}
    results: list = [stored.get(k) for k in keys]
    todo = [i for i, k in enumerate(keys) if k not in stored]
    step = max(1, chunk)
    for start in range(0, len(todo), step):
        part = todo[start:start + step]
        out = list(fn([items[i] for i in part]))
        if cache is not None:
            cache.put_many(kind, ((keys[i], o) for i, o in zip(part, out)))
        for i, o in zip(part, out):
            results[i] = o
    return results, len(keys) - len(todo)

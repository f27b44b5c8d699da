"""The one reader of datasets: local JSON Lines / JSON / CSV / TSV / Parquet files and Hugging Face hub
datasets, as plain rows (dicts). Benchmarks (``nlptasks eval``), ad-hoc files (``eval --data``) and
training data (``finetune``/``distill --train/--validation``) all read through it.

Each local row carries ``__line__``, its 1-based position in the file: the line number for JSON Lines,
the spreadsheet row for CSV/TSV (the header is row 1), the index for a JSON array or Parquet table.
CSV/TSV cells that hold a JSON object or list (nested fields: QA answers, translation pairs, dialogue
histories) are parsed; every other cell stays a string. Text is decoded as ``nlptasks run`` decodes it
(UTF-8, UTF-8/UTF-16 with BOM; binary, empty and invalid files are one-line errors naming the file).
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from .errors import InputError, NlpTasksError

SUFFIX_FORMATS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv", ".tsv": "tsv",
                  ".parquet": "parquet"}
LOCAL_FORMATS = ("json", "csv", "tsv", "parquet")
ROW_KEY = "__line__"
MAX_FILE_BYTES = 256 << 20  # one local data file (the largest shared-data file is under 20 MiB)


class DatasetLoadError(NlpTasksError):
    """A dataset that cannot be loaded (missing file, offline hub, unknown config); ``reason`` is the
    cause without the dataset's name."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


def format_of(path: str | os.PathLike) -> str | None:
    """The local format a file name implies (``json``, ``csv``, ``tsv``, ``parquet``), else None."""
    return SUFFIX_FORMATS.get(Path(path).suffix.lower())


def read_file(path: str | os.PathLike, fmt: str | None = None, *, label: str | None = None) -> list[dict]:
    """The rows of one local file; ``fmt`` defaults to the one its suffix implies (JSON otherwise).
    Errors start with ``label`` (default: the path)."""
    path = Path(path)
    label = label or str(path)
    if not path.exists():
        raise InputError(f"{label}: no such file")
    if path.is_dir():
        raise InputError(f"{label}: is a directory; give a .jsonl, .json, .csv, .tsv or .parquet file")
    fmt = fmt or format_of(path) or "json"
    if fmt not in LOCAL_FORMATS:
        raise InputError(f"{label}: unknown data format {fmt!r}; use one of: {', '.join(LOCAL_FORMATS)}")
    from .io import read_file_capped

    if fmt == "parquet":
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{label}: is not a regular file of at most {MAX_FILE_BYTES >> 20} MiB")
        return _parquet(path, label)
    # bounded: an endless file (/dev/zero, a pipe) is refused, never read until memory runs out
    data = read_file_capped(path, MAX_FILE_BYTES, label)
    if not data.strip():
        return []  # an empty file has no rows; the caller says what that means
    from .io import decode_text

    text = decode_text(data, label)
    if fmt == "json":
        return _json(text, label)
    return _csv(text, label, "\t" if fmt == "tsv" or path.suffix.lower() == ".tsv" else ",")


def _json(text: str, label: str) -> list[dict]:
    from .io import loads_json, parse_jsonl

    if text.lstrip().startswith("["):  # one JSON array of objects
        try:
            rows = loads_json(text, label)
        except json.JSONDecodeError as exc:
            raise InputError(f"{label}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(f"{label}: expected a JSON array of objects")
        return [{**r, ROW_KEY: i} for i, r in enumerate(rows, 1)]
    return parse_jsonl(text, label, line_key=ROW_KEY, require=False)


def _cell(value):
    if isinstance(value, str) and value[:1] in "[{":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, (dict, list)) else value
    return value


def _csv(text: str, label: str, delimiter: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        for i, row in enumerate(reader, 2):  # row 1 is the header
            if None in row:
                raise InputError(f"{label}: row {i}: more values than header columns")
            rows.append({**{k: _cell(v) for k, v in row.items()}, ROW_KEY: i})
    except csv.Error as exc:
        raise InputError(f"{label}: malformed CSV ({exc})") from exc
    return rows


def _parquet(path: Path, label: str) -> list[dict]:
    import pyarrow.parquet as pq  # a dependency of datasets

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several error types for bad files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{label}: cannot be read as Parquet ({first})") from exc
    return [{**r, ROW_KEY: i} for i, r in enumerate(rows, 1)]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def load_hub(path: str, *, name: str | None = None, split: str = "test", revision: str | None = None,
             label: str = "data") -> tuple[list[dict], str]:
    """The rows of a hub dataset's split (``datasets.load_dataset``, honouring ``HF_HUB_OFFLINE``) and a
    short description of it; any failure is one :class:`DatasetLoadError` line naming the dataset."""
    desc = path + (f" ({name})" if name else "") + f" [{split}]"
    try:
        import datasets

        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()
        ds = datasets.load_dataset(path, name, split=split, revision=revision)
    except Exception as exc:
        msg = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)[:300]
        hint = (" (offline: HF_HUB_OFFLINE is set and the dataset is not in the local cache; use a *_local "
                "benchmark or download it first)" if _flag("HF_HUB_OFFLINE") or _flag("HF_DATASETS_OFFLINE")
                else "")
        raise DatasetLoadError(f"{label}: cannot load hub dataset {desc}{hint}: {msg}", reason=msg) from exc
    return [dict(r) for r in ds], f"hub:{desc}" + (f"@{revision}" if revision else "")

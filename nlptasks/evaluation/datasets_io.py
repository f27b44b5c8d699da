"""Loading benchmark data: local JSON Lines / JSON / CSV / Parquet files, or Hugging Face hub datasets.

Local files are read directly (no ``datasets`` cache is written, errors name the file and line); hub
datasets go through ``datasets.load_dataset``, and any failure there (offline, unknown id, missing
config) becomes one line naming the dataset. Columns are addressed by paths: ``text``,
``translation.en``, ``answers.text``, ``dialog[-1]``, ``dialog[:-1]``.
"""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, NlpTasksError

LOCAL_FORMATS = ("json", "csv", "parquet")
DEFAULT_DATA_DIR = Path("..") / "shared" / "data"
DATA_DIR_ENV = "NLPTASKS_DATA_DIR"


class DatasetLoadError(NlpTasksError):
    """A dataset that cannot be loaded (missing file, offline hub, unknown config)."""


# -- column paths ---------------------------------------------------------------------------------
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]|\[(-?\d*):(-?\d*)\]")


def parse_path(path: str) -> list:
    """``a.b[0][1:]`` -> ``["a", "b", 0, slice(1, None)]``; raises ValueError on a malformed path."""
    steps, pos = [], 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m or m.end() == pos or (pos == 0 and path.startswith(".")):
            raise ValueError(f"malformed column path {path!r}")
        key, index, start, stop = m.groups()
        if key is not None:
            steps.append(key)
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(slice(int(start) if start else None, int(stop) if stop else None))
        pos = m.end()
    if not steps:
        raise ValueError(f"empty column path {path!r}")
    return steps


class MissingColumn(Exception):
    def __init__(self, path: str, step: str, available: list[str]):
        super().__init__(path)
        self.path, self.step, self.available = path, step, available


def get_path(row: Any, path: str) -> Any:
    """The value at ``path`` in ``row``; raises :class:`MissingColumn` when a step does not exist."""
    value = row
    for step in parse_path(path):
        if isinstance(step, str):
            if not isinstance(value, dict) or step not in value:
                avail = sorted(value) if isinstance(value, dict) else []
                raise MissingColumn(path, step, avail)
            value = value[step]
        else:
            if not isinstance(value, (list, tuple)):
                raise MissingColumn(path, str(step), [])
            if isinstance(step, int):
                if not -len(value) <= step < len(value):
                    raise MissingColumn(path, f"[{step}]", [])
                value = value[step]
            else:
                value = list(value[step])
    return value


# -- data directory -------------------------------------------------------------------------------
def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``--data-dir``, else ``$NLPTASKS_DATA_DIR``, else ``../shared/data`` (relative to the current dir)."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_DIR


def resolve_files(files: list[str], data_dir: Path, where: str) -> list[Path]:
    out = []
    for f in files:
        p = Path(f).expanduser()
        if not p.is_absolute():
            p = data_dir / p
        if not p.is_file():
            hint = "" if Path(f).is_absolute() else (f" (relative paths resolve against the data dir {data_dir}; "
                                                     f"set --data-dir or ${DATA_DIR_ENV})")
            raise DatasetLoadError(f"{where}: data file {str(p)!r} not found{hint}")
        out.append(p)
    return out


# -- readers --------------------------------------------------------------------------------------
def _read_json(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):  # one JSON array
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
        if not all(isinstance(r, dict) for r in rows):
            raise InputError(f"{path}: expected a JSON array of objects")
        return rows
    from ..io import parse_jsonl

    return parse_jsonl(text, str(path), line_key="__line__", require=False)


def _read_csv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [dict(r) for r in csv.DictReader(f)]
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from exc


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several error types for bad files
        raise InputError(f"{path}: cannot be read as Parquet ({str(exc).splitlines()[0] if str(exc) else exc})"
                         ) from exc


READERS = {"json": _read_json, "csv": _read_csv, "parquet": _read_parquet}


def load_rows(dataset: dict, data_dir: str | os.PathLike | None, where: str,
              with_where: bool = False) -> tuple[list[dict], str]:
    """Rows of a benchmark's ``dataset`` section and a short description of the source. ``with_where``:
    each local row gets ``__where__`` ("FILE: line N" / "FILE: row N"), for error messages."""
    kind = dataset["path"]
    if kind in LOCAL_FORMATS:
        files = dataset.get("data_files")
        if isinstance(files, dict):
            split = dataset.get("split")
            if split not in files:
                raise DatasetLoadError(f"{where}: split {split!r} is not in data_files (has: {', '.join(files)})")
            files = files[split]
        files = [files] if isinstance(files, str) else list(files or [])
        if not files:
            raise DatasetLoadError(f"{where}: a local {kind} dataset needs data_files")
        paths = resolve_files(files, resolve_data_dir(data_dir), where)
        rows: list[dict] = []
        for p in paths:
            for i, row in enumerate(READERS[kind](p), 1):
                line = row.pop("__line__", None)
                if with_where:
                    row["__where__"] = f"{p}: line {line}" if line else f"{p}: row {i}"
                rows.append(row)
        return rows, f"{kind}:" + ",".join(str(f) for f in files)
    return _load_hub(dataset, where)


def _load_hub(dataset: dict, where: str) -> tuple[list[dict], str]:
    name, split, revision = dataset.get("name"), dataset.get("split") or "test", dataset.get("revision")
    desc = f"{dataset['path']}" + (f" ({name})" if name else "") + f" [{split}]"
    try:
        import datasets

        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()
        ds = datasets.load_dataset(dataset["path"], name, split=split, revision=revision)
    except Exception as exc:
        msg = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on") or \
            os.environ.get("HF_DATASETS_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        hint = (" (offline: HF_HUB_OFFLINE is set and the dataset is not in the local cache; use a *_local "
                "benchmark or download it first)" if offline else "")
        raise DatasetLoadError(f"{where}: cannot load hub dataset {desc}{hint}: {msg[:300]}") from exc
    return [dict(r) for r in ds], f"hub:{desc}" + (f"@{revision}" if revision else "")

"""A benchmark's data: its ``dataset`` section resolved against the data dir and read through
:mod:`nlptasks.datafiles` (the one reader of local files and hub datasets). Columns are addressed by paths: ``text``,
``translation.en``, ``answers.text``, ``dialog[-1]``, ``dialog[:-1]``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..datafiles import LOCAL_FORMATS, ROW_KEY, DatasetLoadError, load_hub, read_file
from ..errors import InputError

__all__ = ["DatasetLoadError", "LOCAL_FORMATS", "MissingColumn", "get_path", "load_rows", "parse_path",
           "resolve_data_dir", "resolve_files"]
DEFAULT_DATA_DIR = Path("..") / "shared" / "data"
DATA_DIR_ENV = "NLPTASKS_DATA_DIR"


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


class MissingColumn(InputError):
    """A column path that a data row does not have. An :class:`InputError`, so a caller that does not
    catch it still reports one line; the columns are named only when they look like column names (a
    data line read as a header may be a secret)."""

    def __init__(self, path: str, step: str, available: list[str]):
        import re

        shown = [str(a) for a in available if not str(a).startswith("__")]
        if shown and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .\-]{0,63}", a) for a in shown):
            have = f"; available columns: {', '.join(shown)}"
        else:
            have = "" if not shown else "; the row's columns do not look like column names"
        super().__init__(f"no column {path!r} (missing step {step!r}){have}")
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
            for row in read_file(p, kind):
                line = row.pop(ROW_KEY)
                if with_where:
                    row["__where__"] = f"{p}: {'line' if kind == 'json' else 'row'} {line}"
                rows.append(row)
        return rows, f"{kind}:" + ",".join(str(f) for f in files)
    return _load_hub(dataset, where)


def _load_hub(dataset: dict, where: str) -> tuple[list[dict], str]:
    return load_hub(dataset["path"], name=dataset.get("name"), split=dataset.get("split") or "test",
                    revision=dataset.get("revision"), label=where)

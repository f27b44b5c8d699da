"""Reading inputs (plain text or JSON Lines, file or stdin) and writing outputs atomically.

Every problem with the input is an ``InputError`` with one line naming the place (file, line), raised
before any model work starts, so nothing computed is lost.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import InputError

FORMATS = ("auto", "text", "jsonl")


def read_bytes(path: str | None) -> tuple[bytes, str]:
    """Read ``path`` (``None`` or ``-`` = stdin); return the bytes and a display name."""
    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no input: pass --input FILE or pipe text on stdin")
        return sys.stdin.buffer.read(), "<stdin>"
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    try:
        return p.read_bytes(), str(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def decode_text(data: bytes, name: str) -> str:
    if not data.strip():
        raise InputError(f"{name}: input is empty")
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: looks like a binary file (NUL bytes); expected UTF-8 text or JSON Lines")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{name}: invalid UTF-8 at line {line} (byte {exc.start}); convert the file to UTF-8"
                         ) from exc
    if not text.strip():
        raise InputError(f"{name}: input is empty")
    return text


def detect_format(text: str, name: str, fmt: str = "auto") -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    if name.endswith((".jsonl", ".ndjson", ".jsonl.txt")):
        return "jsonl"
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("{"):
        try:
            if isinstance(json.loads(first), dict):
                return "jsonl"
        except json.JSONDecodeError:
            pass
    return "text"


def parse_jsonl(text: str, name: str, line_key: str | None = "__line__", require: bool = True) -> list[dict]:
    """Parse JSON Lines into dicts; every error names the line. ``line_key``: where each record keeps its
    line number (``None``: nowhere); ``require``: no records at all is an error."""
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: line {lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{name}: line {lineno}: expected a JSON object, got {type(obj).__name__}")
        if line_key:
            obj[line_key] = lineno
        records.append(obj)
    if require and not records:
        raise InputError(f"{name}: no JSON records")
    return records


def read_records(path: str | None, *, fmt: str = "auto", text_field: str = "text",
                 text_mode: str = "lines") -> tuple[list[dict], str, str]:
    """Read input records. Returns ``(records, format, name)``.

    Plain text: ``text_mode="document"`` makes the whole input one record; ``"lines"`` makes one record
    per line, blank lines included (they are kept as blank lines in the output, not sent to a model).
    JSON Lines: one object per line; each record remembers its line number in ``__line__``.
    """
    data, name = read_bytes(path)
    text = decode_text(data, name)
    fmt = detect_format(text, name, fmt)
    if fmt == "jsonl":
        return parse_jsonl(text, name), fmt, name
    if text_mode == "document":
        return [{text_field: text.strip(), "__line__": 1}], fmt, name
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [{text_field: ln, "__line__": i} for i, ln in enumerate(lines, 1)], fmt, name


def check_fields(records: list[dict], fields: Iterable[str], name: str) -> None:
    fields = list(fields)
    for rec in records:
        missing = [f for f in fields if f not in rec or rec[f] is None]
        if missing:
            have = ", ".join(k for k in rec if not k.startswith("__")) or "none"
            raise InputError(f"{name}: line {rec.get('__line__', '?')}: missing field "
                             f"{', '.join(repr(m) for m in missing)} (fields present: {have}; "
                             f"use --field to choose the input field)")


def atomic_write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file + rename: a reader never sees a half-written file.
    A device or pipe (``/dev/null``, ``/dev/stdout``) is written directly, never replaced by a file."""
    target = Path(path)
    try:
        mode = os.stat(target).st_mode
        special = stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)
    except OSError:
        special = False
    if special:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make outputs private
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def clean_record(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if not k.startswith("__")}


def dumps_jsonl(records: Iterable[dict]) -> str:
    return "".join(json.dumps(clean_record(r), ensure_ascii=False) + "\n" for r in records)


def emit(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(output, text)

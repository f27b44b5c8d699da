"""Documents from the SOURCES of ``nlptasks index build``: text and Markdown files, folders of them, and
JSON Lines files (one document per record).

A document is ``{"id", "text", "title", "source"}``: for a file, id and source are its path; for a JSON
Lines record, the id is its ``id`` field (``--id-field``; else ``FILE:LINE``), the text its ``text``
field (``--text-field``), the title its ``title`` field when present, and the source its id. Documents are
yielded one at a time (a large collection is never held in memory). Every problem is one
``InputError`` line naming the file (and line): a missing file, a binary file, bad UTF-8, malformed
JSON, a record without the text field.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError

log = logging.getLogger("nlptasks")

TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".rst")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
MANIFEST = "manifest.json"


def is_index_folder(path: Path) -> bool:
    return (path / MANIFEST).is_file() and (path / "passages.jsonl").is_file()


def source_files(sources: Iterable[str]) -> list[Path]:
    """The files named by ``sources`` (folders walked in name order, hidden entries and index folders
    skipped; inside folders only text, Markdown and JSON Lines files). A missing source is an error."""
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if not p.exists():
            raise InputError(f"{s}: no such file or folder")
        if p.is_dir():
            found = []
            for root, dirs, names in os.walk(p):
                r = Path(root)
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not is_index_folder(r / d))
                for n in sorted(names):
                    if not n.startswith(".") and n.lower().endswith(TEXT_SUFFIXES + JSONL_SUFFIXES):
                        found.append(r / n)
            if not found:
                raise InputError(f"{s}: the folder holds no text, Markdown or JSON Lines files "
                                 f"({', '.join(TEXT_SUFFIXES + JSONL_SUFFIXES)})")
            files.extend(found)
        else:
            files.append(p)
    return files


def _read_file_text(path: Path) -> str:
    from ..io import decode_text

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return decode_text(data, str(path))


def _jsonl_documents(path: Path, text_field: str, id_field: str) -> Iterator[dict]:
    from ..io import iter_lines, json_type, open_input, parse_json_line

    fh, name = open_input(str(path))
    try:
        seen_any = False
        for lineno, line in iter_lines(fh, name):
            if not line.strip():
                continue
            rec = parse_json_line(line, name, lineno)
            seen_any = True
            if text_field not in rec:
                fields = ", ".join(sorted(map(str, rec))) or "none"
                raise InputError(f"{name}: line {lineno}: no field {text_field!r} (its fields: {fields}); "
                                 f"use --text-field to choose the text field")
            text = rec[text_field]
            if not isinstance(text, str):
                raise InputError(f"{name}: line {lineno}: field {text_field!r} must be a string, got "
                                 f"{json_type(text)}")
            if not text.strip():
                continue
            doc_id = rec.get(id_field)
            doc_id = f"{path}:{lineno}" if doc_id in (None, "") else str(doc_id)
            title = rec.get("title")
            yield {"id": doc_id, "text": text, "title": title if isinstance(title, str) and title.strip() else None,
                   "source": doc_id}
        if not seen_any:
            raise InputError(f"{name}: input is empty")
    finally:
        fh.close()


def iter_documents(sources: Iterable[str], *, text_field: str = "text", id_field: str = "id") -> Iterator[dict]:
    """Every document of ``sources``, in order (see the module docstring)."""
    for path in source_files(list(sources)):
        if path.name.lower().endswith(JSONL_SUFFIXES):
            yield from _jsonl_documents(path, text_field, id_field)
            continue
        text = _read_file_text(path)
        yield {"id": str(path), "text": text, "title": None, "source": str(path)}

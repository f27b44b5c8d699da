"""Reading inputs (plain text or JSON Lines, file or stdin) and writing outputs atomically.

Input is streamed: the file is read in blocks of ``BLOCK_BYTES`` and split into lines, so memory does
not grow with the input. A line longer than ``MAX_LINE_BYTES`` (or, when the whole input is one
document, a document over ``MAX_DOCUMENT_BYTES``) is refused: it cannot be text meant for a model
(think ``--input /dev/zero``). UTF-8 (with or without BOM) and UTF-16 with a BOM are decoded.

Every problem with the input is an ``InputError`` with one line naming the place (file, line).
JSON is parsed by :func:`loads_json`, which refuses ``NaN``/``Infinity``, lone UTF-16 surrogates and
nesting too deep for Python; files read whole (data, imports, definitions) go through
:func:`read_file_capped`. :class:`AtomicFile` keeps a replaced file's mode, removes its temporary file on
SIGTERM, and reports a full disk as "disk full writing FILE; nothing was changed".
"""
from __future__ import annotations

import codecs
import json
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from .errors import InputError

FORMATS = ("auto", "text", "jsonl")
BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 10 << 20       # one line of text / one JSON Lines record: 10 MiB
MAX_DOCUMENT_BYTES = 50 << 20   # a whole-input document (summarize on plain text): 50 MiB
_MIB = 1 << 20

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


# -- opening ------------------------------------------------------------------------------------------
def open_input(path: str | None) -> tuple[IO[bytes], str]:
    """A binary handle on ``path`` (``None`` or ``-`` = stdin) and a display name."""
    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.closed:
            raise InputError("no input: stdin is closed; pass --input FILE")
        if sys.stdin.isatty():
            raise InputError("no input: pass --input FILE or pipe text on stdin")
        return sys.stdin.buffer, "<stdin>"
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    try:
        return open(p, "rb"), str(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _read_block(fh: IO[bytes], name: str) -> bytes:
    try:
        return fh.read(BLOCK_BYTES)
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from exc


def _size(n: int) -> str:
    return f"{n // _MIB} MiB" if n >= _MIB and n % _MIB == 0 else f"{n:,} bytes"


def _too_long(name: str, lineno: int, limit: int, document: bool) -> InputError:
    if document:
        return InputError(f"{name}: the document is over {_size(limit)} (the limit for one document); "
                          f"split it, or give JSON Lines with one document per line")
    return InputError(f"{name}: line {lineno} is over {_size(limit)} (the limit for one line); "
                      f"is this a text file?")


def iter_lines(fh: IO[bytes], name: str, limit: int = MAX_LINE_BYTES, document: bool = False,
               whole: bool | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` decoded, without the line end; bounded memory.

    ``limit``: the longest line in bytes; with ``whole`` (default: ``document``) the longest input.
    ``document``: the input is one document (for the error message)."""
    whole = document if whole is None else whole
    head = _read_block(fh, name)
    encoding, skip = "utf-8", 0
    for bom, enc in _BOMS:
        if head.startswith(bom):
            encoding, skip = enc, len(bom)
            break
    head = head[skip:]
    if encoding == "utf-8" and b"\x00" in head[:8192]:
        raise InputError(f"{name}: looks like a binary file (NUL bytes); expected UTF-8 text or JSON Lines")
    if encoding == "utf-8":
        yield from _utf8_lines(fh, head, name, limit, document, whole)
    else:
        yield from _decoded_lines(fh, head, name, encoding, limit, document, whole)


def _decode_line(raw: bytes, name: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: invalid UTF-8 at line {lineno} (byte {exc.start} of the line); "
                         f"convert the file to UTF-8") from exc


def _utf8_lines(fh, head: bytes, name: str, limit: int, document: bool,
                whole: bool) -> Iterator[tuple[int, str]]:
    pending, block, lineno, total = b"", head, 0, 0
    while block:
        total += len(block)
        if whole and total > limit:
            raise _too_long(name, lineno + 1, limit, True)
        data = pending + block if pending else block
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            lineno += 1
            raw = data[start:end]
            if len(raw) > limit:
                raise _too_long(name, lineno, limit, document)
            yield lineno, _decode_line(raw[:-1] if raw.endswith(b"\r") else raw, name, lineno)
            start = end + 1
        pending = data[start:]
        if len(pending) > limit:
            raise _too_long(name, lineno + 1, limit, document)
        block = _read_block(fh, name)
    if pending:
        lineno += 1
        yield lineno, _decode_line(pending[:-1] if pending.endswith(b"\r") else pending, name, lineno)


def _decoded_lines(fh, head: bytes, name: str, encoding: str, limit: int, document: bool,
                   whole: bool) -> Iterator[tuple[int, str]]:
    decoder = codecs.getincrementaldecoder(encoding)()
    pending, block, lineno, total = "", head, 0, 0
    while True:
        final = not block
        total += len(block)
        if whole and total > limit:
            raise _too_long(name, lineno + 1, limit, True)
        try:
            text = decoder.decode(block, final=final)
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: invalid {encoding.upper()} after line {lineno}; convert the file to UTF-8"
                             ) from exc
        parts = (pending + text).split("\n")
        pending = parts.pop()
        for part in parts:
            lineno += 1
            yield lineno, part[:-1] if part.endswith("\r") else part
        if len(pending) * 2 > limit:
            raise _too_long(name, lineno + 1, limit, document)
        if final:
            break
        block = _read_block(fh, name)
    if pending:
        yield lineno + 1, pending[:-1] if pending.endswith("\r") else pending


def read_text(path: str | None, limit: int = MAX_DOCUMENT_BYTES) -> tuple[str, str]:
    """The whole of ``path`` (``None``/``-`` = stdin) as one decoded text, at most ``limit`` bytes;
    returns ``(text, name)``. Empty input is an error."""
    fh, name = open_input(path)
    try:
        text = "\n".join(line for _, line in iter_lines(fh, name, limit, document=True))
    finally:
        if fh is not getattr(sys.stdin, "buffer", None):
            fh.close()
    if not text.strip():
        raise InputError(f"{name}: input is empty")
    return text, name


def read_bytes(path: str | None) -> tuple[bytes, str]:
    """Read ``path`` (``None`` or ``-`` = stdin), at most ``MAX_DOCUMENT_BYTES``; return the bytes and a
    display name."""
    fh, name = open_input(path)
    try:
        data = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    finally:
        if fh is not getattr(sys.stdin, "buffer", None):
            fh.close()
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _too_long(name, 1, MAX_DOCUMENT_BYTES, True)
    return data, name


def decode_text(data: bytes, name: str) -> str:
    """Decode a whole input held in memory (UTF-8, UTF-8 with BOM, UTF-16 with BOM)."""
    for bom, enc in _BOMS[1:]:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc)
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: invalid {enc.upper()} (byte {exc.start}); convert the file to UTF-8"
                                 ) from exc
            if not text.strip():
                raise InputError(f"{name}: input is empty")
            return text
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


def read_file_capped(path, limit: int, label: str, *, binary_ok: bool = False) -> bytes:
    """The bytes of a file a command reads whole (a data, import or definition file), at most ``limit``:
    a larger regular file is refused before reading, an endless one (``/dev/zero``, a pipe that never
    ends) after ``limit`` bytes, and a file with NUL bytes in its first block (binary, or ``/dev/zero``)
    at once, unless ``binary_ok``. Memory stays within about twice ``limit``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{label}: is a directory, not a file")
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:
        raise _over_limit(label, limit)
    try:
        with open(path, "rb") as fh:
            head = fh.read(BLOCK_BYTES)
            if not binary_ok and b"\x00" in head[:8192] and not head.startswith((codecs.BOM_UTF16_LE,
                                                                                codecs.BOM_UTF16_BE)):
                raise InputError(f"{label}: looks like a binary file (NUL bytes), not text")
            chunks, total = [head], len(head)
            while True:
                block = fh.read(BLOCK_BYTES)
                if not block:
                    break
                total += len(block)
                if total > limit:
                    raise _over_limit(label, limit)
                chunks.append(block)
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    return b"".join(chunks)


def _over_limit(label: str, limit: int) -> InputError:
    return InputError(f"{label}: is over {_size(limit)} (the limit for this kind of file; an endless file "
                      f"such as /dev/zero never ends); split it into smaller files")


# -- formats and records ------------------------------------------------------------------------------
def detect_format(first_line: str, name: str, fmt: str = "auto") -> str:
    """``fmt``, or for ``auto``: JSON Lines when the name ends in .jsonl or the first non-blank line is
    a JSON object, else plain text."""
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    if name.endswith((".jsonl", ".ndjson", ".jsonl.txt")):
        return "jsonl"
    if first_line.lstrip().startswith("{"):
        try:
            if isinstance(json.loads(first_line), dict):
                return "jsonl"
        except (json.JSONDecodeError, RecursionError):
            pass
    return "text"


class _NotJsonNumber(ValueError):
    def __init__(self, token: str):
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str):
    raise _NotJsonNumber(token)


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def loads_json(text: str, where: str):
    """``json.loads`` for input files, strict where Python's is lenient: ``NaN``/``Infinity`` (not JSON;
    they would pass through as invalid output), nesting deeper than Python's recursion limit, and
    escaped lone UTF-16 surrogates (``"\\ud800"``: not text; they break every tokenizer and encoder)
    are one :class:`InputError` naming ``where``. Malformed JSON raises ``json.JSONDecodeError`` as
    ``json.loads`` does."""
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except _NotJsonNumber as exc:
        raise InputError(f"{where}: {exc.token} is not a JSON number (NaN and Infinity are not JSON); write "
                         f"null or a finite number") from None
    except RecursionError:
        raise InputError(f"{where}: the JSON is nested too deeply (over {sys.getrecursionlimit()} levels)"
                         ) from None
    if "\\u" in text and _ESCAPED_SURROGATE.search(text):
        _check_surrogates(obj, where)
    return obj


def _check_surrogates(obj, where: str) -> None:
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"{where}: a string holds a lone UTF-16 surrogate "
                                 f"(\\u{ord(x[exc.start]):04x}), which is not text; fix the input's "
                                 f"encoding") from None


def parse_json_line(line: str, name: str, lineno: int) -> dict:
    try:
        obj = loads_json(line, f"{name}: line {lineno}")
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: line {lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{name}: line {lineno}: expected a JSON object, got {json_type(obj)}")
    return obj


def parse_jsonl(text: str, name: str, line_key: str | None = "__line__", require: bool = True) -> list[dict]:
    """Parse JSON Lines held in memory into dicts; every error names the line. ``line_key``: where each
    record keeps its line number (``None``: nowhere); ``require``: no records at all is an error."""
    records = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        obj = parse_json_line(line, name, lineno)
        if line_key:
            obj[line_key] = lineno
        records.append(obj)
    if require and not records:
        raise InputError(f"{name}: no JSON records")
    return records


class InputStream:
    """Input records, read lazily from a file or stdin: ``for rec in stream`` (``stream.format`` and
    ``stream.name`` are known once it is opened).

    Plain text, ``text_mode="lines"``: one record per non-blank line (``__line__`` is its line number;
    blank lines are gaps in the numbering). ``text_mode="document"``: the whole input is one record.
    JSON Lines: one object per non-blank line, with ``__line__``.
    """

    def __init__(self, path: str | None, *, fmt: str = "auto", text_field: str = "text",
                 text_mode: str = "lines"):
        if fmt not in FORMATS:
            raise InputError(f"unknown input format {fmt!r}; use one of: {', '.join(FORMATS)}")
        self._fh, self.name = open_input(path)
        self.text_field = text_field
        self.document = text_mode == "document"
        limit = MAX_DOCUMENT_BYTES if self.document else MAX_LINE_BYTES
        try:
            self._lines = iter_lines(self._fh, self.name, limit, document=self.document, whole=False)
            self._first = next(((n, ln) for n, ln in self._lines if ln.strip()), None)
            if self._first is None:
                raise InputError(f"{self.name}: input is empty")
            self.format = detect_format(self._first[1], self.name, fmt)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._fh is not getattr(sys.stdin, "buffer", None):
            self._fh.close()

    def __iter__(self) -> Iterator[dict]:
        try:
            yield from self._records()
        finally:
            self.close()

    def _records(self) -> Iterator[dict]:
        first = self._first
        if self.format == "jsonl":
            yield {**parse_json_line(first[1], self.name, first[0]), "__line__": first[0]}
            for n, line in self._lines:
                if line.strip():
                    yield {**parse_json_line(line, self.name, n), "__line__": n}
        elif self.document:
            parts, total = [first[1]], len(first[1])
            for _, line in self._lines:
                total += len(line) + 1
                if total > MAX_DOCUMENT_BYTES:
                    raise _too_long(self.name, 1, MAX_DOCUMENT_BYTES, True)
                parts.append(line)
            yield {self.text_field: "\n".join(parts).strip(), "__line__": 1}
        else:
            yield {self.text_field: first[1], "__line__": first[0]}
            for n, line in self._lines:
                if line.strip():
                    yield {self.text_field: line, "__line__": n}


def read_records(path: str | None, *, fmt: str = "auto", text_field: str = "text",
                 text_mode: str = "lines") -> tuple[list[dict], str, str]:
    """All input records in memory: ``(records, format, name)`` (see :class:`InputStream`)."""
    stream = InputStream(path, fmt=fmt, text_field=text_field, text_mode=text_mode)
    return list(stream), stream.format, stream.name


# -- record validation (one validator for every task) -------------------------------------------------
def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]{0,63}")


def _present(rec: dict) -> str:
    """The record's field names for an error message; names that do not look like names (a data line
    read as a CSV header: ``API_TOKEN=sk-live-...``) are counted, never shown: they may be secrets."""
    keys = [str(k) for k in rec if not str(k).startswith("__")]
    shown = [k for k in keys if _NAME_LIKE.fullmatch(k)]
    hidden = len(keys) - len(shown)
    if hidden:
        return ", ".join([*shown, f"{hidden} that do not look like field names (is the file in the declared "
                                  f"format?)"])
    return ", ".join(shown) or "none"


def field_problem(rec: dict, f: str, kind: str = "str", allow_empty: bool = True) -> str | None:
    """What is wrong with field ``f`` of ``rec``, or None: missing, null, of the wrong JSON type or (unless
    ``allow_empty``) blank. ``kind``: ``"str"``, ``"turns"`` (a list of strings, or one string) or
    ``"any"`` (present and not null). The one missing-field rule of run, eval and training."""
    if f not in rec:
        return f"missing field {f!r} (fields present: {_present(rec)})"
    v = rec[f]
    if kind == "any":
        return None if v is not None else f"field {f!r} is null"
    if kind == "turns":
        if isinstance(v, list):
            bad = next((i for i, t in enumerate(v) if not isinstance(t, str)), None)
            if bad is not None:
                return f"turn {bad + 1} of field {f!r} is {json_type(v[bad])}; expected a list of strings"
            return None if any(t.strip() for t in v) else f"field {f!r} has no non-empty turn"
        if not isinstance(v, str):
            return f"field {f!r} is {json_type(v)}; expected a list of strings (or one string)"
    elif not isinstance(v, str):
        return f"field {f!r} is {json_type(v)}; expected a string"
    if not allow_empty and not v.strip():
        return f"field {f!r} is empty"
    return None


def check_record(rec: dict, fields: Iterable[str], name: str | None = None, *, index: int | None = None,
                 kinds: dict | None = None, allow_empty: bool = True, hint: str = "") -> None:
    """Refuse a record whose input ``fields`` have a :func:`field_problem`. One line naming the file
    (``name``) and the line (``__line__``; else the 0-based ``index`` in the caller's list, shown 1-based
    as "record N"); ``hint`` is added after the fields present."""
    if "__line__" in rec or index is None:
        where = f"line {rec.get('__line__', '?')}"
    else:
        where = f"record {index + 1}"
    if name:
        where = f"{name}: {where}"
    for f in fields:
        problem = field_problem(rec, f, (kinds or {}).get(f, "str"), allow_empty)
        if problem:
            if hint and problem.startswith("missing field"):
                problem = problem[:-1] + hint + ")"
            raise InputError(f"{where}: {problem}")


# -- output ---------------------------------------------------------------------------------------------
def atomic_write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file + rename: a reader never sees a half-written file.
    A device or pipe (``/dev/null``, ``/dev/stdout``) is written directly, never replaced by a file."""
    with AtomicFile(path) as f:
        f.write(text)


def _is_device_or_pipe(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


class AtomicFile:
    """A text file written under a temporary name in the target's directory and renamed onto ``path``
    when the ``with`` block succeeds; on failure the temporary file is deleted and ``path`` is untouched.
    A device or pipe is written directly (renaming onto ``/dev/null`` as root would replace the device)."""

    def __init__(self, path: str):
        self.target = Path(path)
        self.tmp = None

    def __enter__(self):
        if _is_device_or_pipe(self.target):
            self.file = open(self.target, "w", encoding="utf-8")
            return self.file
        self.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
        except OSError as exc:
            _raise_disk_full(exc, self.target)
            raise
        try:
            old = os.stat(self.target)
        except OSError:
            old = None
        if old is not None and stat.S_ISREG(old.st_mode):  # a replaced file keeps its mode and owner
            os.chmod(self.tmp, stat.S_IMODE(old.st_mode))
            try:
                os.chown(self.tmp, old.st_uid, old.st_gid)
            except OSError:
                pass  # only root may give a file away; the mode still holds
        else:  # a new file follows the umask (mkstemp's 0600 would make every output private)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
        self.file = os.fdopen(fd, "w", encoding="utf-8")
        self._signals = _remove_on_term(self)
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            try:
                self.file.close()
                if self.tmp is None:  # a device or pipe, written in place
                    return
                if exc_type is None:
                    os.replace(self.tmp, self.target)
                    self.tmp = None
                    return
            except BaseException as err:
                self._discard()
                if isinstance(err, OSError):
                    _raise_disk_full(err, self.target)
                raise
            self._discard()
            if isinstance(exc, OSError):
                _raise_disk_full(exc, self.target)
        finally:
            _restore_signals(getattr(self, "_signals", None))

    def _discard(self) -> None:
        if self.tmp is None:
            return
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def _raise_disk_full(exc: OSError, target) -> None:
    """A full disk (or quota) while writing ``target`` is one line; the target was not touched."""
    import errno

    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        raise InputError(f"disk full writing {target}; nothing was changed") from exc


class Terminated(SystemExit):
    """SIGTERM while an output file was being written: its temporary file was removed; exit 143."""


def _remove_on_term(atomic: "AtomicFile"):
    """While ``atomic`` is open, SIGTERM (and SIGHUP) leave no temporary file behind: the handler raises
    :class:`Terminated` (exit status 143 = 128 + SIGTERM), which unwinds through ``__exit__`` and deletes
    it. Only in the main thread, and only where the signal has its default handler (a program that set its
    own keeps it)."""
    import signal
    import threading

    if atomic.tmp is None or threading.current_thread() is not threading.main_thread():
        return None
    saved = {}

    def handler(signum, frame):
        raise Terminated(128 + signum)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None:
            continue
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                saved[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
    return saved


def _restore_signals(saved) -> None:
    import signal

    for sig, old in (saved or {}).items():
        try:
            signal.signal(sig, old)
        except (ValueError, OSError, TypeError):
            pass


def clean_record(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if not k.startswith("__")}


def emit(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(output, text)

"""Output targets, checked before any model loads: nothing computed is lost and nothing a user owns is
overwritten or deleted.

* :func:`check_output_file` — an output file (``None``/``-``: stdout). Refuses a folder, a path whose
  folder cannot be written, ``/dev/full``, a closed stdout, and any file the command reads
  (:func:`check_not_an_input`: the input file, standard input by device and inode, side inputs such as
  ``--context-file``, the results store), also through a symbolic or hard link.
* :func:`check_file_name` — a name (a suite's ``name``) that becomes a file name: no separators, no
  ``..``, not absolute.
* :func:`check_output_folder` — a folder results are written into (``eval --output DIR``).
* :func:`check_output_dir` — the output folder of a training run (``finetune``/``distill``): only a new or
  empty folder, or one that nlptasks wrote for the same command, is written without ``--overwrite``;
  ``--overwrite`` removes only what nlptasks wrote (listed in the folder's :data:`MARKER` file) and
  refuses a folder that also holds files of someone else.

Each problem is one :class:`~nlptasks.errors.InputError` line.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import InputError

MARKER = ".nlptasks-output.json"  # in a folder nlptasks wrote: {"kind": ..., "files": [top-level names]}
SHOWN = 4                          # foreign files named in an error


# -- files -------------------------------------------------------------------------------------------
def check_output_file(path, *, inputs: Iterable = (), flag: str = "--output") -> None:
    """Check that ``path`` can be written (``None``/``-``: stdout) and is none of ``inputs``."""
    if path is None or str(path) == "-":
        check_stdout()
        return
    name = f"{flag} {path}"
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{name}: is a folder; give a file name")
    check_not_an_input(path, inputs, flag=flag)
    try:
        st = os.stat(p)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if _is_dev_full(st):
            raise InputError(f"{name}: writing there always fails (device full)")
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise InputError(f"{name}: is not a regular file, a character device or a pipe")
        if not os.access(p, os.W_OK):
            raise InputError(f"{name}: is not writable")
        return  # a device or pipe (/dev/null, /dev/stdout): written directly, not replaced
    _probe(_existing_folder(p.parent, name), name)


def check_not_an_input(path, inputs: Iterable = (), *, flag: str = "--output") -> None:
    """Refuse an output ``path`` that is one of the files a command reads: each of ``inputs`` is a path,
    ``None``/``-`` (standard input: compared by device and inode of its descriptor, so ``-o in.txt <
    in.txt`` is caught), or a ``(label, path)`` pair naming what the file is (``--context-file``, "the
    results store"). Links (symbolic or hard) to an input count as the input."""
    name = f"{flag} {path}"
    for item in inputs:
        label, inp = item if isinstance(item, tuple) else ("the input file", item)
        if inp is None or str(inp) == "-":
            if _is_stdin(path):
                raise InputError(f"{name}: is standard input (the file after <); writing there would destroy "
                                 f"the input; choose another output file")
        elif same_file(path, inp):
            raise InputError(f"{name}: is {label} {inp}; writing there would destroy the input; "
                             f"choose another output file")
        elif os.path.isdir(inp) and _inside_folder(path, inp):  # e.g. a file in a knowledge-base index
            raise InputError(f"{name}: is inside {label} {inp}, a folder this command reads; writing there "
                             f"could damage it; choose another output file")


def _inside_folder(path, folder) -> bool:
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p.startswith(f.rstrip(os.sep) + os.sep)


def _is_stdin(path) -> bool:
    """Whether ``path`` is the file standard input reads (same device and inode)."""
    try:
        st = os.fstat(sys.stdin.fileno())
        target = os.stat(path)
    except (AttributeError, ValueError, OSError):  # no real descriptor (a test harness): not a file
        return False
    return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino)


def check_file_name(name, what: str) -> str:
    """``name`` when it can be used as a file name inside a folder: a non-empty string without path
    separators, ``..``/``.``, a leading ``/`` or control characters; else one :class:`InputError` line.
    Names from YAML files (suites, benchmarks) become file names with this check, so a shared file can
    never write outside the folder the user chose."""
    ok = (isinstance(name, str) and name.strip() != "" and name not in (".", "..") and len(name) <= 200
          and not any(c in name for c in "/\\") and not any(ord(c) < 32 or ord(c) == 127 for c in name)
          and not os.path.isabs(name) and not name.startswith(".."))
    if not ok:
        raise InputError(f"{what} {name!r} cannot be used as a file name: use letters, digits, '-', '_' and '.', "
                         f"without '/', '\\' or '..'")
    return name


def check_stdout() -> None:
    """Stdout must be open for writing (not closed with ``>&-``, not read-only, not ``/dev/full``)."""
    out = sys.stdout
    if out is None or getattr(out, "closed", False):
        raise InputError("stdout is closed; pass --output FILE or redirect stdout to a file")
    try:
        fd = out.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (e.g. a StringIO under a test harness): nothing to check
    try:
        st = os.fstat(fd)
    except OSError:
        raise InputError("stdout is closed; pass --output FILE or redirect stdout to a file") from None
    try:
        import fcntl

        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except (ImportError, OSError):
        mode = None
    if mode == os.O_RDONLY:
        raise InputError("stdout is not open for writing; pass --output FILE or redirect stdout to a file")
    if _is_dev_full(st):
        raise InputError("stdout is /dev/full: writing there always fails; pass --output FILE")


def same_file(a, b) -> bool:
    """Whether ``a`` and ``b`` name the same file: the same inode (hard and symbolic links included) or
    the same resolved path."""
    try:
        sa, sb = os.stat(a), os.stat(b)
        if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
            return True
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _is_dev_full(st: os.stat_result) -> bool:
    if not stat.S_ISCHR(st.st_mode):
        return False
    try:
        return st.st_rdev == os.stat("/dev/full").st_rdev
    except OSError:
        return False


# -- folders -----------------------------------------------------------------------------------------
def check_output_folder(path, *, flag: str = "--output") -> None:
    """``path`` is a folder that exists or can be created, and files can be written in it."""
    name = f"{flag} {path}"
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{name}: is a file, not a folder")
    if p.is_symlink() and not p.exists():
        raise InputError(f"{name}: is a broken symbolic link")
    _probe(p if p.is_dir() else _existing_folder(p, name), name)


def _existing_folder(p: Path, name: str) -> Path:
    """The nearest existing ancestor of ``p`` (``p`` itself included), which must be a folder."""
    p = Path(os.path.abspath(p))
    while not p.exists() and not p.is_symlink() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise InputError(f"{name}: {p} is not a folder")
    return p


def _probe(folder: Path, name: str) -> None:
    """Create and remove an empty temporary file in ``folder`` (permission bits lie to root)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".nlptasks-probe-", dir=folder)
    except OSError as exc:
        raise InputError(f"{name}: cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)


# -- folders nlptasks owns ---------------------------------------------------------------------------
def check_output_dir(path, *, kind: str, overwrite: bool = False, resume: bool = False,
                     flag: str = "--output") -> None:
    """The output folder of a ``kind`` run (``finetune``/``distill``); read-only.

    Written without ``--overwrite`` only when new, empty, or written by an nlptasks run of the same kind
    (its :data:`MARKER`). ``--overwrite`` replaces what nlptasks wrote, never anything else.
    """
    check_output_folder(path, flag=flag)
    p = Path(path)
    if not p.is_dir():
        return
    marker = read_marker(p)
    foreign = foreign_entries(p)
    if marker is None:
        if foreign:
            raise InputError(f"{flag} {path}: the folder holds files nlptasks did not write ({_show(foreign)}); "
                             f"choose a new or empty folder")
        return
    if marker["kind"] != kind and (resume or not overwrite):
        raise InputError(f"{flag} {path}: holds the output of `nlptasks {marker['kind']}`; choose another "
                         f"folder" + ("" if resume else ", or pass --overwrite to replace it"))
    if overwrite and not resume and foreign:
        raise InputError(f"--overwrite: {path} also holds files nlptasks did not write ({_show(foreign)}); "
                         f"move them away or choose another folder")


def read_marker(folder: Path) -> dict | None:
    """``{"kind", "files"}`` of a folder nlptasks wrote, or ``None`` (no marker, or a damaged one)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or not isinstance(data.get("files"), list):
        return None
    files = [f for f in data["files"] if isinstance(f, str) and f not in ("", ".", "..", MARKER)
             and "/" not in f and os.sep not in f]
    return {"kind": data["kind"], "files": sorted(set(files))}


def foreign_entries(folder: Path) -> list[str]:
    """Top-level entries of ``folder`` that nlptasks did not write (folders end in ``/``)."""
    marker = read_marker(folder)
    own = set(marker["files"]) if marker else set()
    return sorted(e.name + ("/" if e.is_dir() else "") for e in Path(folder).iterdir()
                  if e.name != MARKER and e.name not in own)


def record_outputs(folder, kind: str, names: Iterable[str], *, fresh: bool = False) -> None:
    """Add ``names`` (top-level entries of ``folder``) to what nlptasks wrote there, now for a ``kind`` run;
    call it before writing them. ``fresh``: forget what was recorded before (after :func:`remove_outputs`)."""
    from .io import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = read_marker(folder)
    files = set() if fresh or marker is None else set(marker["files"])
    new = files | set(names)
    if marker is not None and marker["kind"] == kind and set(marker["files"]) == new:
        return
    atomic_write(str(folder / MARKER), json.dumps({"kind": kind, "files": sorted(new)}, indent=1) + "\n")


def remove_outputs(folder, *, keep: Iterable[str] = ()) -> list[str]:
    """Delete what nlptasks recorded in ``folder``'s marker (except ``keep``); returns the kept names
    that exist. Files nobody recorded are left alone."""
    folder = Path(folder)
    marker = read_marker(folder)
    kept = []
    for name in marker["files"] if marker else []:
        p = folder / name
        if name in keep:
            if p.exists():
                kept.append(name)
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
    return kept


def _show(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")

"""Output paths against the inputs of knowledge-base QA: nothing written may land on a source of
``index build`` or inside an index folder (issue 20: an output never overwrites an input)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import InputError


def _inside(path, folder) -> bool:
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def check_not_in_index(output, index_dirs: Iterable, flag: str = "--output") -> None:
    """``output`` (a file; None/"-": stdout) must not be inside any of ``index_dirs``."""
    if output is None or str(output) == "-":
        return
    for d in index_dirs:
        if d is not None and _inside(output, d):
            raise InputError(f"{flag} {output}: is inside the index folder {d}; writing there would damage the "
                             f"index; choose another output file")


def check_index_output(output, sources: Iterable[str], flag: str = "--output") -> None:
    """The index folder ``output`` must not be a source, hold a source, or lie inside a source folder."""
    for s in sources:
        if not Path(s).exists():
            continue
        if Path(s).is_dir():
            if _inside(output, s):
                raise InputError(f"{flag} {output}: is inside the source folder {s}; the index would be read "
                                 f"as a source next time; choose a folder outside it")
        elif _inside(s, output) or os.path.realpath(s) == os.path.realpath(output):
            raise InputError(f"{flag} {output}: holds the source file {s}; writing the index there could "
                             f"overwrite it; choose another folder")

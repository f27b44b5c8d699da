"""The index folder of ``index build`` against its sources (issue 20: an output never overwrites an
input). An output file of ``run qa --index DIR`` inside DIR is refused by ``paths.check_not_an_input``
(the index is one of the qa task's ``input_paths``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import InputError


def _inside(path, folder) -> bool:
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


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

"""Where the benchmark definitions and evaluation suites shipped with nlptasks are found.

The repository keeps them in its top-level ``tasks/`` and ``eval/suites/`` folders (the source of
truth). ``nlptasks/bundled/tasks`` and ``nlptasks/bundled/suites`` are relative symlinks to those
folders; setuptools follows them when it builds a wheel, so an installed package carries real copies
under ``nlptasks/bundled/``. In a checkout the links resolve to the repository folders themselves.
Where symlinks are not supported (git then writes each link as a small text file), the repository
folders next to the package are used directly.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_FOLDERS = {"tasks": ("tasks",), "suites": ("eval", "suites")}


def bundled_dir(kind: str) -> Path:
    """The folder of the shipped ``kind`` ("tasks" or "suites") files."""
    inside = PACKAGE_DIR / "bundled" / kind
    if inside.is_dir():
        return inside.resolve()
    return PACKAGE_DIR.parent.joinpath(*_REPO_FOLDERS[kind])

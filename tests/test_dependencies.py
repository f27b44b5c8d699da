"""Every declared runtime dependency earns its place: the package imports it (or it is listed below with why not)."""
from __future__ import annotations

import ast
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

# declared but not imported by nlptasks itself, and why
NOT_IMPORTED = {
    "tokenizers": "the fast tokenizers transformers loads for every task (nlptasks/training/scratch.py imports it)",
}


def _imported_top_level_modules() -> set[str]:
    names = set()
    for path in (REPO / "nlptasks").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_runtime_dependency_is_imported():
    declared = [Requirement(d).name for d in
                tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
    imported = _imported_top_level_modules()
    dists_of = packages_distributions()  # import name -> distributions that provide it
    provided = {dist.lower().replace("_", "-") for mod in imported for dist in dists_of.get(mod, ())}
    unused = [d for d in declared if d.lower().replace("_", "-") not in provided and d not in NOT_IMPORTED]
    assert not unused, f"declared in pyproject.toml but imported nowhere in nlptasks/: {unused}"

"""The layers of nlptasks, checked by reading the source (``ast``; nothing is imported):

* no import cycle between the modules of ``nlptasks/``: every ``import`` counts, at module level AND
  inside functions (a function-level import only defers a cycle, it does not remove it); imports
  under ``if TYPE_CHECKING:`` do not count (they never run);
* ``nlptasks/cli`` imports only the public API (``CLI_ALLOWED``, ``nlptasks.api_*``) and itself: every
  command parses its arguments, calls the API and prints (no exceptions are listed);
* task plugins import nothing from training; models (``nlptasks/models``) import no task and nothing
  from training.

A module ``a.b`` imported as ``from a import b`` counts as ``a.b``; ``from a.b import name`` counts as
``a.b``. Importing ``a.b`` also runs ``a/__init__.py``; that implicit edge is not counted (packages
here keep their ``__init__`` free of imports from below them).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nlptasks"

# what nlptasks/cli may import: the public API and small helpers that know nothing of models or tasks
CLI_ALLOWED = {
    "nlptasks",            # __version__
    "nlptasks.api",        # the public API
    "nlptasks.errors",     # the error classes it prints
    "nlptasks.io",         # reading inputs, writing outputs
    "nlptasks.optypes",    # argparse value types
    "nlptasks.urls",       # masking passwords in printed URLs
    "nlptasks.paths",      # output-path checks before anything loads
}
CLI_ALLOWED_PREFIXES = (
    "nlptasks.api_",       # public API modules beside nlptasks.api (e.g. api_index)
    "nlptasks.serve",      # the HTTP front end, a peer of the CLI that `nlptasks serve` starts
)
def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (they never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


def imports_of(name: str) -> set[str]:
    """The nlptasks modules that module ``name`` imports (anywhere in the file)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES and "." in t:
                t = t.rpartition(".")[0]  # ``import a.b.c`` of a function or a missing file: its module
            if t in MODULES and t != name and t.split(".")[0] == "nlptasks":
                found.add(t)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _explain(comp: list[str]) -> str:
    inside = set(comp)
    return "; ".join(f"{a} -> {', '.join(sorted(GRAPH[a] & inside))}" for a in comp)


def test_the_walker_sees_function_level_imports_and_finds_a_cycle():
    assert "nlptasks.backend.adapters" in GRAPH["nlptasks.backend.loading"]  # imported inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_nlptasks():
    found = cycles(GRAPH)
    assert not found, "import cycles: " + " | ".join(_explain(c) for c in found)


def test_the_cli_imports_only_the_public_api():
    problems = []
    for name in sorted(m for m in GRAPH if m.startswith("nlptasks.cli")):
        below = {m for m in GRAPH[name] if m not in CLI_ALLOWED
                 and not m.startswith(("nlptasks.cli", *CLI_ALLOWED_PREFIXES))}
        if below:
            problems.append(f"{name} imports {', '.join(sorted(below))} (use nlptasks.api)")
    assert not problems, "\n".join(problems)
    # the walker sees the commands' imports at all (a command that imports the API inside a function)
    assert "nlptasks.api_results" in GRAPH["nlptasks.cli.cmd_results"]
    assert "nlptasks.api_eval" in GRAPH["nlptasks.cli.cmd_eval"]


def test_tasks_import_nothing_from_training_and_models_no_task():
    bad = [f"{a} -> {b}" for a, deps in GRAPH.items() for b in deps
           if (a.startswith("nlptasks.tasks") and b.startswith("nlptasks.training"))
           or (a.startswith("nlptasks.models") and b.startswith(("nlptasks.tasks", "nlptasks.training")))]
    assert not bad, bad


def test_every_top_level_name_resolves():
    """``nlptasks.<name>`` is a lazy map of strings; a name whose module moved must fail here, not for a user."""
    import nlptasks

    for name in nlptasks.__all__:
        assert getattr(nlptasks, name) is not None, name
    assert nlptasks.finetune.__module__ == "nlptasks.api" and nlptasks.distill.__module__ == "nlptasks.api"


def test_the_layer_table_names_every_package_and_module():
    """docs/guide/architecture.md's layer table matches the layout: every package of nlptasks/ and every
    module of the top level, the API, models/ and backend/ appears in it by name."""
    table = "\n".join(l for l in (PACKAGE.parent / "docs" / "guide" / "architecture.md").read_text(encoding="utf-8")
                      .splitlines() if l.startswith("| "))
    missing = []
    for p in sorted(PACKAGE.iterdir()):
        if p.is_dir() and not p.name.startswith(("_", ".")) and p.name != "__pycache__":
            if f"{p.name}/" not in table:
                missing.append(f"{p.name}/")
        elif p.suffix == ".py" and p.stem not in ("__init__", "__main__") and p.stem not in table:
            missing.append(p.name)
    for sub in ("models", "backend"):
        for p in sorted((PACKAGE / sub).glob("*.py")):
            if p.stem != "__init__" and p.stem not in table:
                missing.append(f"{sub}/{p.name}")
    assert not missing, f"docs/guide/architecture.md's layer table does not name: {', '.join(missing)}"

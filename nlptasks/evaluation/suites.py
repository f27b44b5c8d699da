"""Evaluation suites: one YAML naming benchmarks × models (and model variants) to evaluate together.

```yaml
name: offline-defaults
description: embedded defaults, baselines and an int8 variant, all offline
limit: null                 # optional: cap every benchmark
runs:
  - benchmark: sst2_local
    models: [minilm-sst2, majority, {model: minilm-sst2, quantize: int8}]
```
Each model entry is a name or a mapping with ``model`` and optional ``dtype``, ``quantize``,
``options`` (task options) and ``optional: true`` (a model folder that a rebuild command makes, e.g. a
distilled student that does not ship: evaluated when the folder exists, else skipped with a note). Every result goes to the results store like any evaluation; the suite's
own records are returned so its leaderboard can be rendered from exactly this run.

A suite is named by a YAML path, or by the name of a suite shipped with the package (the
repository's ``eval/suites/<name>.yaml``, in the wheel ``nlptasks/bundled/suites``): ``--suite offline``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import NlpTasksError

_SUITE_KEYS = {"name", "description", "limit", "runs"}
_RUN_KEYS = {"benchmark", "models"}
_MODEL_KEYS = {"model", "dtype", "quantize", "options", "device", "optional"}


class SuiteError(NlpTasksError):
    pass


@dataclass
class SuiteRun:
    benchmark: str
    model: str
    dtype: str = "auto"
    quantize: str | None = None
    device: str = "auto"
    options: dict = field(default_factory=dict)
    optional: bool = False  # a model folder built locally: skipped (with a note) when it is not there


@dataclass
class Suite:
    name: str
    description: str
    limit: int | None
    runs: list[SuiteRun]
    path: str


def packaged_suites() -> dict[str, Path]:
    """Suites shipped with the package, by name (file stem)."""
    from ..packaged import bundled_dir

    d = bundled_dir("suites")
    return {f.stem: f for f in sorted(d.glob("*.yaml"))} if d.is_dir() else {}


def find_suite(name_or_path: str) -> Path:
    """A suite YAML file: an existing path, else a packaged suite of that name."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    known = packaged_suites()
    if name_or_path in known:
        return known[name_or_path]
    raise SuiteError(f"suite {name_or_path}: no such file, and no packaged suite of that name "
                     f"(packaged suites: {', '.join(known) or 'none'})")


def load_suite(path: str) -> Suite:
    from ..errors import InputError
    from ..io import read_file_capped
    from ..yamlsafe import MAX_BYTES, load_yaml

    p = find_suite(path)
    try:  # bounded in size, aliases and nesting
        data = load_yaml(read_file_capped(p, MAX_BYTES, f"suite {path}").decode("utf-8"), f"suite {path}",
                         SuiteError)
    except InputError as exc:
        raise SuiteError(str(exc)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SuiteError(f"suite {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise SuiteError(f"suite {path}: expected a mapping at the top level")
    _check_keys(data, _SUITE_KEYS, path, "suite")
    for key in ("name", "runs"):
        if key not in data:
            raise SuiteError(f"suite {path}: missing key {key!r}")
    if not isinstance(data["name"], str):
        raise SuiteError(f"suite {path}: 'name' must be a string")
    _file_name(data["name"], path)  # --render writes <name>.md/.html/.results.json
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise SuiteError(f"suite {path}: 'limit' must be a positive integer")
    if not isinstance(data.get("description", ""), (str, type(None))):
        raise SuiteError(f"suite {path}: 'description' must be a string")
    if not isinstance(data["runs"], list) or not data["runs"]:
        raise SuiteError(f"suite {path}: 'runs' must be a non-empty list")
    runs: list[SuiteRun] = []
    for i, entry in enumerate(data["runs"]):
        where = f"runs[{i}]"
        if not isinstance(entry, dict):
            raise SuiteError(f"suite {path}: {where} must be a mapping with 'benchmark' and 'models'")
        _check_keys(entry, _RUN_KEYS, path, where)
        if not isinstance(entry.get("benchmark"), str) or not isinstance(entry.get("models"), list):
            raise SuiteError(f"suite {path}: {where} needs 'benchmark' (a name) and 'models' (a list)")
        for j, m in enumerate(entry["models"]):
            mw = f"{where}.models[{j}]"
            if isinstance(m, str):
                m = {"model": m}
            if not isinstance(m, dict) or not isinstance(m.get("model"), str):
                raise SuiteError(f"suite {path}: {mw} must be a model name or a mapping with 'model'")
            _check_keys(m, _MODEL_KEYS, path, mw)
            if not isinstance(m.get("options", {}), dict):
                raise SuiteError(f"suite {path}: {mw}.options must be a mapping")
            if not isinstance(m.get("optional", False), bool):
                raise SuiteError(f"suite {path}: {mw}.optional must be true or false")
            for key in ("dtype", "quantize", "device"):
                if m.get(key) is not None and not isinstance(m[key], str):
                    raise SuiteError(f"suite {path}: {mw}.{key} must be a string, got "
                                     f"{type(m[key]).__name__} ({m[key]!r:.40})")
            runs.append(SuiteRun(entry["benchmark"], m["model"], m.get("dtype", "auto"), m.get("quantize"),
                                 m.get("device", "auto"), dict(m.get("options", {})), m.get("optional", False)))
    return Suite(data["name"], data.get("description", ""), limit, runs, str(p))


def _file_name(name, path: str) -> str:
    from ..errors import InputError
    from ..paths import check_file_name

    try:
        return check_file_name(name, "name")
    except InputError as exc:
        raise SuiteError(f"suite {path}: {exc}") from None


def _check_keys(d: dict, allowed: set, path: str, where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise SuiteError(f"suite {path}: unknown key {unknown[0]!r} in {where} (allowed: {', '.join(sorted(allowed))})")


def run_suite(suite: Suite | str, *, limit: int | None = None, data_dir: str | None = None,
              store=None, output_dir: str | None = None, render_dir: str | None = None,
              batch_size: int | None = None, country: str | None = None, log=print,
              cache=None, reuse: bool = False) -> list[dict]:
    """Evaluate every (benchmark, model variant) of the suite; returns the records.

    With ``render_dir``, writes ``<name>.md``, ``<name>.html`` (leaderboard) and ``<name>.results.json``
    (the records, importable with ``nlptasks results import``) there. ``cache``: the prediction cache
    (see ``evaluate``). In a data-parallel run the records are ``None`` but in the main process.
    ``reuse``: an entry whose result the store already holds (same benchmark definition and data, model
    weights and variant, settings, nlptasks version: :mod:`nlptasks.evaluation.reuse`) is not evaluated
    again; the stored record (the newest, if several) is returned and rendered with the new ones.
    """
    from ..errors import InputError
    from .definitions import get_benchmark
    from .engine import evaluate

    if reuse and store is False:
        raise InputError("--reuse takes results from the results store; it cannot be combined with --no-store")
    s = suite if isinstance(suite, Suite) else load_suite(suite)
    if render_dir:  # the rendered files never replace the suite file itself (checked before any work)
        from ..paths import check_not_an_input

        for p in rendered_paths(s.name, render_dir):
            check_not_an_input(p, [("the suite file", s.path)], flag="--render")
    names = {r.benchmark: get_benchmark(r.benchmark).name for r in s.runs}  # unknown benchmarks fail before any work
    stored = None
    if reuse:  # read once, before any entry runs: every process of a data-parallel run sees the same
        from .reuse import stored_records

        stored = stored_records(store, list(names.values()))
    records = []
    for i, r in enumerate(s.runs, 1):
        variant = " ".join(x for x in (r.dtype if r.dtype != "auto" else "", r.quantize or "") if x)
        if r.optional and not Path(r.model).expanduser().exists():
            log(f"[{i}/{len(s.runs)}] {r.benchmark}: {r.model}: skipped (optional, not built here)")
            continue
        log(f"[{i}/{len(s.runs)}] {r.benchmark}: {r.model}{' ' + variant if variant else ''}")
        kw = dict(limit=limit or s.limit, data_dir=data_dir, store=store, output_dir=output_dir, dtype=r.dtype,
                  quantize=r.quantize, device=r.device, batch_size=batch_size, country=country, cache=cache)
        reuse_from = stored.get(names[r.benchmark], []) if stored is not None else None
        rec = evaluate(r.benchmark, r.model, **kw, reuse_from=reuse_from, **r.options)
        if reuse_from and any(rec is x for x in reuse_from):  # a stored record, not a new one
            log(f"reused {rec['run_id']}")
        records.append(rec)
    if render_dir and all(r is not None for r in records):  # None: not the main process of a parallel run
        render_suite(s.name, records, render_dir)
    return records


def rendered_paths(name: str, render_dir: str) -> list[Path]:
    """The files :func:`render_suite` writes for a suite called ``name``."""
    _file_name(name, "to render")
    return [Path(render_dir) / f"{name}.{ext}" for ext in ("md", "html", "results.json")]


def render_suite(name: str, records: list[dict], render_dir: str) -> list[Path]:
    from ..io import atomic_write
    from ..leaderboard import leaderboard

    _file_name(name, "to render")  # never a path: the files stay inside render_dir
    out = Path(render_dir)
    paths = []
    for fmt, ext in (("md", "md"), ("html", "html")):
        p = out / f"{name}.{ext}"
        # a suite run with a limit is partial throughout: show it, marked as such
        atomic_write(str(p), leaderboard(records, fmt=fmt, include_partial=True))
        paths.append(p)
    p = out / f"{name}.results.json"
    atomic_write(str(p), json.dumps(records, indent=1, ensure_ascii=False, default=str) + "\n")
    paths.append(p)
    return paths

"""The evaluation engine: benchmark + model -> result record.

``evaluate()`` loads the benchmark's data, maps its columns onto the task's input fields and the
reference, predicts (inside a ``CostTracker``), scores each metric, and builds the result record (see
``RECORD_KEYS``). The record is written atomically to ``<output>/<benchmark>/<run_id>.json`` (with
``<run_id>.samples.jsonl`` beside it when samples are logged) and added to the results store.

Everything that is checked without a model (definition, options, metrics, data, columns, limit) is
checked before a model is loaded, so bad input costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .benchmarks import Benchmark, get_benchmark
from .datasets_io import MissingColumn, get_path, load_rows
from .errors import InputError, NlpTasksError
from .records import RECORD_KEYS, SCHEMA_VERSION as SCHEMA  # noqa: F401  (the record schema lives in records.py)

log = logging.getLogger("nlptasks")

PACKAGES = ("nlptasks", "torch", "transformers", "sacrebleu", "rouge-score")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


# -- data preparation -----------------------------------------------------------------------------
def _missing(bench: Benchmark, i: int, field: str, exc: MissingColumn, row: dict) -> InputError:
    avail = exc.available or sorted(row)
    what = "reference" if field == "__reference__" else f"field {field!r}"
    return InputError(f"benchmark {bench.name}: example {i + 1} has no column {exc.path!r} (for the {what}; "
                      f"missing step {exc.step!r}); available columns: {', '.join(map(str, avail)) or 'none'}")


def prepare(bench: Benchmark, rows: list[dict]) -> tuple[list[dict], list[Any]]:
    """Task input records and references from the data rows, by the benchmark's column mapping."""
    inputs, refs = [], []
    for i, row in enumerate(rows):
        rec = {}
        for field, path in bench.columns.items():
            try:
                rec[field] = get_path(row, path)
            except MissingColumn as exc:
                raise _missing(bench, i, field, exc, row) from None
        rec["__line__"] = i + 1
        try:
            refs.append(get_path(row, bench.references))
        except MissingColumn as exc:
            raise _missing(bench, i, "__reference__", exc, row) from None
        inputs.append(rec)
    return inputs, refs


class LabelNormaliser:
    """Maps references (ints via ``label_names``, or strings) and model labels onto one lower-case label
    set: ``label_map`` first, then ``LABEL_<i>`` -> ``label_names[i]``."""

    def __init__(self, bench: Benchmark):
        self.names = [n.lower() for n in (bench.label_names or [])]
        self.map = {k.lower(): v.lower() for k, v in (bench.label_map or {}).items()}
        self.bench = bench

    def __call__(self, value: Any, *, reference: bool = False) -> str:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, str) and self.names and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, int):
            if not self.names:
                return str(value)
            if 0 <= value < len(self.names):
                return self.names[value]
            raise InputError(f"benchmark {self.bench.name}: label {value} is outside label_names "
                             f"{self.names} (an unlabelled split?)")
        s = str(value).strip().lower()
        s = self.map.get(s, s)
        m = re.fullmatch(r"label_(\d+)", s)
        if m and int(m.group(1)) < len(self.names):
            return self.names[int(m.group(1))]
        return s


def _is_classification(bench: Benchmark, task_name: str) -> bool:
    return task_name == "sentiment" or bool(bench.label_names) or bool(bench.label_map)


# -- metrics --------------------------------------------------------------------------------------
def _metric_info(name: str, fn) -> dict:
    try:
        from .metrics import METRIC_INFO

        info = METRIC_INFO.get(name)
    except ImportError:
        info = None
    return info or getattr(fn, "info", None) or {}


def compute_metrics(bench: Benchmark, predictions: list, references: list,
                    nll: list[dict] | None = None) -> tuple[dict, dict]:
    """``(metrics, higher_is_better)`` keyed by value name."""
    from .registry import METRICS

    metrics: dict[str, dict] = {}
    hib: dict[str, bool] = {}
    for name in bench.metrics:
        fn = METRICS.get(name)
        opts = dict(bench.metric_options.get(name) or {})
        if name == "perplexity" and nll is None:
            continue  # the model gives references no likelihood (retrieval, baselines): no perplexity
        preds = nll if name == "perplexity" else predictions
        values = fn(preds, references, **opts)
        info = _metric_info(name, fn)
        for value_name, value in values.items():
            key = value_name if value_name not in metrics else f"{name}.{value_name}"
            metrics[key] = value.to_dict() if hasattr(value, "to_dict") else dict(value)
            hib[key] = bool((info.get("higher_is_better") or {}).get(value_name, True))
    return metrics, hib


# -- environment ----------------------------------------------------------------------------------
def package_versions() -> dict[str, str | None]:
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment(device: str, dtype: str | None, versions: dict) -> dict:
    env = {"python": platform.python_version(), "platform": platform.platform(),
           "nlptasks": versions.get("nlptasks"), "torch": versions.get("torch"),
           "transformers": versions.get("transformers"), "sacrebleu": versions.get("sacrebleu"),
           "rouge_score": versions.get("rouge-score"), "device": device, "dtype": dtype,
           "cpu": _cpu_name(), "gpu": None, "threads": None}
    torch = sys.modules.get("torch")
    if torch is not None:
        env["threads"] = torch.get_num_threads()
        if device.startswith("cuda") and torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return env


# -- the engine -----------------------------------------------------------------------------------
def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "benchmark"


def evaluate(benchmark: str | Benchmark, model: str | None = None, *, limit: int | None = None,
             batch_size: int | None = None, max_tokens: int | None = None, data_dir: str | None = None,
             output_dir: str | None = None, log_samples: bool = False, device: str = "auto",
             dtype: str = "auto", quantize: str | None = None, revision: str | None = None,
             trust_remote_code: bool = False, seed: int = 0, store: str | bool | None = None,
             country: str | None = None, grid_intensity: float | None = None, **task_options) -> dict:
    """Evaluate ``model`` (default: the task's) on ``benchmark`` (a name, a YAML path or a
    :class:`Benchmark`); returns the result record.

    ``store``: a path/URL of the results store, ``None`` for the default store, ``False`` to skip.
    Extra keyword arguments are task options and override the benchmark's (e.g. ``num_beams=4``).
    """
    from .registry import TASKS

    bench = benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark)
    cls = TASKS.get(bench.task)
    bench.check(cls)
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise InputError(f"--limit must be a positive integer, got {limit}")
    if log_samples and not output_dir:
        raise InputError("--log-samples needs --output DIR (the samples are written beside the result)")
    if output_dir:
        from .paths import check_output_folder

        check_output_folder(output_dir)
    limit = limit if limit is not None else bench.limit

    rows, source = load_rows(bench.dataset, data_dir, where=f"benchmark {bench.name}")
    if not rows:
        raise InputError(f"benchmark {bench.name}: the data ({source}) has no examples")
    # examples in a full run (the definition's own limit applies): a run with fewer is partial and is
    # not ranked beside full runs (nlptasks.leaderboard.ranking)
    full_n = min(len(rows), bench.limit) if bench.limit is not None else len(rows)
    if limit is not None:
        rows = rows[:limit]
    inputs, refs = prepare(bench, rows)
    normalise = LabelNormaliser(bench) if _is_classification(bench, cls.name) else None
    if normalise:
        refs = [normalise(r, reference=True) for r in refs]
    fingerprint = sha256_hex([[{k: v for k, v in r.items() if k != "__line__"} for r in inputs], refs])

    options = {**bench.task_options(), **task_options}
    task = cls(model, revision=revision, device=device, dtype=dtype, quantize=quantize,
               trust_remote_code=trust_remote_code, batch_size=batch_size, max_tokens=max_tokens, seed=seed,
               **options)
    task.validate(inputs)  # missing/None fields: one line, before loading

    import time

    from .cost import CostTracker

    print(f"nlptasks: {bench.name}: {len(inputs)} examples, task {cls.name}, model {task.model_name}",
          file=sys.stderr)
    # Loading is measured apart from predicting: cost columns compare inference, and a one-off load
    # (first imports, cold disk cache) would otherwise depend on the order in which models ran.
    with CostTracker(grid_intensity=grid_intensity, country=country) as load_tracker:
        t0 = time.perf_counter()
        task.load()
        load_s = time.perf_counter() - t0
    loaded = load_tracker.result()
    with CostTracker(grid_intensity=grid_intensity, country=country) as tracker:
        t1 = time.perf_counter()
        outputs = task.predict(inputs)
        scored = "perplexity" in bench.metrics and getattr(task, "scores_references", True)
        nll = task.reference_nll(inputs, [str(r) for r in refs]) if scored else None
        predict_s = time.perf_counter() - t1
    cost = {**tracker.result(), "load_time_s": load_s, "load_energy_kwh": loaded.get("energy_kwh"),
            "predict_time_s": predict_s, "examples_per_s": len(inputs) / predict_s if predict_s > 0 else None}
    for key in ("parameters", "size_bytes", "param_bytes"):
        if cost.get(key) in (None, 0) and loaded.get(key):
            cost[key] = loaded[key]

    out_field = cls.output_fields[0]
    predictions = [o.get(out_field) for o in outputs]
    if normalise:
        predictions = [normalise(p) for p in predictions]
    metrics, hib = compute_metrics(bench, predictions, refs, nll)

    info = dict(task.model_info())
    if info.get("parameters"):  # counted before quantization (which hides Linear weights)
        cost["parameters"] = info["parameters"]
    variant = info.get("variant") or {"dtype": dtype, "quantize": quantize}
    from .backend.device import resolve_device

    resolved = str(resolve_device(device))
    settings = {**task.run_settings(), "limit": limit, "batch_size": batch_size, "max_tokens": max_tokens,
                "device": resolved}
    versions = package_versions()
    identity = {"definition": bench.hash,
                "model": {k: info.get(k) for k in ("name", "revision", "weights_hash")} | {"variant": variant},
                "settings": settings, "packages": versions, "data": fingerprint}
    run_id = sha256_hex(identity)[:16]
    record = {
        "schema": SCHEMA, "run_id": run_id, "task": cls.name,
        "benchmark": {"name": bench.name, "version": bench.version, "hash": bench.hash},
        "model": {**info, "name": info.get("name") or task.model_name, "revision": info.get("revision"),
                  "weights_hash": info.get("weights_hash"), "variant": variant,
                  "parameters": info.get("parameters")},
        "n": len(inputs), "metrics": metrics, "primary_metric": bench.primary_metric,
        "higher_is_better": hib, "settings": settings,
        "environment": environment(resolved, variant.get("dtype"), versions),
        "cost": cost, "data": {"fingerprint": fingerprint[:16], "n": len(inputs), "full_n": full_n,
                                 "source": source},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    # never lose a finished evaluation: whatever fails below, the record ends up on disk and we say where
    problems, kept = [], None
    if output_dir:
        try:
            kept = write_record(record, output_dir, samples=_samples(inputs, outputs, predictions, refs, nll)
                                if log_samples else None)
        except OSError as exc:  # checked before loading, yet it can still fail (disk full, folder removed)
            problems.append(f"record not written ({record_path(record, output_dir)}: {exc.strerror or exc})")
            kept = keep_record(record)
    if store is not False:
        try:
            _store(record, store)
        except NlpTasksError as exc:
            problems.append(f"result not stored ({exc})")
            kept = kept or keep_record(record)
    if problems:
        raise NlpTasksError("; ".join(problems) + f"; the record is saved in {kept}")
    return record


def _samples(inputs, outputs, predictions, refs, nll) -> list[dict]:
    rows = []
    for i, (inp, out, pred, ref) in enumerate(zip(inputs, outputs, predictions, refs)):
        row = {"index": i, "input": {k: v for k, v in inp.items() if not k.startswith("__")},
               "prediction": pred, "reference": ref, "output": out}
        if nll is not None:
            row["reference_nll"] = nll[i]
        rows.append(row)
    return rows


def record_path(record: dict, output_dir: str) -> Path:
    return Path(output_dir) / _safe_name(record["benchmark"]["name"]) / f"{record['run_id']}.json"


def write_record(record: dict, output_dir: str, samples: list[dict] | None = None) -> Path:
    from .io import atomic_write

    path = record_path(record, output_dir)
    if samples is not None:
        atomic_write(str(path.with_suffix(".samples.jsonl")),
                     "".join(json.dumps(s, ensure_ascii=False, default=str) + "\n" for s in samples))
    atomic_write(str(path), json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n")
    print(f"nlptasks: wrote {path}" + (f" and {path.with_suffix('.samples.jsonl').name}" if samples is not None
                                       else ""), file=sys.stderr)
    return path


def keep_record(record: dict) -> Path:
    """Save a finished record that could not go where it should: ``nlptasks-result-<run_id>.json`` in
    the current directory (else the temporary directory), so an evaluation is never lost."""
    import tempfile

    from .io import atomic_write

    text = json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n"
    name = f"nlptasks-result-{record['run_id']}.json"
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        kept = (folder / name).resolve()
        try:
            atomic_write(str(kept), text)
            return kept
        except OSError:
            continue
    raise NlpTasksError(f"the record could not be saved anywhere (tried {Path.cwd()} and {tempfile.gettempdir()})")


def _store(record: dict, store) -> None:
    try:
        from .store import ResultStore
    except ImportError:  # pragma: no cover - store module not installed
        return
    st = ResultStore(store if isinstance(store, (str, os.PathLike)) else None)
    st.add(record)
    print(f"nlptasks: stored run {record['run_id']} in {st.location}", file=sys.stderr)


# -- presentation ---------------------------------------------------------------------------------
def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4f}" if abs(x) < 1000 else f"{x:.1f}"
    return str(x)


def _ci(ci) -> str:
    if isinstance(ci, dict):
        lo, hi = ci.get("low", ci.get("lower")), ci.get("high", ci.get("upper"))
    elif isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = ci
    else:
        return "-"
    if lo is None or hi is None:
        return "-"
    return f"[{_fmt(float(lo))}, {_fmt(float(hi))}]"


def format_table(record: dict) -> str:
    """The metrics of a result record as a plain-text table (primary metric marked with ``*``)."""
    b, m = record["benchmark"], record["model"]
    variant = m.get("variant") or {}
    head = (f"{b['name']} v{b['version']} (definition {b['hash']}) | task {record['task']} | model {m['name']}"
            f" [{variant.get('dtype')}{'+' + variant['quantize'] if variant.get('quantize') else ''}]"
            f" | n={record['n']}")
    rows = [("metric", "score", "95% CI", "better")]
    for name, v in record["metrics"].items():
        star = " *" if name == record["primary_metric"] else ""
        rows.append((name + star, _fmt(v.get("score")), _ci(v.get("ci")),
                     "higher" if record["higher_is_better"].get(name, True) else "lower"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    c = record.get("cost") or {}
    parts = [f"wall {c.get('wall_time_s', 0):.1f} s"]
    if c.get("examples_per_s"):
        parts.append(f"{c['examples_per_s']:.1f} examples/s")
    if c.get("tokens_per_s"):
        parts.append(f"{c['tokens_per_s']:.1f} generated tokens/s")
    if c.get("peak_rss_bytes"):
        parts.append(f"peak RSS {c['peak_rss_bytes'] / 1e6:.0f} MB")
    if m.get("parameters"):
        parts.append(f"{m['parameters'] / 1e6:.1f}M params")
    lines.append("cost: " + ", ".join(parts))
    lines.append(f"run id: {record['run_id']}")
    return "\n".join(lines) + "\n"

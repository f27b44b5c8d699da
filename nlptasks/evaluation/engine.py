"""The evaluation engine: benchmark + model -> result record.

``evaluate()`` runs five stages over one :class:`EvalRun` (its keyword arguments grouped in
:class:`EvalSettings`):

1. :func:`load_stage`: the definition, the data, the task's inputs and the references (columns mapped,
   references checked), the data fingerprint and the task plugin, its model not loaded yet;
2. :func:`predict_stage`: the model loaded (its cost measured apart), then predictions inside a
   ``CostTracker``;
3. :func:`score_stage`: each metric of the definition;
4. :func:`build_record`: the result record (``RECORD_KEYS``; the schema is ``records.py``);
5. :func:`persist`: written atomically to ``<output>/<benchmark>/<run_id>.json`` (with
   ``<run_id>.samples.jsonl`` beside it when samples are logged) and added to the results store.

Everything that is checked without a model (definition, options, metrics, data, columns, limit) is
checked in the first stage, before a model is loaded, so bad input costs nothing.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import InputError, NlpTasksError
from ..hashing import json_hash, records_fingerprint
from .datasets_io import MissingColumn, get_path, load_rows
from .definitions import Benchmark, get_benchmark
from .records import RECORD_KEYS, SCHEMA_VERSION as SCHEMA  # noqa: F401  (the record schema lives in records.py)

log = logging.getLogger("nlptasks")

PACKAGES = ("nlptasks", "torch", "transformers", "sacrebleu", "rouge-score")


# -- data preparation -----------------------------------------------------------------------------
def _missing(bench: Benchmark, i: int, field: str, exc: MissingColumn, row: dict) -> InputError:
    avail = [k for k in (exc.available or sorted(row)) if not str(k).startswith("__")]
    what = "reference" if field == "__reference__" else f"field {field!r}"
    if all(_COLUMN_NAME.fullmatch(str(k)) for k in avail):
        have = f"available columns: {', '.join(map(str, avail)) or 'none'}"
    else:  # a header that is data (a .env or a text file read as CSV): never echo it, it may be a secret
        have = (f"the file's columns do not look like column names; is it really a "
                f"{bench.dataset.get('path')} file in the task's schema?")
    return InputError(f"benchmark {bench.name}: example {i + 1} has no column {exc.path!r} (for the {what}; "
                      f"missing step {exc.step!r}); {have}")


_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]{0,63}")


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


def check_references(bench: Benchmark, refs: list, rows: list[dict], source: str,
                     normalise: LabelNormaliser | None) -> list:
    """Refuse null references, and for classification references outside the label set, before any
    scoring: one line naming the file and line (or the example), the value and the allowed labels.
    Returns the references, normalised for classification."""
    out = []
    for i, (ref, row) in enumerate(zip(refs, rows)):
        where = row.get("__where__") or f"benchmark {bench.name} ({source}): example {i + 1}"
        allowed = f"; allowed labels: {', '.join(normalise.names)}" if normalise and normalise.names else ""
        if ref is None:
            raise InputError(f"{where}: the reference ({bench.references!r}) is null{allowed}")
        if normalise is None:
            out.append(ref)
            continue
        try:
            value = normalise(ref, reference=True)
        except InputError:
            value = None
        if value is None or (normalise.names and value not in normalise.names):
            raise InputError(f"{where}: reference label {ref!r} is not one of the labels{allowed or ' (none known)'}")
        out.append(value)
    return out


def _is_classification(bench: Benchmark, task_cls) -> bool:
    return bool(getattr(task_cls, "predicts_labels", False)) or bool(bench.label_names) or bool(bench.label_map)


# -- metrics --------------------------------------------------------------------------------------
def compute_metrics(bench: Benchmark, predictions: list, references: list,
                    nll: list[dict] | None = None, outputs: list[dict] | None = None) -> tuple[dict, dict]:
    """``(metrics, higher_is_better)`` keyed by value name, each metric asked (``nlptasks.metrics.Metric``):
    one that ``scores_likelihood`` (perplexity) scores ``nll``; one with a ``prediction_field``
    (``retrieval_recall``: the retrieved ``passages``) scores that field of ``outputs``."""
    from ..registry import METRICS

    metrics: dict[str, dict] = {}
    hib: dict[str, bool] = {}
    for name in bench.metrics:
        metric = METRICS.get(name).with_options(**(bench.metric_options.get(name) or {}))
        if metric.scores_likelihood and nll is None:
            continue  # the model gives references no likelihood (retrieval, baselines): no perplexity
        preds = nll if metric.scores_likelihood else predictions
        if metric.prediction_field and outputs is not None:
            preds = [o.get(metric.prediction_field) for o in outputs]
        values = metric.compute(preds, references)
        for value_name, value in values.items():
            key = value_name if value_name not in metrics else f"{name}.{value_name}"
            metrics[key] = value.to_dict() if hasattr(value, "to_dict") else dict(value)
            metrics[key]["extra"] = {"signature": metric.value_signature(value),  # the metric's settings
                                     **(metrics[key].get("extra") or {})}
            hib[key] = metric.higher_is_better_for(value_name)
    return metrics, hib


def _scores_likelihood(bench: Benchmark) -> bool:
    """Whether a metric of the benchmark scores the references' likelihood (perplexity)."""
    from ..registry import METRICS

    return any(METRICS.get(name).scores_likelihood for name in bench.metrics)


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


@dataclass
class EvalSettings:
    """How to evaluate: the keyword arguments of :func:`evaluate`, grouped (``task_options`` are the extra
    keyword arguments, which override the benchmark's)."""

    limit: int | None = None
    batch_size: int | None = None
    max_tokens: int | None = None
    data_dir: str | None = None
    output_dir: str | None = None
    log_samples: bool = False
    device: str = "auto"
    dtype: str = "auto"
    quantize: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    seed: int = 0
    store: str | bool | None = None  # a path/URL, None for the default store, False to skip
    country: str | None = None
    grid_intensity: float | None = None
    cache: str | bool | None = None  # the prediction cache folder, None for the default, False for none
    task_options: dict[str, Any] = field(default_factory=dict)
    reference_metrics: str | None = None  # "evaluate": the Hub's implementations beside ours (reference_metrics.py)

    def check(self) -> None:
        """The checks that need neither data nor model."""
        if self.limit is not None and (isinstance(self.limit, bool) or int(self.limit) < 1):
            raise InputError(f"--limit must be a positive integer, got {self.limit}")
        if self.log_samples and not self.output_dir:
            raise InputError("--log-samples needs --output DIR (the samples are written beside the result)")
        if self.output_dir:
            from ..paths import check_output_folder

            check_output_folder(self.output_dir)


@dataclass
class EvalRun:
    """One evaluation, filled in stage by stage: :func:`load_stage` (everything up to the task, no model
    loaded), :func:`predict_stage` (outputs and cost), :func:`score_stage` (metrics)."""

    bench: Benchmark
    settings: EvalSettings
    task_cls: type
    task: Any = None  # the task plugin, created (model not loaded) by load_stage
    source: str = ""  # where the data came from
    limit: int | None = None  # examples evaluated: settings.limit, else the definition's
    full_n: int = 0  # examples in a full run (the definition's own limit applies)
    inputs: list[dict] = field(default_factory=list)
    refs: list = field(default_factory=list)
    normalise: LabelNormaliser | None = None  # classification: one label set for references and predictions
    fingerprint: str = ""  # of the inputs and references
    source_fingerprint: str = ""  # of all rows as read (compared with a model's training data)
    outputs: list[dict] = field(default_factory=list)
    nll: list[dict] | None = None  # per-reference negative log-likelihood, for perplexity
    cost: dict = field(default_factory=dict)
    predictions: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    higher_is_better: dict = field(default_factory=dict)
    reference_modules: dict = field(default_factory=dict)  # --reference-metrics: metric -> the Hub's module
    reference_metrics: dict | None = None  # their results beside ours (the record's reference_metrics)
    load_cost: tuple | None = None  # (seconds, CostTracker result) of loading the model: load_model, once


def load_stage(benchmark: str | Benchmark, settings: EvalSettings, model: str | None = None) -> EvalRun:
    """Definition, settings, data, task inputs and references, fingerprint and the task plugin (not
    its model): every check that needs no model, so bad input costs nothing."""
    from ..registry import TASKS

    bench = benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark)
    cls = TASKS.get(bench.task)
    bench.check(cls)
    settings.check()
    modules = {}
    if settings.reference_metrics:  # offline: stops here at once, before data and model
        from .reference_metrics import prepare as prepare_reference

        modules = prepare_reference(settings.reference_metrics, bench.metrics)
    run = EvalRun(bench, settings, cls, limit=settings.limit if settings.limit is not None else bench.limit)
    run.reference_modules = modules

    rows, run.source = load_rows(bench.dataset, settings.data_dir, where=f"benchmark {bench.name}", with_where=True)
    if not rows:
        raise InputError(f"benchmark {bench.name}: the data ({run.source}) has no examples")
    # a run with fewer examples than a full one is partial and is not ranked beside full runs
    # (nlptasks.leaderboard.ranking)
    run.full_n = min(len(rows), bench.limit) if bench.limit is not None else len(rows)
    run.source_fingerprint = records_fingerprint(rows)  # before --limit: training on any of it counts
    if run.limit is not None:
        rows = rows[:run.limit]
    run.inputs, refs = prepare(bench, rows)
    if getattr(bench, "model_label_space", False):  # --data FILE: the model's labels (adhoc_labels.py)
        from .adhoc_labels import fit

        run.bench = bench = fit(bench, cls, model, refs, revision=settings.revision,
                                trust_remote_code=settings.trust_remote_code,
                                score_missing=settings.task_options.get("missing_labels") == "score")
    run.normalise = LabelNormaliser(bench) if _is_classification(bench, cls) else None
    run.refs = check_references(bench, refs, rows, run.source, run.normalise)
    run.fingerprint = json_hash([[{k: v for k, v in r.items() if k != "__line__"} for r in run.inputs], run.refs])

    s = settings
    options = {**bench.options_for_task(), **s.task_options}
    if bench.corpus and not options.get("index"):  # open-domain: the corpus, indexed once and cached
        from .corpus import corpus_index

        options["index"] = corpus_index(bench, s.data_dir)
    run.task = cls(model, revision=s.revision, device=s.device, dtype=s.dtype,
                   quantize=s.quantize, trust_remote_code=s.trust_remote_code, batch_size=s.batch_size,
                   max_tokens=s.max_tokens, seed=s.seed, **options)
    run.task.validate(run.inputs)  # missing/None fields: one line, before loading
    return run


def predict_stage(run: EvalRun) -> bool:
    """Load the model, then predict (and, for perplexity, score the references) inside a cost tracker,
    data-parallel over launched processes and through the prediction cache (``eval_parallel``). Loading
    is measured apart from predicting: cost columns compare inference, and a one-off load (first imports,
    cold disk cache) would otherwise depend on the order in which models ran. Returns whether this
    process is the one that scores and writes."""
    import time

    from ..cost import CostTracker

    s, task = run.settings, run.task
    print(f"nlptasks: {run.bench.name}: {len(run.inputs)} examples, task {run.task_cls.name}, "
          f"model {task.model_name}", file=sys.stderr)
    load_model(run)
    load_s, loaded = run.load_cost
    from ..eval_parallel import combine_cost, predict_examples

    with CostTracker(grid_intensity=s.grid_intensity, country=s.country) as tracker:
        t1 = time.perf_counter()
        # a model without token probabilities (retrieval, baselines) has no perplexity to score
        scored = _scores_likelihood(run.bench) and getattr(task, "scores_references", True)
        refs = [str(r) for r in run.refs] if scored else None
        step = predict_examples(task, run.inputs, refs, cache=s.cache)
        predict_s = time.perf_counter() - t1
    job_cost = combine_cost(step, tracker.result())
    if not step.main:
        return False
    run.outputs, run.nll = step.outputs, step.nll
    n = len(run.inputs)
    run.cost = {**job_cost, "load_time_s": load_s, "load_energy_kwh": loaded.get("energy_kwh"),
                "predict_time_s": predict_s, "examples_per_s": n / predict_s if predict_s > 0 else None}
    for key in ("parameters", "size_bytes", "param_bytes"):
        if run.cost.get(key) in (None, 0) and loaded.get(key):
            run.cost[key] = loaded[key]
    return True


def load_model(run: EvalRun) -> None:
    """Load the run's model, once, measuring the load (``run.load_cost``) apart from predicting, and fit
    the model's labels to the benchmark's (which may add a ``label_rule`` setting). Called by
    :func:`predict_stage`; earlier by a suite with ``reuse``, which needs the model's identity
    (``task.model_info()``: weights hash, variant; the settings) to find a stored result before predicting."""
    import time

    from ..cost import CostTracker

    if run.load_cost is not None:
        return
    s = run.settings
    with CostTracker(grid_intensity=s.grid_intensity, country=s.country) as tracker:
        t0 = time.perf_counter()
        run.task.load()
        load_s = time.perf_counter() - t0
    run.load_cost = (load_s, tracker.result())
    if run.normalise is not None and run.normalise.names:  # the model's labels vs the benchmark's
        run.task.fit_label_space(run.bench.name, run.normalise.names, run.normalise)


def score_stage(run: EvalRun) -> None:
    """Predictions (the task's first output field, labels normalised) scored by each metric."""
    out_field = run.task_cls.output_fields[0]
    run.predictions = [o.get(out_field) for o in run.outputs]
    if run.normalise:
        run.predictions = [run.normalise(p) for p in run.predictions]
    run.metrics, run.higher_is_better = compute_metrics(run.bench, run.predictions, run.refs, run.nll,
                                                        outputs=run.outputs)
    if run.reference_modules:
        from .reference_metrics import compute

        run.reference_metrics = compute(run.reference_modules, run.bench, run.predictions, run.refs, run.metrics)


def record_settings(run: EvalRun) -> dict:
    """The record's ``settings``: every setting that changes outputs (the task's, ``limit``, batch size,
    token budget and the device the run resolves to)."""
    from ..backend.device import resolve_device

    s = run.settings
    return {**run.task.run_settings(), "limit": run.limit, "batch_size": s.batch_size, "max_tokens": s.max_tokens,
            "device": str(resolve_device(s.device))}


def _benchmark_facts(bench) -> dict:
    return {"name": bench.name, "version": bench.version, "hash": bench.hash}


def _model_facts(run: EvalRun) -> tuple[dict, dict]:
    """The task's ``model_info()`` and, from it, the model's identity as a record states it: name,
    revision, weights and config hashes, variant (the settings' dtype/quantize when the task names none)."""
    s, task = run.settings, run.task
    info = dict(task.model_info())
    return info, {"name": info.get("name") or task.model_name, "revision": info.get("revision"),
                  "weights_hash": info.get("weights_hash"), "config_hash": info.get("config_hash"),
                  "variant": info.get("variant") or {"dtype": s.dtype, "quantize": s.quantize}}


def build_record(run: EvalRun) -> dict:
    """The result record (``RECORD_KEYS``; schema in ``records.py``). Its ``run_id`` hashes what makes a
    run: definition, model identity and variant, settings, package versions and the data fingerprint."""
    from .contamination import trained_on

    bench = run.bench
    info, model = _model_facts(run)
    variant = model["variant"]
    cost = dict(run.cost)
    if info.get("parameters"):  # counted before quantization (which hides Linear weights)
        cost["parameters"] = info["parameters"]
    settings = record_settings(run)
    resolved = settings["device"]
    versions = package_versions()
    identity = {"definition": bench.hash,
                "model": {k: info.get(k) for k in ("name", "revision", "weights_hash")} | {"variant": variant}
                | ({"config_hash": info["config_hash"]} if info.get("config_hash") else {}),  # config/tokenizer
                "settings": settings, "packages": versions, "data": run.fingerprint}
    n = len(run.inputs)
    data = {"fingerprint": run.fingerprint[:16], "n": n, "full_n": run.full_n, "source": run.source,
            "source_fingerprint": run.source_fingerprint}
    trained = trained_on(info.get("path"), run.source_fingerprint)
    if trained:  # never ranked (nlptasks.leaderboard.ranking)
        log.warning("nlptasks: the model was trained on the data of %s (%s): the result is marked and the "
                    "leaderboard does not rank it", bench.name, trained)
        data.update(trained_on_eval_data=True, training_result=trained)
    return {
        "schema": SCHEMA, "run_id": json_hash(identity, 16), "task": run.task_cls.name,
        "benchmark": _benchmark_facts(bench),
        "model": {**info, **{k: model[k] for k in ("name", "revision", "weights_hash", "variant")},
                  "parameters": info.get("parameters")},
        "n": n, "metrics": run.metrics, "primary_metric": bench.primary_metric,
        "higher_is_better": run.higher_is_better, "settings": settings,
        "environment": environment(resolved, variant.get("dtype"), versions),
        "cost": cost, "data": data,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    } | ({"reference_metrics": run.reference_metrics} if run.reference_metrics else {})


def persist(record: dict, run: EvalRun) -> None:
    """The record (and samples) into the output folder, then into the results store. A finished
    evaluation is never lost: whatever fails here, the record ends up on disk and the error says where."""
    s = run.settings
    problems, kept = [], None
    if s.output_dir:
        samples = _samples(run.inputs, run.outputs, run.predictions, run.refs, run.nll) if s.log_samples else None
        try:
            kept = write_record(record, s.output_dir, samples=samples)
        except OSError as exc:  # checked before loading, yet it can still fail (disk full, folder removed)
            problems.append(f"record not written ({record_path(record, s.output_dir)}: {exc.strerror or exc})")
            kept = keep_record(record)
    if s.store is not False:
        try:
            _store(record, s.store)
        except NlpTasksError as exc:
            problems.append(f"result not stored ({exc})")
            kept = kept or keep_record(record)
    if problems:
        raise NlpTasksError("; ".join(problems) + f"; the record is saved in {kept}")


def run_identity(run: EvalRun) -> dict:
    """What a record of ``run`` would state about the run (its model loaded: :func:`load_model`), as
    :func:`nlptasks.evaluation.reuse.matches` compares it with a stored record."""
    from .reuse import plain

    return plain({
        "benchmark": _benchmark_facts(run.bench),
        "data": {"fingerprint": run.fingerprint[:16], "n": len(run.inputs)},
        "model": _model_facts(run)[1],
        "settings": record_settings(run),
        "nlptasks": package_versions().get("nlptasks"),
    })


def evaluate(benchmark: str | Benchmark, model: str | None = None, *, limit: int | None = None,
             batch_size: int | None = None, max_tokens: int | None = None, data_dir: str | None = None,
             output_dir: str | None = None, log_samples: bool = False, device: str = "auto",
             dtype: str = "auto", quantize: str | None = None, revision: str | None = None,
             trust_remote_code: bool = False, seed: int = 0, store: str | bool | None = None,
             country: str | None = None, grid_intensity: float | None = None, cache: str | bool | None = None,
             reference_metrics: str | None = None, reuse_from: list[dict] | None = None,
             **task_options) -> dict | None:
    """Evaluate ``model`` (default: the task's) on ``benchmark`` (a name, a YAML path or a
    :class:`Benchmark`); returns the result record.

    ``store``: a path/URL of the results store, ``None`` for the default store, ``False`` to skip.
    Extra keyword arguments are task options and override the benchmark's (e.g. ``num_beams=4``).
    ``cache``: the prediction cache folder, ``None`` for the default, ``False`` for none
    (``nlptasks.prediction_cache``). ``reference_metrics="evaluate"``: also the Hub's ``evaluate``
    implementation of each metric, in the record's ``reference_metrics`` (offline: refused at once,
    ``nlptasks.evaluation.reference_metrics``). In a data-parallel run (``nlptasks.eval_parallel``) only the main
    process returns the record; the others return ``None``.

    The stages: :func:`load_stage` -> :func:`predict_stage` -> :func:`score_stage` -> :func:`build_record`
    -> :func:`persist`. ``reuse_from``: stored records (oldest first); when one of them is a result of this
    very run (:mod:`nlptasks.evaluation.reuse`: the model is loaded for its identity, nothing predicted), it
    is returned instead (``nlptasks eval --suite --reuse``).
    """
    settings = EvalSettings(limit=limit, batch_size=batch_size, max_tokens=max_tokens, data_dir=data_dir,
                            output_dir=output_dir, log_samples=log_samples, device=device, dtype=dtype,
                            quantize=quantize, revision=revision, trust_remote_code=trust_remote_code, seed=seed,
                            store=store, country=country, grid_intensity=grid_intensity, cache=cache,
                            task_options=task_options, reference_metrics=reference_metrics)
    run = load_stage(benchmark, settings, model)
    if reuse_from is not None:
        from ..eval_parallel import init
        from .reuse import find_reusable

        load_model(run)
        found = find_reusable(reuse_from, run_identity(run))
        if found is not None:
            return found if init()[0] == 0 else None  # the record only in the main process, as below
    if not predict_stage(run):
        return None  # another process of a data-parallel run: the main process scores and writes, once
    score_stage(run)
    record = build_record(run)
    persist(record, run)
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
    from ..io import atomic_write

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

    from ..io import atomic_write

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
    from .store import ResultStore

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
    from .records import variant_name

    head = (f"{b['name']} v{b['version']} (definition {b['hash']}) | task {record['task']} | model {m['name']}"
            f" [{variant_name(record)}] | n={record['n']}")
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

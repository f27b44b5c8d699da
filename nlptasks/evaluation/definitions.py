"""Declarative benchmarks: one strict YAML file per benchmark (``tasks/<task>/<name>.yaml``).

A definition names its data (a hub dataset, or local json/csv/parquet files whose relative paths
resolve against ``--data-dir``), maps data columns onto the task's input fields and the reference,
and lists metrics, the primary metric, generation settings and task options. Unknown keys and wrong
types are errors naming the file and the key. The resolved definition (everything but the
description) is hashed; the hash goes into every result, so results of a changed definition are
never compared silently.

Where definitions are found, first match wins: the directories in ``$NLPTASKS_BENCHMARKS_PATH``
(``os.pathsep``-separated), then the definitions shipped with the package (the repository's ``tasks/``
folder, copied into the wheel as ``nlptasks/bundled/tasks``; see ``nlptasks.packaged``). A path to a
YAML file is accepted wherever a benchmark name is.
"""
from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..datafiles import format_of
from ..errors import NlpTasksError, UnknownNameError
from ..hashing import json_hash
from ..packaged import bundled_dir
from ..registry import Registry

log = logging.getLogger("nlptasks")

PATH_ENV = "NLPTASKS_BENCHMARKS_PATH"
BUILTIN_DIR = bundled_dir("tasks")


class BenchmarkError(NlpTasksError):
    """A benchmark definition that is not valid (the message names the file and the key)."""


# -- schema ---------------------------------------------------------------------------------------
# The YAML schema is written once, as the fields of the dataclasses below (``Benchmark``, ``DatasetRef``):
# each YAML key is a field whose metadata holds (accepted types, required); ``TOP`` and ``DATASET`` are
# read from them. The open-domain corpus section is a plain mapping (``CORPUS``).
_SCALAR = (str, int, float, bool)


def _yaml(*types: type, required: bool = False, **kw):
    """A dataclass field that is a YAML key of the definition: its accepted types and whether it is required."""
    return field(metadata={"yaml": (types, required)}, **kw)


def _schema(cls) -> dict:
    """key -> (accepted types, required) of the YAML keys of ``cls``, in field order."""
    return {f.name: f.metadata["yaml"] for f in fields(cls) if "yaml" in f.metadata}


@dataclass(frozen=True, eq=False)
class DatasetRef(Mapping):
    """A definition's ``dataset`` section, typed: a hub dataset (``path``, config ``name``, ``split``,
    ``revision``) or local files (``path`` json/csv/parquet and ``data_files``: files, or a mapping
    split -> files). Every key is present (None when not given). It reads as a mapping too
    (``ds["path"]``, ``dict(ds)``), as the section did before it was typed."""

    path: str = _yaml(str, required=True)
    name: str | None = _yaml(str, default=None)
    split: str | None = _yaml(str, default=None)
    data_files: str | list | dict | None = _yaml(str, list, dict, default=None)
    revision: str | None = _yaml(str, default=None)

    def __getitem__(self, key: str) -> Any:
        if key not in DATASET:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(DATASET)

    def __len__(self) -> int:
        return len(DATASET)

    @property
    def local(self) -> bool:
        """Local files (json/csv/parquet) rather than a hub dataset."""
        from .datasets_io import LOCAL_FORMATS

        return self.path in LOCAL_FORMATS

    def to_dict(self) -> dict:
        return {k: copy.deepcopy(getattr(self, k)) for k in DATASET}


DATASET = _schema(DatasetRef)
# keys that do not change what is scored, so they are left out of the definition hash
NOT_HASHED = ("description", "train_split", "train_data_files")
# open-domain benchmarks: the documents to retrieve from (indexed once, cached by their fingerprint)
CORPUS = {
    "path": ((str,), True),
    "data_files": ((str, list), True),
    "text": ((str,), True),
    "title": ((str,), False),
    "id": ((str,), False),
}
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
              dict: "a mapping"}


def _type_ok(value, types) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # YAML true/false is not an integer here
    return isinstance(value, types)


def _check_section(data: dict, schema: dict, where: str, prefix: str = "") -> None:
    for key in data:
        if key not in schema:
            raise BenchmarkError(f"{where}: unknown key {prefix + str(key)!r} (allowed: {', '.join(schema)})")
    for key, (types, required) in schema.items():
        if key not in data or data[key] is None:
            if required:
                raise BenchmarkError(f"{where}: missing required key {prefix + key!r}")
            continue
        if not _type_ok(data[key], types):
            want = " or ".join(TYPE_NAMES[t] for t in types)
            raise BenchmarkError(f"{where}: key {prefix + key!r} must be {want}, "
                                 f"got {type(data[key]).__name__} ({data[key]!r:.60})")


def _check_str_map(value: dict, where: str, key: str, values=(str,)) -> None:
    for k, v in value.items():
        if not isinstance(k, str) or not _type_ok(v, values):
            want = " or ".join(TYPE_NAMES[t] for t in values)
            raise BenchmarkError(f"{where}: key '{key}.{k}' must be {want}, got {type(v).__name__}")


def validate_definition(data: Any, where: str, default_name: str | None = None) -> dict:
    """Check a parsed YAML mapping; return the normalised definition (defaults filled in)."""
    from .datasets_io import LOCAL_FORMATS, parse_path

    if not isinstance(data, dict):
        raise BenchmarkError(f"{where}: a benchmark definition must be a YAML mapping, got {type(data).__name__}")
    _check_section(data, TOP, where)
    ds = data["dataset"]
    _check_section(ds, DATASET, where, "dataset.")
    files = ds.get("data_files")
    if isinstance(files, list) and not all(isinstance(f, str) for f in files):
        raise BenchmarkError(f"{where}: key 'dataset.data_files' must be a list of strings")
    if isinstance(files, dict):
        for split, f in files.items():
            if not (isinstance(f, str) or (isinstance(f, list) and all(isinstance(x, str) for x in f))):
                raise BenchmarkError(f"{where}: key 'dataset.data_files.{split}' must be a string or a list of strings")
    if ds["path"] in LOCAL_FORMATS and not files:
        raise BenchmarkError(f"{where}: key 'dataset.data_files' is required for a local {ds['path']} dataset")
    if not data["columns"]:
        raise BenchmarkError(f"{where}: key 'columns' must map at least one task field to a column")
    _check_str_map(data["columns"], where, "columns")
    for key, path in [*(("columns." + k, v) for k, v in data["columns"].items()), ("references", data["references"])]:
        try:
            parse_path(path)
        except ValueError as exc:
            raise BenchmarkError(f"{where}: key {key!r}: {exc}") from None
    if not data["metrics"] or not all(isinstance(m, str) for m in data["metrics"]):
        raise BenchmarkError(f"{where}: key 'metrics' must be a non-empty list of metric names")
    if "label_names" in data and not all(isinstance(x, str) for x in data["label_names"]):
        raise BenchmarkError(f"{where}: key 'label_names' must be a list of strings")
    if data.get("label_map") is not None:
        _check_str_map(data["label_map"], where, "label_map")
    for section in ("generation", "task_options"):
        if data.get(section) is not None:
            _check_str_map(data[section], where, section, _SCALAR)
    for name, opts in (data.get("metric_options") or {}).items():
        if name not in data["metrics"]:
            raise BenchmarkError(f"{where}: key 'metric_options.{name}': {name!r} is not in 'metrics'")
        if not isinstance(opts, dict):
            raise BenchmarkError(f"{where}: key 'metric_options.{name}' must be a mapping")
    if data.get("limit") is not None and data["limit"] < 1:
        raise BenchmarkError(f"{where}: key 'limit' must be a positive integer")
    corpus = data.get("corpus")
    if corpus is not None:
        _check_section(corpus, CORPUS, where, "corpus.")
        if corpus["path"] not in LOCAL_FORMATS:
            raise BenchmarkError(f"{where}: key 'corpus.path' must be a local format ({', '.join(LOCAL_FORMATS)})")
        corpus = {k: corpus.get(k) for k in CORPUS}
    _check_training_data(data, ds, where)
    name = data.get("name") or default_name
    if not name:
        raise BenchmarkError(f"{where}: missing required key 'name'")
    out = {}
    for f in fields(Benchmark):  # every YAML key; one not given gets the field's default
        if "yaml" in f.metadata:
            value = data.get(f.name)
            if value is None:
                value = f.default_factory() if f.default_factory is not MISSING else \
                    (None if f.default is MISSING else f.default)
            out[f.name] = value
    out.update(name=name, dataset=DatasetRef(**{k: ds.get(k) for k in DATASET}), columns=dict(data["columns"]),
               metrics=list(data["metrics"]), corpus=corpus)
    return out


def _check_training_data(data: dict, ds: dict, where: str) -> None:
    """``train_split`` / ``train_data_files``: well-formed, and never the evaluation data itself."""
    from .datasets_io import LOCAL_FORMATS

    split, files = data.get("train_split"), data.get("train_data_files")
    if split is not None and files is not None:
        raise BenchmarkError(f"{where}: give 'train_split' or 'train_data_files', not both")
    if isinstance(files, list) and not (files and all(isinstance(f, str) for f in files)):
        raise BenchmarkError(f"{where}: key 'train_data_files' must be a file or a non-empty list of files")
    local = ds["path"] in LOCAL_FORMATS
    if files is not None and not local:
        raise BenchmarkError(f"{where}: key 'train_data_files' is for a local dataset; a hub dataset names "
                             f"its 'train_split'")
    if split is not None and local and not isinstance(ds.get("data_files"), dict):
        raise BenchmarkError(f"{where}: key 'train_split' of a local dataset must be a key of "
                             f"'dataset.data_files' (a mapping split -> files); or give 'train_data_files'")
    if split is not None and local and split not in ds["data_files"]:
        raise BenchmarkError(f"{where}: key 'train_split': {split!r} is not in 'dataset.data_files' "
                             f"(has: {', '.join(ds['data_files'])})")
    eval_split = ds.get("split") or ("test" if not local else None)
    if split is not None and split == eval_split:
        raise BenchmarkError(f"{where}: key 'train_split': {split!r} is the split the benchmark scores; "
                             f"training on it would inflate the score")
    if files is not None:
        evaluated = ds.get("data_files")
        if isinstance(evaluated, dict):
            evaluated = evaluated.get(ds.get("split"))
        as_list = lambda f: sorted([f] if isinstance(f, str) else list(f or []))  # noqa: E731
        if as_list(files) == as_list(evaluated):
            raise BenchmarkError(f"{where}: key 'train_data_files' names the files the benchmark scores; "
                                 f"training on them would inflate the score")


def definition_hash(definition: dict) -> str:
    """sha256 (first 16 hex) of the canonical JSON of the definition, the description and the training
    data (``NOT_HASHED``) excluded: they do not change what is scored."""
    body = {k: v for k, v in definition.items() if k not in NOT_HASHED}
    if body.get("corpus") is None:  # closed-book benchmarks keep the hash they had before the key existed
        body.pop("corpus", None)
    return json_hash(body, 16)


@dataclass(kw_only=True)
class Benchmark:
    """One benchmark definition, typed: the fields are the YAML keys (``TOP`` is read from them), checked
    and normalised by :func:`validate_definition`; build one with :meth:`from_mapping` (or :func:`load_file`)."""

    name: str = _yaml(str)  # not required in the file: its stem is the default
    task: str = _yaml(str, required=True)
    version: int | str = _yaml(int, str, required=True)
    description: str = _yaml(str, default="")
    dataset: DatasetRef = _yaml(dict, required=True)
    columns: dict[str, str] = _yaml(dict, required=True)  # task input field -> column path
    references: str = _yaml(str, required=True)  # column path of the reference
    label_names: list[str] | None = _yaml(list, default=None)
    label_map: dict[str, str] | None = _yaml(dict, default=None)
    metrics: list[str] = _yaml(list, required=True)
    metric_options: dict[str, dict] = _yaml(dict, default_factory=dict)
    primary_metric: str = _yaml(str, required=True)
    generation: dict[str, Any] = _yaml(dict, default_factory=dict)
    task_options: dict[str, Any] = _yaml(dict, default_factory=dict)
    prefix: str | None = _yaml(str, default=None)
    limit: int | None = _yaml(int, default=None)
    # the data a model may be trained on (``finetune --train BENCHMARK``): another split of the same hub
    # dataset or ``data_files`` key, or other local files; never the data above (refused)
    train_split: str | None = _yaml(str, default=None)
    train_data_files: str | list[str] | None = _yaml(str, list, default=None)
    # open-domain QA: the documents answers are retrieved from (``CORPUS``; indexed once, cached)
    corpus: dict[str, Any] | None = _yaml(dict, default=None)
    source: str = "<memory>"  # the YAML file it came from (not part of the definition)
    hash: str = field(init=False)  # of the definition, description excluded

    def __post_init__(self):
        self.hash = definition_hash(self.definition)

    @classmethod
    def from_mapping(cls, data: Any, where: str, default_name: str | None = None) -> "Benchmark":
        """Validate a parsed YAML mapping (unknown keys and wrong types name ``where`` and the key)."""
        return cls(**validate_definition(data, where, default_name), source=where)

    @property
    def definition(self) -> dict:
        """The normalised definition as a mapping (what is hashed, and what ``benchmarks --json`` shows)."""
        return {key: self.dataset.to_dict() if key == "dataset" else copy.deepcopy(getattr(self, key)) for key in TOP}

    def data_source(self) -> str:
        ds = self.dataset
        if ds["path"] in ("json", "csv", "parquet"):
            files = ds["data_files"]
            if isinstance(files, dict):
                files = files.get(ds["split"])
            files = [files] if isinstance(files, str) else list(files or [])
            return f"{ds['path']}: {', '.join(files)}"
        return f"hub: {ds['path']}" + (f" {ds['name']}" if ds["name"] else "") + f" [{ds['split'] or 'test'}]"

    def evaluation_split(self) -> str:
        """How the data that is scored is named in messages: its split, else its files."""
        ds = self.dataset
        if ds["split"]:
            return f"split {ds['split']!r}"
        if ds["path"] in ("json", "csv", "parquet"):
            return self.data_source().split(": ", 1)[1]
        return "split 'test'"

    def training_dataset(self) -> dict | None:
        """The ``dataset`` section of the data to train on (``train_split``/``train_data_files``), or
        None when the definition names none. Never the evaluated data (checked when it is loaded)."""
        if self.train_split is None and self.train_data_files is None:
            return None
        ds = self.dataset.to_dict()
        if self.train_data_files is not None:
            ds.update(data_files=self.train_data_files, split=None)
        else:
            ds["split"] = self.train_split
        return ds

    def training_split(self) -> str | None:
        """How the training data is named in messages (``split 'train'`` / its files), or None."""
        if self.train_split is not None:
            return f"split {self.train_split!r}"
        if self.train_data_files is not None:
            files = self.train_data_files
            return ", ".join([files] if isinstance(files, str) else files)
        return None

    def options_for_task(self) -> dict:
        """Options passed to the task: task_options, generation settings and prefix."""
        opts = {**self.task_options, **self.generation}
        if self.prefix is not None:
            opts["prefix"] = self.prefix
        return opts

    def check(self, task_cls=None) -> None:
        """Checks that need the task and metric registries (run before any data or model work)."""
        from ..registry import METRICS, TASKS

        where = self.source
        try:
            task_cls = task_cls or TASKS.get(self.task)
        except UnknownNameError as exc:
            raise BenchmarkError(f"{where}: key 'task': {exc}") from None
        known = {o.dest for o in task_cls.options}
        from ..tasks.base import option_type_problem

        for section in ("task_options", "generation"):
            for key in getattr(self, section):
                if key not in known:
                    raise BenchmarkError(f"{where}: key '{section}.{key}' is not an option of task "
                                         f"{task_cls.name!r} (its options: {', '.join(sorted(known)) or 'none'})")
                option = next(o for o in task_cls.options if o.dest == key)
                problem = option_type_problem(option, getattr(self, section)[key])
                if problem:
                    raise BenchmarkError(f"{where}: key '{section}.{key}' {problem}")
        if self.prefix is not None and "prefix" not in known:
            raise BenchmarkError(f"{where}: key 'prefix': task {task_cls.name!r} takes no prefix")
        for field_name in self.columns:
            if field_name not in task_cls.input_fields:
                raise BenchmarkError(f"{where}: key 'columns.{field_name}': {field_name!r} is not an input field "
                                     f"of task {task_cls.name!r} (its fields: {', '.join(task_cls.input_fields)})")
        options = {**self.options_for_task(), **({"index": "<corpus>"} if self.corpus else {})}
        missing = [f for f in task_cls.required_fields(options) if f not in self.columns]
        if missing:
            raise BenchmarkError(f"{where}: key 'columns' does not map the task's input field(s) "
                                 f"{', '.join(missing)}")
        for m in self.metrics:
            if m not in METRICS:
                raise BenchmarkError(f"{where}: key 'metrics': unknown metric {m!r}; known metrics: "
                                     f"{', '.join(METRICS.names())}")
        produced = set(self.metric_value_names())
        if produced and self.primary_metric not in produced:
            raise BenchmarkError(f"{where}: key 'primary_metric': {self.primary_metric!r} is not produced by "
                                 f"the metrics (they produce: {', '.join(sorted(produced))})")

    def metric_value_names(self) -> list[str]:
        """Value names the metrics produce (:func:`nlptasks.registry.metric_info`; empty if unknown)."""
        from ..registry import metric_info

        names = []
        for m in self.metrics:
            produces = metric_info(m).get("produces")
            if not produces:
                return []  # a third-party metric without ``info``: its values are known only after computing
            names.extend(produces)
        return names

    def summary(self) -> dict:
        return {"name": self.name, "task": self.task, "version": self.version, "hash": self.hash,
                "data": self.data_source(), "primary_metric": self.primary_metric,
                "metrics": list(self.metrics), "description": self.description, "file": self.source}


TOP = _schema(Benchmark)  # the YAML keys of a definition: key -> (accepted types, required)


# -- loading --------------------------------------------------------------------------------------
def load_file(path: str | os.PathLike) -> Benchmark:
    import yaml

    from ..errors import InputError
    from ..io import read_file_capped
    from ..yamlsafe import MAX_BYTES, load_yaml

    p = Path(path)
    where = str(p)
    if not p.exists():
        raise BenchmarkError(f"{where}: no such benchmark file")
    try:  # bounded: /dev/zero or an endless pipe named as a definition is refused, not read forever
        text = read_file_capped(p, MAX_BYTES, where).decode("utf-8")
    except InputError as exc:
        raise BenchmarkError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{where}: cannot be read ({exc})") from None
    try:
        data = load_yaml(text, where, BenchmarkError)  # aliases and size bounded (an alias bomb is refused)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise BenchmarkError(f"{where}: invalid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    return Benchmark.from_mapping(data, where, default_name=p.stem)


def search_dirs() -> list[Path]:
    dirs = [Path(d).expanduser() for d in os.environ.get(PATH_ENV, "").split(os.pathsep) if d.strip()]
    return dirs + [BUILTIN_DIR]


BROKEN: dict[str, BenchmarkError] = {}


def _load_builtin_benchmarks() -> None:
    BROKEN.clear()
    seen: dict[str, str] = {}
    for d in search_dirs():
        if not d.is_dir():
            continue
        for f in sorted(list(d.rglob("*.yaml")) + list(d.rglob("*.yml"))):
            try:
                b = load_file(f)
            except BenchmarkError as exc:
                BROKEN.setdefault(f.stem.lower(), exc)
                continue
            except Exception as exc:  # one broken definition never blocks the others
                first = (str(exc).strip().splitlines() or [""])[0]
                BROKEN.setdefault(f.stem.lower(), BenchmarkError(f"{f}: cannot be loaded ({type(exc).__name__}: "
                                                                 f"{first[:200]})"))
                continue
            key = b.name.lower()
            if key in seen:
                log.debug("benchmark %s in %s is shadowed by %s", b.name, f, seen[key])
                continue
            seen[key] = str(f)
            BENCHMARKS.register(b.name, b)


# definitions are read again when $NLPTASKS_BENCHMARKS_PATH changes
BENCHMARKS: Registry[Benchmark] = Registry("benchmark", None, _load_builtin_benchmarks,
                                           source_key=lambda: os.environ.get(PATH_ENV, ""))


def get_benchmark(name_or_path: str) -> Benchmark:
    """A benchmark by name, or from a YAML file path."""
    if name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path or Path(name_or_path).is_file():
        return load_file(name_or_path)
    if name_or_path.lower() not in BENCHMARKS and name_or_path.lower() in BROKEN:
        raise BROKEN[name_or_path.lower()]
    return BENCHMARKS.get(name_or_path)


# -- ad-hoc benchmarks from a data file -----------------------------------------------------------
def adhoc_benchmark(task: str, data: str, *, columns: dict | None = None, reference_field: str | None = None,
                    source_lang: str | None = None, target_lang: str | None = None,
                    label_names: list[str] | None = None) -> Benchmark:
    """A benchmark for ``nlptasks eval TASK --data FILE`` (the task's defaults, shared-data schema)."""
    from ..registry import METRICS, TASKS

    cls = TASKS.get(task)
    src, tgt = source_lang or "en", target_lang or "de"
    cols = {f: cls.data_columns.get(f, f).format(src=src, tgt=tgt) for f in cls.input_fields}
    cols.update(columns or {})
    fmt = format_of(data)
    if fmt is None:
        ext = Path(data).suffix.lower().lstrip(".")
        raise NlpTasksError(f"--data {data}: unsupported file type {ext or '(none)'!r}; use .jsonl, .json, "
                            f".csv, .tsv or .parquet")
    metrics = [m for m in cls.metrics if m in METRICS] or list(cls.metrics)
    # the language pair goes to a task that takes one (its --source-lang/--target-lang options: translate)
    known = {o.dest for o in cls.options}
    options = {k: v for k, v in (("source_lang", src), ("target_lang", tgt)) if k in known}
    definition = {
        "name": f"{cls.name}-{Path(data).stem}", "task": cls.name, "version": "adhoc",
        "dataset": {"path": fmt, "data_files": str(Path(data).expanduser().resolve())},
        "columns": cols,
        "references": reference_field or cls.reference_column.format(src=src, tgt=tgt),
        "metrics": metrics, "primary_metric": cls.primary_metric,
        "task_options": options,
    }
    if label_names or cls.label_names:
        definition["label_names"] = list(label_names or cls.label_names)
    b = Benchmark.from_mapping(definition, f"--data {data}")
    b.hash = _adhoc_hash(b)
    # a classification task without given label names scores the model's labels (evaluation/adhoc_labels.py)
    b.model_label_space = bool(cls.label_names) and not label_names
    return b


def _adhoc_hash(b: Benchmark) -> str:
    """The hash must not depend on where the file lives: its content is fingerprinted separately."""
    hashed = json.loads(json.dumps(b.definition))
    hashed["dataset"]["data_files"] = Path(str(hashed["dataset"]["data_files"])).name
    return definition_hash(hashed)


def relabelled_adhoc(b: Benchmark, label_names: list[str], primary_metric: str) -> Benchmark:
    """An ad-hoc benchmark with its label names (and primary metric) settled, hashed as :func:`adhoc_benchmark`."""
    import dataclasses

    out = dataclasses.replace(b, label_names=list(label_names), primary_metric=primary_metric)
    out.hash = _adhoc_hash(out)
    return out

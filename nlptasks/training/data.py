"""Training data: local JSONL/CSV/parquet files, hub datasets, or benchmark names -> plain records.

``load_records(spec, split)`` returns a list of dicts in the shared-data schema of the task
(see ``../shared/data/README.md``), each with ``__line__`` (1-based row number, for error messages),
plus a short description of where the rows came from and a fingerprint of their content. Files and hub
datasets are read by :mod:`nlptasks.datafiles`, the reader ``nlptasks eval`` uses.

A spec is, in this order of precedence:
  * a local file: ``.jsonl``/``.ndjson``/``.json`` (JSON Lines or a JSON array), ``.csv``/``.tsv``,
    ``.parquet``;
  * a benchmark name (``nlptasks benchmarks`` lists them): for ``--train``, the training data its
    definition names (``train_split`` / ``train_data_files``); for ``--validation``, the data it scores;
  * a hub dataset: ``NAME[:CONFIG][@SPLIT]`` (``datasets.load_dataset``; honours ``HF_HUB_OFFLINE``).

Never training on what is scored: ``--train`` with a benchmark that names no training data, or with a
file or hub split that is a benchmark's evaluation data, is refused with one line naming the data to
train on instead (docs/guide/training-data.md). Each dataset also carries ``source_fingerprint``, the
fingerprint of all its rows as read (before ``--limit`` and column mapping): the evaluation engine
computes the same fingerprint of a benchmark's data, and a result whose model was trained on it is
marked and never ranked (``nlptasks.leaderboard.ranking``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..datafiles import ROW_KEY, DatasetLoadError, format_of, load_hub, read_file
from ..errors import InputError
from ..hashing import records_fingerprint as fingerprint


@dataclass
class Dataset:
    records: list[dict]
    source: str            # what the user gave
    kind: str              # "file", "hub" or "benchmark"
    fingerprint: str       # sha256 of the canonical JSON of the records (first 16 hex chars)
    source_fingerprint: str | None = None  # of all rows as read (before --limit and column mapping)

    def __len__(self) -> int:
        return len(self.records)

    def describe(self) -> dict:
        out = {"source": self.source, "kind": self.kind, "rows": len(self.records),
               "fingerprint": self.fingerprint}
        if self.source_fingerprint is not None:
            out["source_fingerprint"] = self.source_fingerprint
        return out


def load_records(spec: str, split: str = "train", limit: int | None = None, name: str = "data") -> Dataset:
    """Load ``spec`` (file, benchmark name or hub dataset) as records; ``limit`` keeps the first N rows.
    ``split="train"`` reads a benchmark's training data and refuses evaluation data (module docstring)."""
    if not spec:
        raise InputError(f"--{name}: no data given")
    training = split == "train"
    path = Path(spec)
    if path.exists() or format_of(path):
        if training:
            _refuse_evaluation_file(path, name)
        records, kind = read_file(path, label=f"--{name} {path}"), "file"
        source_fp = fingerprint(records)
    elif _benchmark_exists(spec):
        records, source_fp = _read_benchmark(spec, split, name)
        kind = "benchmark"
    else:
        if training:
            _refuse_evaluation_split(spec, name)
        records, kind = _read_hub(spec, split, name), "hub"
        source_fp = fingerprint(records)
    if limit is not None:
        records = records[:limit]
    if not records:
        raise InputError(f"--{name} {spec}: the dataset is empty (no rows)")
    return Dataset(records, spec, kind, fingerprint(records), source_fp)


# -- benchmarks and hub datasets -------------------------------------------------------------------
def _benchmark_exists(spec: str) -> bool:
    from ..evaluation.definitions import BENCHMARKS

    try:
        return spec in BENCHMARKS
    except Exception:  # a broken definitions folder must not break file/hub loading
        return False


def _read_benchmark(spec: str, split: str, name: str = "data") -> tuple[list[dict], str]:
    """A benchmark's rows, its columns mapped onto the task's input fields and its reference onto the
    training fields that the task's training spec names (``reference_fields``), and the fingerprint of
    the rows as read. ``split="train"``: the training data the definition names (refused when it names
    none); any other split: the data the benchmark scores."""
    from ..evaluation.definitions import get_benchmark
    from ..evaluation.datasets_io import get_path, load_rows
    from .families import training_spec

    bench = get_benchmark(spec)
    dataset = bench.dataset
    if split == "train":
        dataset = bench.training_dataset()
        if dataset is None:
            raise InputError(f"--{name} {spec}: benchmark {bench.name} names no training data, and its own data "
                             f"({bench.evaluation_split()}) is what `nlptasks eval {bench.name}` scores; train on "
                             f"another file, or add train_split/train_data_files to {bench.source}")
    task = training_spec(bench.task)
    rows, _ = load_rows(dataset, None, f"--{name} {spec} (benchmark {bench.name})")
    cols, ref = bench.columns, bench.references
    names = bench.label_names
    out = []
    for i, row in enumerate(rows, 1):
        rec = {field: get_path(row, path) for field, path in cols.items()}
        rec.update(task.reference_fields(get_path(row, ref), path=ref, label_names=names,
                                         lookup=lambda path, row=row: get_path(row, path)))
        rec[ROW_KEY] = i
        out.append(rec)
    return out, fingerprint(rows)


# -- never train on what a benchmark scores --------------------------------------------------------
def _benchmarks() -> list:
    from ..evaluation.definitions import BENCHMARKS

    try:
        return [BENCHMARKS.get(n) for n in BENCHMARKS.names()]
    except Exception:  # a broken definitions folder must not break file/hub loading
        return []


def _instead(bench) -> str:
    split = bench.training_split()
    return (f"train on its training data instead: --train {bench.name} ({split})" if split
            else "it names no training data; train on another file")


def _refuse_evaluation_file(path: Path, name: str) -> None:
    """``--train FILE`` where FILE is the evaluation data of a local benchmark: refused."""
    from ..evaluation.datasets_io import LOCAL_FORMATS, resolve_data_dir

    try:
        target = path.expanduser().resolve()
    except OSError:
        return
    data_dir = resolve_data_dir(None)
    for bench in _benchmarks():
        ds = bench.dataset
        if ds["path"] not in LOCAL_FORMATS:
            continue
        files = ds["data_files"]
        if isinstance(files, dict):
            files = files.get(ds["split"])
        for f in [files] if isinstance(files, str) else list(files or []):
            p = Path(f).expanduser()
            p = p if p.is_absolute() else data_dir / p
            try:
                same = p.exists() and p.resolve() == target
            except OSError:
                same = False
            if same:
                raise InputError(f"--{name} {path}: this is the evaluation data of benchmark {bench.name} "
                                 f"({bench.evaluation_split()}); {_instead(bench)}")


def _refuse_evaluation_split(spec: str, name: str) -> None:
    """``--train NAME[:CONFIG]@SPLIT`` where that split is what a hub benchmark scores: refused."""
    dataset, _, split = spec.partition("@")
    dataset, _, config = dataset.partition(":")
    split = split or "train"
    for bench in _benchmarks():
        ds = bench.dataset
        if ds["path"] == dataset and (ds["name"] or "") == (config or (ds["name"] or "")) \
                and (ds["split"] or "test") == split:
            raise InputError(f"--{name} {spec}: split {split!r} is the evaluation data of benchmark {bench.name}; "
                             f"{_instead(bench)}")


def _read_hub(spec: str, split: str, name: str) -> list[dict]:
    """``NAME[:CONFIG][@SPLIT]`` from the hub."""
    dataset, _, hub_split = spec.partition("@")
    dataset, _, config = dataset.partition(":")
    try:
        rows, _ = load_hub(dataset, name=config or None, split=hub_split or split, label=f"--{name} {spec}")
    except DatasetLoadError as exc:
        raise InputError(f"--{name} {spec}: not a local file, benchmark or loadable hub dataset ({exc.reason})"
                         ) from exc
    return [{**r, ROW_KEY: i} for i, r in enumerate(rows, 1)]


def load_data(s) -> tuple[Dataset, Dataset | None]:
    """The training and validation data of a run (``FinetuneSettings``)."""
    train = load_records(s.train, "train", s.limit_train, name="train")
    val = load_records(s.validation, "validation", s.limit_validation, name="validation") if s.validation else None
    return train, val

"""Training data: local JSONL/CSV/parquet files, hub datasets, or benchmark names -> plain records.

``load_records(spec, split)`` returns a list of dicts in the shared-data schema of the task
(see ``../shared/data/README.md``), each with ``__line__`` (1-based row number, for error messages),
plus a short description of where the rows came from and a fingerprint of their content. Files and hub
datasets are read by :mod:`nlptasks.datafiles`, the reader ``nlptasks eval`` uses.

A spec is, in this order of precedence:
  * a local file: ``.jsonl``/``.ndjson``/``.json`` (JSON Lines or a JSON array), ``.csv``/``.tsv``,
    ``.parquet``;
  * a benchmark name (``nlptasks benchmarks`` lists them);
  * a hub dataset: ``NAME[:CONFIG][@SPLIT]`` (``datasets.load_dataset``; honours ``HF_HUB_OFFLINE``).
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

    def __len__(self) -> int:
        return len(self.records)

    def describe(self) -> dict:
        return {"source": self.source, "kind": self.kind, "rows": len(self.records),
                "fingerprint": self.fingerprint}


def load_records(spec: str, split: str = "train", limit: int | None = None, name: str = "data") -> Dataset:
    """Load ``spec`` (file, benchmark name or hub dataset) as records; ``limit`` keeps the first N rows."""
    if not spec:
        raise InputError(f"--{name}: no data given")
    path = Path(spec)
    if path.exists() or format_of(path):
        records, kind = read_file(path, label=f"--{name} {path}"), "file"
    elif _benchmark_exists(spec):
        records, kind = _read_benchmark(spec, split), "benchmark"
    else:
        records, kind = _read_hub(spec, split, name), "hub"
    if limit is not None:
        records = records[:limit]
    if not records:
        raise InputError(f"--{name} {spec}: the dataset is empty (no rows)")
    return Dataset(records, spec, kind, fingerprint(records))


# -- benchmarks and hub datasets -------------------------------------------------------------------
def _benchmark_exists(spec: str) -> bool:
    from ..evaluation.definitions import BENCHMARKS

    try:
        return spec in BENCHMARKS
    except Exception:  # a broken definitions folder must not break file/hub loading
        return False


def _read_benchmark(spec: str, split: str) -> list[dict]:
    """A benchmark's rows (its own dataset and split): its columns mapped onto the task's input fields, its
    reference onto the training fields that the task's training spec names (``reference_fields``)."""
    from ..evaluation.definitions import get_benchmark
    from ..evaluation.datasets_io import get_path, load_rows
    from .spec import training_spec

    bench = get_benchmark(spec)
    task = training_spec(bench.task)
    rows, _ = load_rows(bench.dataset, None, f"benchmark {bench.name}")
    cols, ref = bench.columns, bench.references
    names = bench.label_names
    out = []
    for i, row in enumerate(rows, 1):
        rec = {field: get_path(row, path) for field, path in cols.items()}
        rec.update(task.reference_fields(get_path(row, ref), path=ref, label_names=names,
                                         lookup=lambda path, row=row: get_path(row, path)))
        rec[ROW_KEY] = i
        out.append(rec)
    return out


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

"""Training data: local JSONL/CSV/parquet files, hub datasets, or benchmark names -> plain records.

``load_records(spec, task, split)`` returns a list of dicts in the shared-data schema of the task
(see ``../shared/data/README.md``), each with ``__row__`` (1-based row number, for error messages),
plus a short description of where the rows came from and a fingerprint of their content.

A spec is, in this order of precedence:
  * a local file: ``.jsonl``/``.ndjson``/``.json`` (JSON Lines), ``.csv``/``.tsv``, ``.parquet``;
  * a benchmark name (``nlptasks benchmarks`` lists them);
  * a hub dataset: ``NAME[:CONFIG][@SPLIT]`` (``datasets.load_dataset``; honours ``HF_HUB_OFFLINE``).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

LOCAL_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv",
                  ".parquet": "parquet"}


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


def fingerprint(records: list[dict]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps({k: v for k, v in r.items() if not k.startswith("__")}, sort_keys=True,
                            ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def load_records(spec: str, split: str = "train", limit: int | None = None, name: str = "data") -> Dataset:
    """Load ``spec`` (file, benchmark name or hub dataset) as records; ``limit`` keeps the first N rows."""
    if not spec:
        raise InputError(f"--{name}: no data given")
    path = Path(spec)
    if path.exists() or path.suffix.lower() in LOCAL_SUFFIXES:
        records, kind = _read_local(path, name), "file"
    elif _benchmark_exists(spec):
        records, kind = _read_benchmark(spec, split), "benchmark"
    else:
        records, kind = _read_hub(spec, split, name), "hub"
    if limit is not None:
        records = records[:limit]
    if not records:
        raise InputError(f"--{name} {spec}: the dataset is empty (no rows)")
    return Dataset(records, spec, kind, fingerprint(records))


# -- local files -----------------------------------------------------------------------------------
def _read_local(path: Path, name: str) -> list[dict]:
    if not path.exists():
        raise InputError(f"--{name} {path}: no such file")
    if path.is_dir():
        raise InputError(f"--{name} {path}: is a directory; give a .jsonl, .csv or .parquet file")
    fmt = LOCAL_SUFFIXES.get(path.suffix.lower(), "jsonl")
    if fmt == "parquet":
        return _read_parquet(path, name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--{name} {path}: cannot be read ({exc.strerror or exc})") from exc
    from ..io import decode_text

    try:
        text = decode_text(data, str(path))
    except InputError as exc:
        if "empty" in str(exc):
            raise InputError(f"--{name} {path}: the dataset is empty (no rows)") from exc
        raise
    if fmt in ("csv", "tsv"):
        return _parse_csv(text, path, "\t" if fmt == "tsv" else ",")
    from ..io import parse_jsonl

    return parse_jsonl(text, str(path), line_key="__row__", require=False)


def _parse_csv(text: str, path: Path, delimiter: str) -> list[dict]:
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    records = []
    for i, row in enumerate(reader, 2):  # row 1 is the header
        rec = {}
        for k, v in row.items():
            if k is None:
                raise InputError(f"{path}: row {i}: more values than header columns")
            # nested fields (QA answers, translation pairs, chat history) are stored as JSON text
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    v = json.loads(v)
                except json.JSONDecodeError:
                    pass
            rec[k] = v
        rec["__row__"] = i
        records.append(rec)
    return records


def _read_parquet(path: Path, name: str) -> list[dict]:
    import pyarrow.parquet as pq  # a dependency of datasets

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:
        raise InputError(f"--{name} {path}: not a readable parquet file ({str(exc).splitlines()[0]})") from exc
    for i, r in enumerate(rows, 1):
        r["__row__"] = i
    return rows


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
        rec["__row__"] = i
        out.append(rec)
    return out


def _read_hub(spec: str, split: str, name: str) -> list[dict]:
    dataset, _, hub_split = spec.partition("@")
    dataset, _, config = dataset.partition(":")
    hub_split = hub_split or split
    try:
        import datasets
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
        ds = datasets.load_dataset(dataset, config or None, split=hub_split)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"--{name} {spec}: not a local file, benchmark or loadable hub dataset ({msg})") from exc
    rows = ds.to_list()
    for i, r in enumerate(rows, 1):
        r["__row__"] = i
    return rows

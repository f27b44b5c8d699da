"""The Python API behind ``nlptasks results`` and the store checks of ``nlptasks leaderboard``: the
results store (SQLite by default, any SQLAlchemy URL), one function per action. ``store``: a path or
URL; ``None`` is ``$NLPTASKS_STORE`` or the user data dir. Actions that only read never create or
change a store (a missing one: :class:`nlptasks.errors.NlpTasksError` "no such store").

>>> records, where = list_results(task="sentiment")   # doctest: +SKIP
>>> print("\\n".join(result_line(r) for r in records))  # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from .evaluation.store import ResultStore


def open_results(store: str | os.PathLike | None = None, *, readonly: bool = False,
                 must_exist: bool = False) -> "ResultStore":
    """The results store ``store`` (a :class:`nlptasks.evaluation.store.ResultStore`, a context manager);
    ``readonly``: create and change nothing; ``must_exist``: a missing SQLite file is an error."""
    from .evaluation.store import ResultStore

    return ResultStore(store, readonly=readonly, must_exist=must_exist)


def list_results(store: str | os.PathLike | None = None, *, task: str | None = None,
                 benchmark: str | None = None, model: str | None = None) -> tuple[list[dict], str]:
    """``(records, location)``: the stored records matching every given filter (exact task, benchmark
    name, model name), oldest first, and the store's location as messages show it (password masked)."""
    with open_results(store, readonly=True) as s:
        return s.query(task=task, benchmark=benchmark, model=model), s.location


def result_line(record: dict) -> str:
    """One tab-separated line for a stored record, as ``nlptasks results list`` prints it: run id,
    created at, task, benchmark@version, model, variant, primary metric=score, energy in Wh."""
    from .evaluation.records import primary_score, variant_name

    b = record.get("benchmark") or {}
    score = primary_score(record)
    kwh = (record.get("cost") or {}).get("energy_kwh")
    return "\t".join([str(record["run_id"]), str(record.get("created_at") or "-"), str(record["task"]),
                      f"{b.get('name')}@{b.get('version')}", record["model"]["name"], variant_name(record),
                      f"{record.get('primary_metric')}={score:.4g}" if score is not None else "-",
                      f"{kwh * 1000:.3g} Wh" if kwh is not None else "-"])


def get_result(run_id: str, store: str | os.PathLike | None = None) -> dict:
    """The stored record with ``run_id``; none: :class:`nlptasks.errors.UnknownNameError`."""
    from .errors import UnknownNameError

    with open_results(store, readonly=True) as s:
        record = s.get(run_id)
    if record is None:
        raise UnknownNameError(f"no result with run id {run_id!r} (see `nlptasks results list`)")
    return record


def import_results(path: str | os.PathLike, store: str | os.PathLike | None = None, *,
                   replace: bool = False) -> tuple[int, str]:
    """Add the records of the file ``path`` (a JSON list, one record, or JSON Lines), all or nothing:
    every record is validated before the store is opened or created, and a run id already stored with
    different content is refused unless ``replace``. Returns ``(records imported, store location)``."""
    from .evaluation.store import read_import

    batch = read_import(path)
    with open_results(store) as s:
        n = s.import_(batch, replace=replace)
    return n, s.location


def check_output_beside_store(output: str | os.PathLike | None, store: str | os.PathLike | None = None) -> None:
    """Refuse (one line) an output file that would overwrite the results store ``store`` (its database
    or journal files) or is otherwise unwritable; ``None`` (stdout) is checked too."""
    from .evaluation.store import store_inputs
    from .paths import check_output_file

    check_output_file(output, inputs=store_inputs(store))


def export_results(output: str | os.PathLike | IO[str], store: str | os.PathLike | None = None) -> int:
    """Write every stored record as one JSON list to ``output`` (a path, written atomically, or an open
    text file); returns how many."""
    with open_results(store, readonly=True) as s:
        return s.export(output)


def export_model_index(model: str, store: str | os.PathLike | None = None, *, benchmark: str | None = None,
                       name: str | None = None) -> tuple[str, int]:
    """``(YAML, results)``: the stored results of ``model`` as the ``model-index:`` block of a Hugging
    Face model card (one per benchmark, or only ``benchmark``); ``name``: the model's name there
    (default ``model``). No result: :class:`nlptasks.errors.UnknownNameError` naming the stored models."""
    from .evaluation.model_index import export_model_index as _export

    with open_results(store, readonly=True) as s:
        return _export(s, model, benchmark=benchmark, name=name)


def delete_result(run_id: str, store: str | os.PathLike | None = None) -> None:
    """Remove the stored record with ``run_id``; none (or no store): an error."""
    from .errors import UnknownNameError

    with open_results(store, must_exist=True) as s:
        found = s.delete(run_id)
    if not found:
        raise UnknownNameError(f"no result with run id {run_id!r}")

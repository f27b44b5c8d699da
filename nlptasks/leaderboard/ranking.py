"""Turn stored result records into ranked leaderboard sections.

A section holds the results of exactly one benchmark definition (name, version, definition hash) on
exactly one set of examples (data fingerprint and example count ``n``, both written by
``evaluate``): results on different versions, definitions or data are never ranked together.

A *partial* run scored fewer examples than the benchmark has (``--limit``, or a suite's ``limit``):
its record says so (``data.n < data.full_n``); for older records without ``full_n`` a run counts as
partial when another result of the same definition scored more examples. Partial runs get sections
of their own, marked partial, and ``build_sections`` leaves them out unless ``include_partial``.

Within a section the latest result per (model, variant) is kept, rows are ranked by the chosen
metric in its own direction (ties share a rank), and cost columns are normalised per 1,000
examples. The Pareto front is computed over quality against energy (or latency) per example.

A result whose model was trained on the data it was scored on (``data.trained_on_eval_data``, set by
``evaluate`` when the model's ``training_result.json`` holds the benchmark data's fingerprint; see
``nlptasks.evaluation.contamination``) is never ranked, in no section; a note counts such results.

Every function here ranks typed records (``nlptasks.evaluation.result.ResultRecord``); a dict given
instead is checked and typed first (``ResultRecord.from_dict``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from ..energy.contention import SHARED_MACHINE_SHARE
from ..errors import NlpTasksError
from ..evaluation.result import ResultRecord
from .pareto import pareto_front

FRONTIER_X = {"energy": "energy_wh_per_1k", "latency": "latency_p50_s"}


@dataclass
class Section:
    benchmark: str
    version: Any
    hash: str | None
    task: str | None
    metric: str
    higher_is_better: bool
    frontier_x: str
    rows: list[dict] = field(default_factory=list)
    data: str | None = None  # fingerprint of the examples scored
    n: int | None = None  # examples scored
    full_n: int | None = None  # examples in a full run, when known
    partial: bool = False

    @property
    def title(self) -> str:
        parts = [f"version {self.version}"]
        if self.hash:
            parts.append(f"definition {self.hash[:12]}")
        if self.data:
            parts.append(f"data {self.data[:12]}")
        if self.n is not None:
            parts.append(f"n={self.n}")
        text = f"{self.benchmark} ({', '.join(parts)})"
        if self.partial:
            of = f" of {self.full_n}" if self.full_n else ""
            text += f" [PARTIAL: {self.n}{of} examples, not comparable with full runs]"
        return text

    def to_dict(self) -> dict:
        return {"benchmark": {"name": self.benchmark, "version": self.version, "hash": self.hash},
                "data": {"fingerprint": self.data, "n": self.n, "full_n": self.full_n},
                "partial": self.partial, "task": self.task, "metric": self.metric,
                "higher_is_better": self.higher_is_better, "frontier_x": self.frontier_x, "rows": self.rows}


def typed(records: Iterable["ResultRecord | dict"]) -> list[ResultRecord]:
    """The records as ``ResultRecord`` (a dict is checked: ``InputError`` naming the first problem)."""
    return [ResultRecord.coerce(r, f"result record {i}") for i, r in enumerate(records)]


def _sort_time(r: ResultRecord) -> tuple:
    """Order by creation time; a record with no parseable date sorts before all dated ones."""
    text = str(r.created_at or "")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (0, 0.0, text)
    if dt.tzinfo is None:
        dt = dt.astimezone()  # naive: local time
    return (1, dt.timestamp(), text)


def _latest(records: Iterable[ResultRecord]) -> dict:
    """Newest record per (model, variant); a record with no parseable date counts as oldest."""
    best: dict[tuple, ResultRecord] = {}
    for r in records:
        key = (r.model.name, r.variant_name)
        if key not in best or _sort_time(r) >= _sort_time(best[key]):
            best[key] = r
    return best


def _score(record: ResultRecord, metric: str | None) -> float | None:
    """A record's score for a metric (None when it has no such metric)."""
    return record.metric_score(metric)


def cost_columns(record: "ResultRecord | dict") -> dict:
    """Cost per *benchmark example* (``record["n"]``). The backend counts model items, which can differ
    from examples (an extractive summary embeds every sentence of a document; QA runs several windows),
    so throughput and latency fall back to whole-run figures when the two counts differ."""
    if isinstance(record, ResultRecord):
        c, n = record.cost, record.n  # Cost.get reads a figure by name, as dict.get does
    else:  # a record's JSON object (or just its cost and n)
        c, n = record.get("cost") or {}, record.get("n")
    n = n or c.get("items") or 0
    kwh, co2 = c.get("energy_kwh"), c.get("co2e_g")
    same_unit = c.get("items") == n
    eps = c.get("examples_per_s") or (c.get("items_per_s") if same_unit else None)
    latency = c.get("latency_p50_s") if same_unit else (1.0 / eps if eps else None)
    return {
        "params": c.get("parameters"),
        "size_bytes": c.get("size_bytes"),
        "examples_per_s": eps,
        "energy_wh_per_1k": kwh * 1e6 / n if kwh is not None and n else None,
        "co2e_g_per_1k": co2 * 1000 / n if co2 is not None and n else None,
        "energy_is_estimate": bool(c.get("energy_is_estimate")),
        "energy_source": c.get("energy_source"),
        "latency_p50_s": latency,
        "device": c.get("device"),
        # time and energy shared with other processes (cost.other_cpu_share above the threshold): marked †
        "shared_machine": (c.get("other_cpu_share") or 0) > SHARED_MACHINE_SHARE,
    }


def row_for(record: ResultRecord, metric: str) -> dict:
    m = record.metrics.get(metric)
    ci = m.ci if m is not None else None
    return {"model": record.model.name, "variant": record.variant_name,
            "score": _score(record, metric), "ci": list(ci) if ci is not None else None, "n": record.n,
            **cost_columns(record), "run_id": record.run_id, "created_at": record.created_at}


def trained_on_eval_data(record: "ResultRecord | dict") -> bool:
    """Whether the record's model was trained on the data it was scored on (marked by ``evaluate``)."""
    return ResultRecord.coerce(record).trained_on_eval_data


def trained_on_eval_note(records: list, model: str | None = None) -> str | None:
    """One line saying how many results were not ranked because their model was trained on the
    evaluated data, or None."""
    hit = [r for r in typed(records) if r.trained_on_eval_data and (model is None or r.model.name == model)]
    if not hit:
        return None
    where = ", ".join(sorted({str(r.benchmark.name) for r in hit}))
    return (f"{len(hit)} result(s) ({where}) are not ranked: their model was trained on the data it was scored "
            f"on (see docs/guide/training-data.md).")


def definition_key(record: ResultRecord) -> tuple[str, str, str]:
    return record.benchmark.key


def _int(x) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def full_size(record: ResultRecord) -> int | None:
    """Examples in a full run of the record's benchmark, as the record states it (None if it does not)."""
    return _int(record.data.full_n)


def effective_full_sizes(records: list[ResultRecord]) -> list[int | None]:
    """For each record, the examples of a full run of its benchmark: ``data.full_n`` when the record
    has it, else the most examples any result of the same definition scored (older records)."""
    largest: dict[tuple, int] = {}
    for r in records:
        sizes = [x for x in (_int(r.n), full_size(r)) if x is not None]
        if sizes:
            key = definition_key(r)
            largest[key] = max(largest.get(key, 0), *sizes)
    return [full_size(r) if full_size(r) is not None else largest.get(definition_key(r)) for r in records]


def by_benchmark(records: list) -> list[tuple[tuple, list[ResultRecord]]]:
    """Records grouped by benchmark definition (name, version, hash) and data (fingerprint, n, partial),
    oldest first within a group: results on different definitions or different examples are never
    ranked together. Groups are ordered by definition, then full before partial, then most examples
    first. The key is ``(name, version, hash, fingerprint, n, partial, full_n)``."""
    records = typed(records)
    groups: dict[tuple, list[ResultRecord]] = {}
    fulls: dict[tuple, int | None] = {}
    for r, full in zip(records, effective_full_sizes(records)):
        if r.trained_on_eval_data:
            continue  # never ranked, in no section
        fp = r.data.fingerprint
        n = _int(r.n)
        partial = n is not None and full is not None and n < full
        key = (*definition_key(r), None if fp is None else str(fp), n, partial)
        groups.setdefault(key, []).append(r)
        if full is not None:
            fulls[key] = max(fulls.get(key) or 0, full)

    def order(key):
        name, version, bhash, fp, n, partial = key
        return (name, version, bhash, partial, -(n or 0), str(fp))
    return [((*key, fulls.get(key)), sorted(groups[key], key=_sort_time)) for key in sorted(groups, key=order)]


def section_for(key: tuple, recs: list[ResultRecord], metric: str, higher_is_better: bool,
                frontier_x: str) -> Section:
    """An empty section for the group ``key`` of ``by_benchmark``."""
    newest = recs[-1]
    b = newest.benchmark
    return Section(benchmark=b.name, version=b.version, hash=b.hash, task=newest.task,
                   metric=metric, higher_is_better=higher_is_better, frontier_x=frontier_x,
                   data=key[3], n=key[4], full_n=key[6], partial=key[5])


def build_sections(records: list, metric: str | None = None, frontier_x: str = "energy",
                   include_partial: bool = False) -> list[Section]:
    """Ranked sections of ``records`` (``ResultRecord``s, or dicts checked first); partial runs (see the
    module docstring) only with ``include_partial``, in sections of their own marked ``partial``."""
    if frontier_x not in FRONTIER_X:
        raise NlpTasksError(f"unknown frontier {frontier_x!r}; use one of: {', '.join(FRONTIER_X)}")
    records = typed(records)
    sections = []
    for key, recs in by_benchmark(records):
        if key[5] and not include_partial:
            continue
        newest = recs[-1]
        name = metric or newest.primary_metric
        if not name or all(_score(r, name) is None for r in recs):
            continue
        hib = newest.higher(name)
        if hib is None:
            hib = next((r.higher(name) for r in reversed(recs) if r.higher(name) is not None), True)
        sec = section_for(key, recs, name, bool(hib), frontier_x)
        # the newest *scored* result per model variant: a later record without this metric (or with a
        # score that is not a number) must not hide an earlier real result
        rows = [row_for(r, name) for r in _latest(r for r in recs if _score(r, name) is not None).values()]
        sec.rows = rank_rows(rows, sec.higher_is_better, frontier_x)
        for r in sec.rows:
            r["partial"] = sec.partial
        sections.append(sec)
    if records and not sections and metric:
        known = sorted({m for r in records for m in r.metrics})
        if metric not in known:
            raise NlpTasksError(f"no result has metric {metric!r}; available: {', '.join(known)}")
    return sections


def partial_summary(records: list, model: str | None = None) -> list[dict]:
    """The groups of partial runs (of ``model`` only, if given): what ``build_sections`` and
    ``compare_sections`` leave out without ``include_partial``."""
    out = []
    for key, recs in by_benchmark(records):  # all records: whether a run is partial depends on the others
        recs = [r for r in recs if model is None or r.model.name == model]
        if key[5] and recs:
            b = recs[-1].benchmark
            out.append({"benchmark": key[0], "version": b.version, "hash": b.hash, "data": key[3],
                        "n": key[4], "full_n": key[6], "results": len(_latest(recs))})
    return out


def partial_note(summary: list[dict]) -> str | None:
    """One line saying how many partial results were left out of the ranking, or None."""
    if not summary:
        return None
    count = sum(s["results"] for s in summary)
    where = ", ".join(sorted({s["benchmark"] for s in summary}))
    return (f"{count} partial result(s) ({where}: scored on fewer examples than the benchmark has, e.g. with "
            f"--limit) are not ranked; --include-partial shows them in sections of their own.")


def rank_rows(rows: list[dict], higher_is_better: bool, frontier_x: str = "energy") -> list[dict]:
    """Sort best first, give tied scores the same rank (1, 2, 2, 4), and flag the Pareto front."""
    sign = -1.0 if higher_is_better else 1.0
    inf = float("inf")
    rows = sorted(rows, key=lambda r: (sign * r["score"],
                                       r["energy_wh_per_1k"] if r["energy_wh_per_1k"] is not None else inf,
                                       r["model"], r["variant"]))
    prev, rank = None, 0
    for i, r in enumerate(rows, 1):
        if r["score"] != prev:
            rank, prev = i, r["score"]
        r["rank"] = rank
    xkey = FRONTIER_X[frontier_x]
    flags = pareto_front([(r["score"], r[xkey]) for r in rows], higher_is_better)
    for r, f in zip(rows, flags):
        r["pareto"] = f
    return rows

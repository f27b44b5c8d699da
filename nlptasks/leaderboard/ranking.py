"""Turn stored result records into ranked leaderboard sections (one per benchmark version).

A section holds the results of exactly one (benchmark name, version, hash): different versions or
data are never ranked together. Within it the latest result per (model, variant) is kept, rows are
ranked by the chosen metric in its own direction (ties share a rank), and cost columns are
normalised per 1,000 examples. The Pareto front is computed over quality against energy (or
latency) per example.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from ..errors import NlpTasksError
from ..records import metric_score, variant_name
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

    @property
    def title(self) -> str:
        h = f", data {self.hash[:12]}" if self.hash else ""
        return f"{self.benchmark} (version {self.version}{h})"

    def to_dict(self) -> dict:
        return {"benchmark": {"name": self.benchmark, "version": self.version, "hash": self.hash},
                "task": self.task, "metric": self.metric, "higher_is_better": self.higher_is_better,
                "frontier_x": self.frontier_x, "rows": self.rows}


def _sort_time(r: dict) -> tuple:
    """Order by creation time; a record with no parseable date sorts before all dated ones."""
    text = str(r.get("created_at") or "")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (0, 0.0, text)
    if dt.tzinfo is None:
        dt = dt.astimezone()  # naive: local time
    return (1, dt.timestamp(), text)


def _latest(records: Iterable[dict]) -> dict:
    """Newest record per (model, variant); a record with no parseable date counts as oldest."""
    best: dict[tuple, dict] = {}
    for r in records:
        key = (r["model"]["name"], variant_name(r))
        if key not in best or _sort_time(r) >= _sort_time(best[key]):
            best[key] = r
    return best


_score = metric_score  # a record's score for a metric (None when missing or not a number)


def cost_columns(record: dict) -> dict:
    """Cost per *benchmark example* (``record["n"]``). The backend counts model items, which can differ
    from examples (an extractive summary embeds every sentence of a document; QA runs several windows),
    so throughput and latency fall back to whole-run figures when the two counts differ."""
    c = record.get("cost") or {}
    n = record.get("n") or c.get("items") or 0
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
    }


def row_for(record: dict, metric: str) -> dict:
    m = (record.get("metrics") or {}).get(metric) or {}
    return {"model": record["model"]["name"], "variant": variant_name(record),
            "score": _score(record, metric), "ci": m.get("ci"), "n": record.get("n"),
            **cost_columns(record), "run_id": record.get("run_id"), "created_at": record.get("created_at")}


def by_benchmark(records: list[dict]) -> list[tuple[tuple, list[dict]]]:
    """Records grouped by (benchmark name, version, definition hash), oldest first within a group:
    results of different benchmark versions are never ranked together."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        b = r.get("benchmark") or {}
        groups.setdefault((str(b.get("name")), str(b.get("version")), str(b.get("hash"))), []).append(r)
    return [(key, sorted(groups[key], key=_sort_time)) for key in sorted(groups)]


def build_sections(records: list[dict], metric: str | None = None, frontier_x: str = "energy") -> list[Section]:
    if frontier_x not in FRONTIER_X:
        raise NlpTasksError(f"unknown frontier {frontier_x!r}; use one of: {', '.join(FRONTIER_X)}")
    sections = []
    for key, recs in by_benchmark(records):
        newest = recs[-1]
        name = metric or newest.get("primary_metric")
        if not name or all(_score(r, name) is None for r in recs):
            continue
        hib = (newest.get("higher_is_better") or {}).get(name)
        if hib is None:
            hib = next(((r.get("higher_is_better") or {}).get(name) for r in reversed(recs)
                        if (r.get("higher_is_better") or {}).get(name) is not None), True)
        b = newest.get("benchmark") or {}
        sec = Section(benchmark=b.get("name"), version=b.get("version"), hash=b.get("hash"),
                      task=newest.get("task"), metric=name, higher_is_better=bool(hib), frontier_x=frontier_x)
        # the newest *scored* result per model variant: a later record without this metric (or with a
        # score that is not a number) must not hide an earlier real result
        rows = [row_for(r, name) for r in _latest(r for r in recs if _score(r, name) is not None).values()]
        sec.rows = rank_rows(rows, sec.higher_is_better, frontier_x)
        sections.append(sec)
    if records and not sections and metric:
        known = sorted({m for r in records for m in (r.get("metrics") or {})})
        raise NlpTasksError(f"no result has metric {metric!r}; available: {', '.join(known)}")
    return sections


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

"""``--compare MODEL``: the variants (dtype / quantisation) of one model side by side, per benchmark
and data (the grouping of ``ranking.by_benchmark``), with the quality change and the cost saved
relative to the float32 baseline. Partial runs (``--limit``) are left out unless ``include_partial``;
variants scored on different examples are never compared."""
from __future__ import annotations

from ..errors import UnknownNameError
from .pareto import pareto_front
from .ranking import FRONTIER_X, Section, _latest, by_benchmark, row_for, section_for, typed

_PRECISION_ORDER = ("float32", "bfloat16", "float16")


def _baseline(rows: list[dict]) -> dict:
    """The float32 variant without quantisation; failing that the most precise variant present."""
    def key(r):
        dtype, _, quant = r["variant"].partition("+")
        prec = _PRECISION_ORDER.index(dtype) if dtype in _PRECISION_ORDER else len(_PRECISION_ORDER)
        return (bool(quant), prec, r["variant"])
    return min(rows, key=key)


def _ratio(new, base):
    return new / base if new is not None and base not in (None, 0) else None


def compare_sections(records: list, model: str, metric: str | None = None,
                     frontier_x: str = "energy", include_partial: bool = False) -> list[Section]:
    """The variants of ``model`` side by side in ``records`` (``ResultRecord``s, or dicts checked first)."""
    records = typed(records)
    if not any(r.model.name == model for r in records):
        known = sorted({r.model.name for r in records})
        raise UnknownNameError(f"no results for model {model!r}; models in the store: {', '.join(known) or 'none'}")
    sections = []
    for key, recs in by_benchmark(records):  # all records: whether a run is partial depends on the others
        recs = [r for r in recs if r.model.name == model]
        if not recs or (key[5] and not include_partial):
            continue
        newest = recs[-1]
        name = metric or newest.primary_metric
        hib = newest.higher(name)
        hib = True if hib is None else hib
        rows = [row_for(r, name) for r in _latest(recs).values()]
        rows = [r for r in rows if r["score"] is not None]
        if not rows:
            continue
        base = _baseline(rows)
        for r in rows:
            r["baseline"] = r is base
            r["baseline_variant"] = base["variant"]
            r["score_delta"] = r["score"] - base["score"]
            e = _ratio(r["energy_wh_per_1k"], base["energy_wh_per_1k"])
            r["energy_saved_pct"] = (1 - e) * 100 if e is not None else None
            r["speedup"] = _ratio(r["examples_per_s"], base["examples_per_s"])
            s = _ratio(r["size_bytes"], base["size_bytes"])
            r["size_saved_pct"] = (1 - s) * 100 if s is not None else None
        rows.sort(key=lambda r: (not r["baseline"], r["variant"]))
        xkey = FRONTIER_X[frontier_x]
        for r, front in zip(rows, pareto_front([(r["score"], r[xkey]) for r in rows], bool(hib))):
            r["pareto"] = front
        for r in rows:
            r["partial"] = key[5]
        sec = section_for(key, recs, name, bool(hib), frontier_x)
        sec.rows = rows
        sections.append(sec)
    return sections

"""Leaderboards: rank stored results by quality and show what each result cost.

``leaderboard()`` is the Python API behind ``nlptasks leaderboard``. Results of different benchmark
versions or data hashes are never ranked together (one section each); see ``ranking`` for the rules,
``pareto`` for the quality/cost front and ``render_*`` for the output formats.
"""
from __future__ import annotations

from typing import Any

from ..errors import NlpTasksError
from .compare import compare_sections
from .pareto import pareto_front
from .ranking import Section, build_sections, rank_rows

FORMATS = ("table", "md", "csv", "json", "html")

__all__ = ["FORMATS", "Section", "build_sections", "compare_sections", "leaderboard", "pareto_front", "rank_rows"]


def _records(store: Any, task, benchmark, model=None) -> tuple[list[dict], str]:
    """Records from a ResultStore, a path/URL, None (the default store) or a list of record dicts."""
    if isinstance(store, (list, tuple)):
        recs = [r for r in store
                if (task is None or r.get("task") == task)
                and (benchmark is None or (r.get("benchmark") or {}).get("name") == benchmark)
                and (model is None or (r.get("model") or {}).get("name") == model)]
        return recs, "the given records"
    from ..store import ResultStore

    st = store if isinstance(store, ResultStore) else ResultStore(store, readonly=True)
    try:
        return st.query(task=task, benchmark=benchmark, model=model), st.location
    finally:
        if st is not store:
            st.close()


def _empty_message(where: str, task, benchmark, model) -> str:
    filters = ", ".join(f"{k}={v}" for k, v in (("task", task), ("benchmark", benchmark), ("model", model)) if v)
    return (f"No results in {where}{f' matching {filters}' if filters else ''}. "
            "Add some with `nlptasks eval ...` or `nlptasks results import FILE.json`.")


def leaderboard(store=None, task: str | None = None, benchmark: str | None = None, metric: str | None = None,
                fmt: str = "table", compare: str | None = None, frontier_x: str = "energy") -> str:
    """Render a leaderboard (or, with ``compare=MODEL``, that model's variants side by side).

    ``store``: a ``ResultStore``, a path or SQLAlchemy URL, None for the default store, or a list of
    result records. ``fmt``: table, md, csv, json or html. ``frontier_x``: "energy" or "latency",
    the cost axis of the Pareto front. Returns the rendered text; with no matching results it
    returns a message (table/md/html), an empty list (json) or just the header (csv).
    """
    if fmt not in FORMATS:
        raise NlpTasksError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    records, where = _records(store, task, benchmark)
    kind = "compare" if compare else "ranking"
    if compare:
        if not records:
            sections = []
        else:
            sections = compare_sections(records, compare, metric=metric, frontier_x=frontier_x)
    else:
        sections = build_sections(records, metric=metric, frontier_x=frontier_x)
    message = None if sections else _empty_message(where, task, benchmark, compare)
    if fmt == "html":
        from .render_html import render_html

        title = f"nlptasks: {compare} variants" if compare else "nlptasks leaderboard"
        return render_html(sections, kind, title=title, message=message)
    from . import render_text

    if fmt == "json":
        return render_text.render_json(sections, kind)
    if fmt == "csv":
        return render_text.render_csv(sections, kind)
    if message:
        return message + "\n"
    return render_text.render_md(sections, kind) if fmt == "md" else render_text.render_table(sections, kind)

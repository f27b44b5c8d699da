"""Leaderboards: rank stored results by quality and show what each result cost.

``leaderboard()`` is the Python API behind ``nlptasks leaderboard``. Results of different benchmark
definitions, or scored on different examples (data fingerprint and n), are never ranked together
(one section each). Partial runs (``--limit``: fewer examples than the benchmark has) are left out
of the ranking, with a note saying so, unless ``include_partial``: then they get sections of their
own marked partial. See ``ranking`` for the rules, ``pareto`` for the quality/cost front and
``render_*`` for the output formats.
"""
from __future__ import annotations

from typing import Any

from ..errors import NlpTasksError
from ..evaluation.result import ResultRecord, as_records
from .compare import compare_sections
from .pareto import pareto_front
from .ranking import Section, build_sections, partial_note, partial_summary, rank_rows, trained_on_eval_note

FORMATS = ("table", "md", "csv", "json", "html")

__all__ = ["FORMATS", "Section", "build_sections", "compare_sections", "leaderboard", "pareto_front", "rank_rows"]


def _records(store: Any, task, benchmark, model=None) -> tuple[list[ResultRecord], str]:
    """Typed records from a ResultStore, a path/URL, None (the default store) or a list of records
    (``ResultRecord``s or dicts; a dict that is not a valid record is left out, with a warning)."""
    if isinstance(store, (list, tuple)):
        recs = [r for r in as_records(store)
                if (task is None or r.task == task)
                and (benchmark is None or r.benchmark.name == benchmark)
                and (model is None or r.model.name == model)]
        return recs, "the given records"
    from ..evaluation.store import ResultStore

    st = store if isinstance(store, ResultStore) else ResultStore(store, readonly=True)
    try:
        return st.records(task=task, benchmark=benchmark, model=model), st.location
    finally:
        if st is not store:
            st.close()


def _empty_message(where: str, task, benchmark, model) -> str:
    filters = ", ".join(f"{k}={v}" for k, v in (("task", task), ("benchmark", benchmark), ("model", model)) if v)
    return (f"No results in {where}{f' matching {filters}' if filters else ''}. "
            "Add some with `nlptasks eval ...` or `nlptasks results import FILE.json`.")


def leaderboard(store=None, task: str | None = None, benchmark: str | None = None, metric: str | None = None,
                fmt: str = "table", compare: str | None = None, frontier_x: str = "energy",
                include_partial: bool = False) -> str:
    """Render a leaderboard (or, with ``compare=MODEL``, that model's variants side by side).

    ``store``: a ``ResultStore``, a path or SQLAlchemy URL, None for the default store, or a list of
    result records. ``fmt``: table, md, csv, json or html. ``frontier_x``: "energy" or "latency",
    the cost axis of the Pareto front. ``include_partial``: also show partial runs (fewer examples
    than the benchmark has), in sections of their own marked partial; without it they are left out
    and a note counts them (table, md, html; json lists them under ``omitted_partial``). Returns the
    rendered text; with no matching results it returns a message (table/md/html), an empty list
    (json) or just the header (csv).
    """
    if fmt not in FORMATS:
        raise NlpTasksError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    records, where = _records(store, task, benchmark)
    kind = "compare" if compare else "ranking"
    if compare:
        if not records:
            sections = []
        else:
            sections = compare_sections(records, compare, metric=metric, frontier_x=frontier_x,
                                        include_partial=include_partial)
    else:
        sections = build_sections(records, metric=metric, frontier_x=frontier_x, include_partial=include_partial)
    omitted = [] if include_partial else partial_summary(records, model=compare)
    note = " ".join(filter(None, (partial_note(omitted), trained_on_eval_note(records, model=compare)))) or None
    message = None
    if not sections:  # nothing ranked: the note (only partial runs) or the empty-store message
        message, note = note or _empty_message(where, task, benchmark, compare), None
    if fmt == "html":
        from .render_html import render_html

        title = f"nlptasks: {compare} variants" if compare else "nlptasks leaderboard"
        return render_html(sections, kind, title=title, message=message, note=note)
    from . import render_text

    if fmt == "json":
        return render_text.render_json(sections, kind, omitted_partial=omitted)
    if fmt == "csv":
        return render_text.render_csv(sections, kind)
    if message:
        return message + "\n"
    if fmt == "md":
        return render_text.render_md(sections, kind) + (f"\n_{note}_\n" if note else "")
    return render_text.render_table(sections, kind) + (f"{note}\n" if note else "")

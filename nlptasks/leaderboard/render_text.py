"""Plain renderers: aligned text table, Markdown, CSV and JSON."""
from __future__ import annotations

import csv
import html
import io
import json
import unicodedata

from .columns import columns, fmt, legend
from .ranking import Section


def _heading(sec: Section, kind: str) -> str:
    direction = "higher is better" if sec.higher_is_better else "lower is better"
    what = f"compare {sec.rows[0]['model']} — " if kind == "compare" and sec.rows else ""
    task = f"{sec.task}: " if sec.task else ""
    return f"{what}{task}{sec.title} — {sec.metric} ({direction})"


def render_table(sections: list[Section], kind: str) -> str:
    out = []
    for sec in sections:
        cols = columns(kind, sec.metric)
        cells = [[h for _, h, _ in cols]] + [[fmt(r, k, t) for k, _, t in cols] for r in sec.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
        left = {i for i, (_, _, t) in enumerate(cols) if t == "str"}

        def line(row):
            return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        out.append(f"== {_heading(sec, kind)} ==")
        out.append(line(cells[0]))
        out.append("  ".join("-" * w for w in widths))
        out.extend(line(row) for row in cells[1:])
        out.append("")
    if sections:
        out.append(legend(kind, sections[0].frontier_x))
    return "\n".join(out) + "\n"


_MD_BACKSLASH = str.maketrans({c: "\\" + c for c in "\\|[]`"})


def _md_escape(text: str) -> str:
    """A Markdown table cell or heading that shows ``text`` as it is: HTML special characters become
    entities (no tag or attribute from a model name reaches a renderer), ``| [ ] ` \\`` are backslash
    escaped (no cell break, link, image or code span), and line breaks and other control characters
    become numeric entities, so a name can never add a row or end the table."""
    out = html.escape(str(text), quote=True).translate(_MD_BACKSLASH)
    return "".join(f"&#{ord(c)};" if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in out)


def render_md(sections: list[Section], kind: str) -> str:
    out = []
    for sec in sections:
        cols = columns(kind, sec.metric)
        out.append(f"### {_md_escape(_heading(sec, kind))}\n")
        out.append("| " + " | ".join(_md_escape(h) for _, h, _ in cols) + " |")
        out.append("|" + "|".join("---" if t == "str" else "--:" for _, _, t in cols) + "|")
        for r in sec.rows:
            out.append("| " + " | ".join(_md_escape(fmt(r, k, t)) for k, _, t in cols) + " |")
        out.append("")
    if sections:
        out.append(f"_{legend(kind, sections[0].frontier_x)}_")
    return "\n".join(out) + "\n"


# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value):
    """A CSV cell that no spreadsheet evaluates: text starting with ``= + - @``, tab or a line break
    gets a leading ``'`` (OWASP). Numbers stay numbers (a negative score delta is a real number, not
    text); text that merely looks like a negative number is text and is prefixed too."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


CSV_SECTION_FIELDS = ["task", "benchmark", "benchmark_version", "benchmark_hash", "metric", "higher_is_better"]


def render_csv(sections: list[Section], kind: str) -> str:
    row_fields: list[str] = []
    for sec in sections:
        for r in sec.rows:
            row_fields += [k for k in r if k not in row_fields and k != "ci"]
    fields = CSV_SECTION_FIELDS + row_fields + ["ci_low", "ci_high"]
    buf = io.StringIO()
    # every text cell quoted (a CR inside one cannot split the row), numbers bare so they stay numbers
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    w.writeheader()
    for sec in sections:
        for r in sec.rows:
            ci = r.get("ci") if isinstance(r.get("ci"), (list, tuple)) and len(r["ci"]) == 2 else (None, None)
            row = {"task": sec.task, "benchmark": sec.benchmark, "benchmark_version": sec.version,
                   "benchmark_hash": sec.hash, "metric": sec.metric, "higher_is_better": sec.higher_is_better,
                   **{k: v for k, v in r.items() if k != "ci"}, "ci_low": ci[0], "ci_high": ci[1]}
            w.writerow({k: csv_cell(v) for k, v in row.items()})
    return buf.getvalue()


def render_json(sections: list[Section], kind: str, omitted_partial: list[dict] | None = None) -> str:
    out = {"view": kind, "sections": [s.to_dict() for s in sections]}
    if omitted_partial:  # partial runs left out of the ranking (ranking.partial_summary)
        out["omitted_partial"] = omitted_partial
    return json.dumps(out, indent=1) + "\n"

"""One self-contained HTML page: per benchmark, a sortable table and an SVG plot of quality against
cost with the Pareto front. No external requests (a Content-Security-Policy forbids them), inline CSS
and JS only, so the file works offline and can be attached or archived as it is.

Hooks for tests and scripts: ``section.benchmark[data-benchmark]``, ``table.leaderboard tbody tr``
(``data-model``, ``data-variant``), ``th[data-key]`` (click to sort; ``aria-sort`` shows the order),
``svg .point`` circles (``data-model``, ``data-x``, ``data-y``), ``svg .pareto`` path, ``svg .label`` point
labels (placed so they overlap neither each other nor a point; a moved label gets a ``.leader`` line)
and ``svg .tick.x`` / ``.tick.y`` axis labels (each printed with the digits that make it distinct).
"""
from __future__ import annotations

import html
import math
from datetime import datetime, timezone

from .columns import columns, fmt, legend
from .ranking import FRONTIER_X, Section
from .render_text import _heading

W, H = 680, 360
ML, MR, MT, MB = 64, 24, 16, 48
X_LABEL = {"energy": "energy per 1,000 examples (Wh)", "latency": "latency per example, p50 (s)"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1b1f24}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2.2em}
.meta,.legend,.note{color:#57606a;font-size:.9em}
table.leaderboard{border-collapse:collapse;margin:.8em 0;width:100%}
table.leaderboard th,table.leaderboard td{padding:.3em .6em;border-bottom:1px solid #d0d7de;text-align:right;white-space:nowrap}
table.leaderboard th.str,table.leaderboard td.str{text-align:left}
table.leaderboard th{cursor:pointer;user-select:none;background:#f6f8fa;position:sticky;top:0}
table.leaderboard th[aria-sort=ascending]::after{content:" \\25B2"}
table.leaderboard th[aria-sort=descending]::after{content:" \\25BC"}
table.leaderboard tr.front td{font-weight:600}
table.leaderboard tr.hl td{background:#fff8c5}
svg.scatter{max-width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px;background:#fff}
svg .axis{stroke:#57606a}svg .grid{stroke:#eaeef2}
svg text{font-size:11px;fill:#57606a}
svg .point{fill:#0969da;fill-opacity:.75;stroke:#fff}
svg .point.front{fill:#cf222e}svg .point.estimate{fill-opacity:.35;stroke:#57606a;stroke-dasharray:2 1}svg .point.hl{stroke:#000;stroke-width:2}
svg .pareto{fill:none;stroke:#cf222e;stroke-width:1.5;stroke-dasharray:5 3}
svg .label{fill:#1b1f24;font-size:10px}
svg .leader{stroke:#8c959f;stroke-width:.8}
"""

JS = """
(function(){
  function val(td, num){var v = td.getAttribute('data-value'); if(v===null||v==='') return null; return num ? parseFloat(v) : v;}
  document.querySelectorAll('table.leaderboard').forEach(function(table){
    var ths = table.querySelectorAll('thead th[data-key]');
    ths.forEach(function(th, col){
      th.addEventListener('click', function(){
        var num = th.getAttribute('data-type') === 'num';
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        ths.forEach(function(o){ o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function(a, b){
          var x = val(a.cells[col], num), y = val(b.cells[col], num);
          if(x === null && y === null) return 0; if(x === null) return 1; if(y === null) return -1;
          var c = num ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function(r){ body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll('section.benchmark').forEach(function(sec){
    function mark(id, on){ sec.querySelectorAll('[data-row="' + id + '"]').forEach(function(e){ e.classList.toggle('hl', on); }); }
    sec.querySelectorAll('[data-row]').forEach(function(e){
      e.addEventListener('mouseenter', function(){ mark(e.getAttribute('data-row'), true); });
      e.addEventListener('mouseleave', function(){ mark(e.getAttribute('data-row'), false); });
    });
  });
})();
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


_AXIS_LIMIT = 1e100  # values beyond are drawn at the edge: spans of ±1e308 overflow the arithmetic


def _clamp(v: float) -> float:
    return max(-_AXIS_LIMIT, min(_AXIS_LIMIT, v)) if v == v else 0.0


class _Axis:
    def __init__(self, values: list[float], pixels: tuple[float, float], allow_log: bool):
        values = [_clamp(v) for v in values]
        lo, hi = min(values), max(values)
        self.log = allow_log and lo > 0 and hi / lo > 20
        if self.log:
            lo, hi = math.log10(lo), math.log10(hi)
        pad = (hi - lo) * 0.08 or (abs(lo) * 0.1 if lo else 1.0)
        self.lo, self.hi = lo - pad, hi + pad
        self.p0, self.p1 = pixels

    def __call__(self, v: float) -> float:
        v = _clamp(v)
        if self.log:
            v = math.log10(v) if v > 0 else self.lo
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)

    def ticks(self) -> list[float]:
        if self.log:
            decades = range(math.floor(self.lo), math.ceil(self.hi) + 1)
            inside = [10.0 ** k for k in decades if self.lo <= k <= self.hi]
            if len(inside) >= 3:
                return inside
            # under two decades: 1-2-5 ticks, so the axis has more than one labelled value
            return [m * 10.0 ** k for k in decades for m in (1, 2, 5)
                    if self.lo <= math.log10(m * 10.0 ** k) <= self.hi]
        return _nice_ticks(self.lo, self.hi)


def _tick_label(v: float, digits: int = 1) -> str:
    """``v`` with ``digits - 1`` decimals (plain between 1e-3 and 1e5, else in e-notation)."""
    if v == 0:
        return "0"
    return f"{v:.{digits - 1}f}" if 1e-3 <= abs(v) < 1e5 else f"{v:.{digits - 1}e}"


def _tick_labels(ticks: list[float]) -> list[str]:
    """Each tick with the fewest digits that read back as its value, so no two ticks print the same text:
    ticks 1.8e-06, 2e-06, 2.2e-06 print as such, not as three times "2e-06"."""
    step = min((abs(b - a) for a, b in zip(ticks, ticks[1:])), default=0.0) or (abs(ticks[0]) if ticks else 0) or 1.0
    labels = []
    for v in ticks:
        text = next((t for t in (_tick_label(v, d) for d in range(1, 16)) if abs(float(t) - v) <= step * 1e-6), repr(v))
        labels.append(text)
    return labels if len(set(labels)) == len(labels) else [repr(v) for v in ticks]


LABEL_PX = 10          # svg .label font size
CHAR_W = 0.62 * LABEL_PX  # a generous average glyph width of a sans-serif font at that size
ROW_H = LABEL_PX + 3   # a label row


def _place_labels(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str, bool]]:
    """Positions ``(x, y, anchor, leader)`` of point labels that overlap neither one another nor a point.

    Each label tries the spots beside its point first (right/left, above/below), then rows further up
    and down; a label moved off its point gets a leader line. Boxes are estimated from the text length
    (a generous glyph width), so rendered text stays inside them."""
    boxes: list[tuple[float, float, float, float]] = []
    dots = [(x - 6, y - 6, x + 6, y + 6) for x, y, _ in points]

    def free(b):
        return (ML <= b[0] and b[2] <= W - MR and MT <= b[1] and b[3] <= H - MB
                and not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3] for o in boxes + dots))

    placed = []
    for cx, cy, text in points:
        w = len(text) * CHAR_W
        sides = ("start", "end") if cx + 8 + w <= W - MR else ("end", "start")
        choice = None
        for k in range(0, 40):
            for dy in ((-6, 14) if k == 0 else (-6 - k * ROW_H, 14 + k * ROW_H)):
                for anchor in sides:
                    x = cx + 8 if anchor == "start" else cx - 8
                    base = cy + dy  # text baseline
                    box = (x, base - LABEL_PX, x + w, base + 3) if anchor == "start" else (x - w, base - LABEL_PX, x, base + 3)
                    if free(box):
                        choice = (x, base, anchor, k > 0, box)
                        break
                if choice:
                    break
            if choice:
                break
        if choice is None:  # nowhere free: keep the default spot (never happens with a handful of points)
            x = cx + 8
            choice = (x, cy - 6, "start", False, (x, cy - 6 - LABEL_PX, x + w, cy - 3))
        boxes.append(choice[4])
        placed.append(choice[:4])
    return placed


def _plot(sec: Section, ids: list[int]) -> str:
    xkey = FRONTIER_X[sec.frontier_x]
    pts = [(i, r) for i, r in zip(ids, sec.rows) if r.get(xkey) is not None and r.get("score") is not None]
    if not pts:
        return f'<p class="note">No {X_LABEL[sec.frontier_x]} recorded: nothing to plot.</p>'
    xs = [r[xkey] for _, r in pts]
    ys = [r["score"] for _, r in pts]
    ax = _Axis(xs, (ML, W - MR), allow_log=True)
    ay = _Axis(ys, (H - MB, MT), allow_log=False)
    out = [f'<svg class="scatter" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
           f'role="img" aria-label="{_e(sec.metric)} against {_e(X_LABEL[sec.frontier_x])}" data-log-x="{str(ax.log).lower()}">']
    xt = [t for t in ax.ticks() if ML <= ax(t) <= W - MR]
    for t, text in zip(xt, _tick_labels(xt)):
        x = ax(t)
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{H - MB}"/>'
                   f'<text class="tick x" x="{x:.1f}" y="{H - MB + 16}" text-anchor="middle">{text}</text>')
    yt = [t for t in ay.ticks() if MT <= ay(t) <= H - MB]
    for t, text in zip(yt, _tick_labels(yt)):
        y = ay(t)
        out.append(f'<line class="grid" x1="{ML}" y1="{y:.1f}" x2="{W - MR}" y2="{y:.1f}"/>'
                   f'<text class="tick y" x="{ML - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    out.append(f'<line class="axis" x1="{ML}" y1="{H - MB}" x2="{W - MR}" y2="{H - MB}"/>'
               f'<line class="axis" x1="{ML}" y1="{MT}" x2="{ML}" y2="{H - MB}"/>')
    scale = " (log scale)" if ax.log else ""
    better = "higher is better" if sec.higher_is_better else "lower is better"
    out.append(f'<text x="{(ML + W - MR) / 2}" y="{H - 10}" text-anchor="middle">{_e(X_LABEL[sec.frontier_x])}{scale}</text>'
               f'<text transform="translate(14 {(MT + H - MB) / 2}) rotate(-90)" text-anchor="middle">{_e(sec.metric)} ({better})</text>')
    front = sorted(((r[xkey], r["score"]) for _, r in pts if r.get("pareto")), key=lambda p: (p[0], p[1]))
    if front:
        d = " ".join(f'{"M" if k == 0 else "L"}{ax(x):.1f} {ay(y):.1f}' for k, (x, y) in enumerate(front))
        out.append(f'<path class="pareto" d="{d}"/>')
    labels = []
    for i, r in pts:
        cx, cy = ax(r[xkey]), ay(r["score"])
        cls = "point" + (" front" if r.get("pareto") else "") + (" estimate" if r.get("energy_is_estimate") else "")
        tip = (f'{r["model"]} ({r["variant"]}): {sec.metric} {fmt(r, "score", "score")}, '
               f'{X_LABEL[sec.frontier_x]} {fmt(r, xkey, "energy" if sec.frontier_x == "energy" else "float")}'
               + (" (estimated)" if sec.frontier_x == "energy" and r.get("energy_is_estimate") else ""))
        out.append(f'<circle class="{cls}" data-row="{i}" data-model="{_e(r["model"])}" data-variant="{_e(r["variant"])}" '
                   f'data-x="{_e(repr(r[xkey]))}" data-y="{_e(repr(r["score"]))}" cx="{cx:.1f}" cy="{cy:.1f}" r="5">'
                   f'<title>{_e(tip)}</title></circle>')
        labels.append((i, cx, cy, r["model"].rsplit("/", 1)[-1] + ("" if r["variant"] in ("float32", "none") else f' {r["variant"]}')))
    spots = _place_labels([(cx, cy, text) for _, cx, cy, text in labels])
    for (i, cx, cy, text), (x, y, anchor, leader) in zip(labels, spots):
        if leader:  # from the point to the label's near edge, at its middle height
            out.append(f'<line class="leader" data-row="{i}" x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" '
                       f'y2="{y - LABEL_PX / 2 + 1:.1f}"/>')
        out.append(f'<text class="label" data-row="{i}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{_e(text)}</text>')
    out.append("</svg>")
    missing = len(sec.rows) - len(pts)
    if missing:
        out.append(f'<p class="note">{missing} row(s) without {_e(X_LABEL[sec.frontier_x])} are not plotted.</p>')
    return "".join(out)


def _table(sec: Section, kind: str, ids: list[int]) -> str:
    cols = columns(kind, sec.metric)
    head = "".join(f'<th data-key="{_e(k)}" data-type="{"str" if t == "str" else "num"}" class="{"str" if t == "str" else "num"}" '
                   f'scope="col">{_e(h)}</th>' for k, h, t in cols)
    body = []
    for i, r in zip(ids, sec.rows):
        cells = []
        for k, _, t in cols:
            v = r.get(k)
            if t == "ci":
                v = v[0] if isinstance(v, (list, tuple)) and v else None
            elif t == "flag":
                v = 1 if v else 0
            raw = "" if v is None else (v if isinstance(v, str) else repr(float(v)))
            cells.append(f'<td class="{"str" if t == "str" else "num"}" data-value="{_e(raw)}">{_e(fmt(r, k, t))}</td>')
        cls = ' class="front"' if r.get("pareto") else ""
        body.append(f'<tr{cls} data-row="{i}" data-model="{_e(r["model"])}" data-variant="{_e(r["variant"])}">{"".join(cells)}</tr>')
    return (f'<table class="leaderboard"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def render_html(sections: list[Section], kind: str, title: str = "nlptasks leaderboard", message: str | None = None,
                note: str | None = None) -> str:
    parts = []
    counter = 0
    for sec in sections:
        ids = list(range(counter, counter + len(sec.rows)))
        counter += len(sec.rows)
        parts.append(
            f'<section class="benchmark" data-benchmark="{_e(sec.benchmark)}" data-version="{_e(sec.version)}" '
            f'data-hash="{_e(sec.hash or "")}" data-metric="{_e(sec.metric)}" '
            f'data-partial="{str(sec.partial).lower()}">'
            f'<h2>{_e(_heading(sec, kind))}</h2>{_plot(sec, ids)}{_table(sec, kind, ids)}</section>')
    if message:
        parts.append(f'<p class="note empty">{_e(message)}</p>')
    if note:
        parts.append(f'<p class="note partial">{_e(note)}</p>')
    foot = legend(kind, sections[0].frontier_x) if sections else ""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; img-src data:\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class=\"meta\">Generated by nlptasks on {stamp}. "
            "Click a column header to sort; hover a point or row to highlight it.</p>"
            f"{''.join(parts)}<p class=\"legend\">{_e(foot)}</p><script>{JS}</script></body></html>\n")

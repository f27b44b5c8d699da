"""One self-contained HTML page of explanations (``--explain-html FILE``): inline CSS and JS, no CDN.

Token attributions are highlighted (green: supports the target, red: speaks against it; the strength is
``|score| / max |score|`` of the record), the QA answer span is outlined, kept summary sentences are
marked, translation alignments are heat tables (rows: target tokens with their log-probability; columns:
source tokens), retrieved chat neighbours are a table with the chosen one marked. Hovering a token shows
its score. Pure Python.
"""
from __future__ import annotations

import html
import json

CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.1em;margin:0 0 .4em}
.rec{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0}
.meta{color:#555;font-size:.9em;margin-bottom:.5em}
.tok{border-radius:3px;padding:0 1px}
.qa-span{outline:2px solid #1f5fbf;outline-offset:1px}
.field{color:#555;font-size:.85em;margin-top:.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
.heat td.w{min-width:1.6em;text-align:center;font-size:.75em;color:#333}
.heat th.src{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal}
.sent.kept{background:#fff3b0;font-weight:600}
tr.chosen{background:#fff3b0;font-weight:600}
.legend span{padding:0 .4em;margin-right:.5em;border-radius:3px}
.hide-scores .score{display:none}
"""

JS = """
document.getElementById('toggle').addEventListener('change', function(e){
  document.body.classList.toggle('hide-scores', !e.target.checked);
});
document.querySelectorAll('.tok').forEach(function(t){
  t.addEventListener('mouseenter', function(){ document.getElementById('hover').textContent =
    t.textContent + ': ' + t.dataset.score; });
});
"""


def _color(score: float, top: float) -> str:
    a = 0.0 if top <= 0 else min(1.0, abs(score) / top)
    rgb = "40,167,69" if score >= 0 else "220,53,69"
    return f"rgba({rgb},{a * 0.85:.3f})"


def highlight(text: str, tokens: list[dict], span: tuple[int, int] | None = None) -> str:
    """``text`` as HTML with each token's characters in a coloured ``<span class="tok">``; characters
    in ``span`` (a QA answer) inside ``<span class="qa-span">``."""
    top = max((abs(t["score"]) for t in tokens), default=0.0)
    by_start = sorted((t for t in tokens if t.get("start") is not None), key=lambda t: t["start"])
    out, at = [], 0
    for t in by_start:
        a, b = t["start"], t["end"]
        if a < at:
            continue
        out.append(_plain(text, at, a, span))
        inner = html.escape(text[a:b])
        if span and span[0] <= a and b <= span[1]:
            inner = f'<span class="qa-span">{inner}</span>'
        out.append(f'<span class="tok" style="background:{_color(t["score"], top)}" '
                   f'data-score="{t["score"]:.4f}" title="{t["score"]:.4f}">{inner}</span>')
        at = b
    out.append(_plain(text, at, len(text), span))
    return "".join(out)


def _plain(text: str, a: int, b: int, span) -> str:
    if not span or b <= span[0] or a >= span[1]:
        return html.escape(text[a:b])
    lo, hi = max(a, span[0]), min(b, span[1])
    return (html.escape(text[a:lo]) + f'<span class="qa-span">{html.escape(text[lo:hi])}</span>'
            + html.escape(text[hi:b]))


def _tokens_section(rec: dict, out: dict, e: dict, field: str) -> str:
    return f'<div class="text">{highlight(rec[field], e["tokens"])}</div>'


def _qa_section(rec: dict, out: dict, e: dict) -> str:
    q = [t for t in e["tokens"] if t.get("field") == "question"]
    c = [t for t in e["tokens"] if t.get("field") == "context"]
    span = (out["start"], out["end"]) if out.get("start") is not None else None
    rows = "".join(f'<tr><td>{html.escape(a["answer"])}</td><td>{a["score"]:.4f}</td><td>{a["logit"]:.3f}</td>'
                   f'<td>{a["window"]}</td><td>{a["window_range"]}</td></tr>' for a in e.get("alternatives", []))
    return (f'<div class="field">question</div><div class="text">{highlight(rec["question"].rstrip(), q)}</div>'
            f'<div class="field">context (answer outlined)</div><div class="text">{highlight(rec["context"], c, span)}</div>'
            f'<div class="field">best spans over all windows</div><table class="alts"><tr><th>span</th>'
            f'<th>probability</th><th>logit</th><th>window</th><th>window range</th></tr>{rows}</table>')


def _summary_section(rec: dict, out: dict, e: dict) -> str:
    rows = []
    for i, s in enumerate(e["sentences"]):
        kept = " kept" if s["kept"] else ""
        score = "" if s["score"] is None else f"{s['score']:.3f}"
        rank = "" if s["rank"] is None else s["rank"]
        rows.append(f'<tr class="sent{kept}"><td>{i + 1}</td><td>{html.escape(s["text"])}</td>'
                    f'<td class="score">{score}</td><td>{rank}</td><td>{html.escape(s["reason"])}</td></tr>')
    rows = "".join(rows)
    return ('<table class="sentences"><tr><th>#</th><th>sentence</th><th class="score">score</th><th>rank</th>'
            f'<th>why</th></tr>{rows}</table>')


def _translate_section(rec: dict, out: dict, e: dict) -> str:
    parts = []
    for p in e["pieces"]:
        head = "".join(f'<th class="src">{html.escape(s["text"])}</th>' for s in p["source_tokens"])
        rows = []
        for t, row in zip(p["target_tokens"], p["alignment"]):
            top = max(row) or 1.0
            cells = "".join(f'<td class="w" style="background:rgba(31,95,191,{w / top * 0.85:.3f})" '
                            f'title="{w:.3f}">{round(w * 100)}</td>' for w in row)
            rows.append(f'<tr><th>{html.escape(t["text"])}</th><td class="score">{t["logprob"]:.2f}</td>{cells}</tr>')
        parts.append(f'<table class="heat"><tr><th>target</th><th class="score">log p</th>{head}</tr>'
                     f'{"".join(rows)}</table>')
    return "".join(parts)


def _chat_section(rec: dict, out: dict, e: dict) -> str:
    rows = "".join(f'<tr class="{"chosen" if n["chosen"] else ""}"><td>{html.escape(n["response"])}</td>'
                   f'<td>{n["similarity"]:.3f}</td><td>{n["consensus"]:.3f}</td><td>{n["combined"]:.3f}</td></tr>'
                   for n in e["neighbours"])
    hist = rec["history"] if isinstance(rec["history"], list) else [rec["history"]]
    turns = "".join(f"<li>{html.escape(t)}</li>" for t in hist)
    return (f'<ol class="history">{turns}</ol><table class="neighbours"><tr><th>neighbour response</th>'
            f'<th>similarity</th><th>consensus</th><th>combined</th></tr>{rows}</table>')


def _record(i: int, task, rec: dict, out: dict) -> str:
    e = out.get("explanation") or {}
    method = e.get("method", "")
    if "sentences" in e:
        body, title = _summary_section(rec, out, e), "summary sentences (kept ones marked)"
    elif "pieces" in e:
        body, title = _translate_section(rec, out, e), html.escape(out.get("translation", ""))
    elif "neighbours" in e:
        body, title = _chat_section(rec, out, e), html.escape(out.get("response", ""))
    elif "alternatives" in e:
        body, title = _qa_section(rec, out, e), f'answer: {html.escape(out.get("answer", ""))}'
    else:
        body = _tokens_section(rec, out, e, task.text_field)
        title = f'{html.escape(str(e.get("target", "")))} ({out.get("score", 0):.3f})'
    return (f'<section class="rec" data-method="{html.escape(method)}"><h2>#{i + 1}: {title}</h2>'
            f'<div class="meta">method: {html.escape(method)}</div>{body}</section>')


def render_page(task, pairs: list[tuple[dict, dict]]) -> str:
    """The page for ``(input record, output with explanation)`` pairs of one task."""
    model = html.escape(str(getattr(task, "model_name", "")))
    sections = "".join(_record(i, task, rec, out) for i, (rec, out) in enumerate(pairs))
    data = json.dumps({"task": task.name, "records": len(pairs)})
    legend = ('<div class="legend"><span style="background:rgba(40,167,69,.6)">supports</span>'
              '<span style="background:rgba(220,53,69,.6)">against</span> the prediction; hover a word for its '
              'score. <label><input type="checkbox" id="toggle" checked> show scores</label> '
              '<span id="hover"></span></div>')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>nlptasks explanations: '
            f'{html.escape(task.name)}</title><style>{CSS}</style></head><body>'
            f'<h1>Explanations: {html.escape(task.name)} ({model})</h1>{legend}'
            f'<script type="application/json" id="meta">{html.escape(data)}</script>'
            f'{sections}<script>{JS}</script></body></html>')


def write_page(path, task, pairs: list[tuple[dict, dict]]) -> None:
    """Write :func:`render_page` to ``path`` atomically."""
    from ..io import AtomicFile

    with AtomicFile(str(path)) as f:
        f.write(render_page(task, pairs))

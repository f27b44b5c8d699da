"""The --explain-html page: written by the CLI, self-contained, and rendered by a real headless Chromium
(token highlights, the QA span, kept summary sentences, the alignment heat table, chat neighbours)."""
from __future__ import annotations

import html
import json
import re
import subprocess

from optional import browser

from nlptasks.api import load_task
from nlptasks.explain.html import render_page

PROBE = """
<script>
(function(){
  function bg(e){ return getComputedStyle(e).backgroundColor; }
  var toks = document.querySelectorAll('.tok');
  var out = {
    sections: document.querySelectorAll('section.rec').length,
    tokens: toks.length,
    coloured: Array.prototype.filter.call(toks, function(t){ return bg(t) !== 'rgba(0, 0, 0, 0)'; }).length,
    green: Array.prototype.filter.call(toks, function(t){ return /rgba\\(40, 167, 69/.test(bg(t)); }).map(function(t){ return t.textContent; }),
    red: Array.prototype.filter.call(toks, function(t){ return /rgba\\(220, 53, 69/.test(bg(t)); }).map(function(t){ return t.textContent; }),
    qa_span: Array.prototype.map.call(document.querySelectorAll('.qa-span'), function(e){ return e.textContent; }).join(''),
    kept: Array.prototype.map.call(document.querySelectorAll('tr.sent.kept'), function(e){ return e.children[1].textContent; }),
    kept_weight: (function(){ var k = document.querySelector('tr.sent.kept'); return k ? getComputedStyle(k).fontWeight : null; })(),
    heat_cells: document.querySelectorAll('table.heat td.w').length,
    heat_rows: document.querySelectorAll('table.heat tr').length,
    chosen: Array.prototype.map.call(document.querySelectorAll('tr.chosen'), function(e){ return e.children[0].textContent; }),
    height: document.body.getBoundingClientRect().height
  };
  var first = document.querySelector('.tok');
  if (first) { first.dispatchEvent(new MouseEvent('mouseenter')); }
  out.hover = document.getElementById('hover').textContent;
  var box = document.getElementById('toggle'); box.click();
  var sc = document.querySelector('td.score');
  out.scores_hidden = sc ? getComputedStyle(sc).display === 'none' : null;
  var pre = document.createElement('pre'); pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def tok(text, word, score, **extra):
    a = text.index(word)
    return {"text": word, "start": a, "end": a + len(word), "score": score, **extra}


def pages():
    s_text = "the acting is wonderful but the plot is a mess"
    sentiment = [({"text": s_text}, {"label": "negative", "score": 0.99, "explanation": {
        "method": "ig", "target": "negative",
        "tokens": [tok(s_text, "wonderful", -5.0), tok(s_text, "mess", 9.0), tok(s_text, "plot", 0.5)]}})]
    ctx, q = "The dog slept under the big tree near the river.", "Where did the dog sleep?"
    qa = [({"question": q, "context": ctx}, {"answer": "under the big tree", "score": 0.8, "start": 14, "end": 32,
            "explanation": {"method": "ig", "target": "under the big tree",
                            "tokens": [tok(q, "dog", 0.3, field="question"), tok(ctx, "tree", 2.0, field="context"),
                                       tok(ctx, "river", -0.4, field="context")],
                            "alternatives": [{"answer": "under the big tree", "start": 14, "end": 32, "score": 0.8,
                                              "logit": 9.1, "window": 0, "window_range": [0, 49]}]}})]
    sents = ["First sentence here.", "Second one.", "Third."]
    doc = " ".join(sents)
    summ = [({"document": doc}, {"summary": "First sentence here.\nThird.", "explanation": {
        "method": "selection", "target": "summary", "rule": "x",
        "sentences": [{"text": s, "start": doc.index(s), "end": doc.index(s) + len(s), "score": sc, "rank": r,
                       "kept": k, "reason": ("kept: by score" if k else "length budget")}
                      for s, sc, r, k in zip(sents, [2.0, 0.1, 1.0], [1, 3, 2], [True, False, True])]}})]
    tr = [({"text": "a dog runs"}, {"translation": "ein Hund läuft", "explanation": {
        "method": "attention", "target": "ein Hund läuft", "rule": "mean",
        "pieces": [{"source_tokens": [{"text": w, "start": 0, "end": 1} for w in ["a", "dog", "runs", "</s>"]],
                    "target_tokens": [{"text": w, "logprob": -0.1, "source": i, "special": w == "</s>"}
                                      for i, w in enumerate(["ein", "Hund", "läuft", "</s>"])],
                    "alignment": [[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0, 0, 0, 1.0]],
                    "logprob": -0.4, "text_start": 0}]}})]
    chat = [({"history": ["hi", "how are you?"]}, {"response": "fine, thanks", "explanation": {
        "method": "neighbours", "target": "fine, thanks", "similarity_weight": 0.5, "turn_weights": [1.0],
        "neighbours": [{"index": 1, "response": "fine, thanks", "similarity": 0.9, "consensus": 0.2, "combined": 0.55,
                        "chosen": True},
                       {"index": 2, "response": "good", "similarity": 0.8, "consensus": 0.1, "combined": 0.45,
                        "chosen": False}]}})]
    return {"sentiment": sentiment, "qa": qa, "summarize": summ, "translate": tr, "chat": chat}


def test_page_renders_in_chromium(tmp_path):
    exe = browser()  # skips (or fails in CI) without chromium
    found = {}
    for name, pairs in pages().items():
        page = render_page(load_task(name), pairs)
        assert "http://" not in page and "https://" not in page and "<link" not in page  # self-contained
        path = tmp_path / f"{name}.html"
        path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
                               "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=90)
        m = re.search(r'<pre id="probe-result">(.*?)</pre>', proc.stdout, re.S)
        assert m, f"probe did not run; chromium rc={proc.returncode}: {proc.stderr[-600:]}"
        found[name] = json.loads(html.unescape(m.group(1)))
    s = found["sentiment"]
    assert s["sections"] == 1 and s["tokens"] == s["coloured"] == 3
    assert s["green"] == ["plot", "mess"] and s["red"] == ["wonderful"]
    assert s["hover"].startswith("wonderful: -5.0")
    assert found["qa"]["qa_span"] == "under the big tree" and "tree" in found["qa"]["green"]
    assert found["summarize"]["kept"] == ["First sentence here.", "Third."]
    assert int(found["summarize"]["kept_weight"]) >= 600 and found["summarize"]["scores_hidden"]
    assert found["translate"]["heat_cells"] == 16 and found["translate"]["heat_rows"] == 5
    assert found["chat"]["chosen"] == ["fine, thanks"]
    assert all(f["height"] > 100 for f in found.values())
    # a screenshot of a page the CLI wrote: non-empty, not one flat colour
    shot = tmp_path / "shot.png"
    subprocess.run([exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=900,600", (tmp_path / "sentiment.html").as_uri()],
                   capture_output=True, text=True, timeout=90)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_cli_writes_the_page(cli, tmp_path):
    out = tmp_path / "page.html"
    r = cli("run", "sentiment", "--explain-html", out, "--explain-method", "occlusion",
            input="an awful movie\na great movie\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("negative")  # the usual output, unchanged
    page = out.read_text(encoding="utf-8")
    assert page.count('<section class="rec"') == 2 and page.count('class="tok"') == 6
    assert 'data-method="occlusion"' in page and "awful" in page
    r = cli("run", "sentiment", "--explain-html", tmp_path, input="good\n")  # a folder: one clear line
    assert r.returncode != 0 and r.stderr.startswith("nlptasks: error: --explain-html") and "Traceback" not in r.stderr

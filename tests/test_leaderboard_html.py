"""The HTML leaderboard in a real headless Chromium: rows, click-to-sort, plotted points, offline.

Needs the Debian ``chromium`` package (``apt-get install -y chromium``); skipped when absent, failing
instead with ``NLPTASKS_REQUIRE_BROWSER=1`` (CI; tests/optional.py).
A small script appended to the page clicks headers and writes what it saw into the DOM, which
``--dump-dom`` then returns.
"""
from __future__ import annotations

import html
import json
import re
import subprocess

from optional import browser

from nlptasks.leaderboard import leaderboard

BROWSER = browser()  # skips this module, or fails it in CI (NLPTASKS_REQUIRE_BROWSER=1)



def rec(run_id, model, score, kwh=1e-4, version=1, estimate=False, benchmark="sst2-mini", dtype="float32",
        quantize=None):
    return {"schema": 1, "run_id": run_id, "task": "sentiment",
            "benchmark": {"name": benchmark, "version": version, "hash": "h1"},
            "model": {"name": model, "revision": None, "variant": {"dtype": dtype, "quantize": quantize}},
            "n": 100, "metrics": {"accuracy": {"score": score, "ci": None, "stats": {}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True},
            "cost": {"parameters": 1000, "items": 100, "items_per_s": 50.0, "examples_per_s": 50.0, "energy_kwh": kwh,
                     "co2e_g": None if kwh is None else kwh * 400, "energy_is_estimate": estimate},
            "data": {"fingerprint": "d1", "n": 100, "full_n": 100, "source": "json: sentiment/validation.jsonl"},
            "created_at": "2025-01-01T00:00:00+00:00"}


PROBE = """
<script>
(function(){
  function order(sec){ return Array.prototype.map.call(sec.querySelectorAll('table.leaderboard tbody tr'),
                                                       function(tr){ return tr.getAttribute('data-model'); }); }
  var out = {sections: []};
  document.querySelectorAll('section.benchmark').forEach(function(sec){
    var s = {benchmark: sec.getAttribute('data-benchmark'), version: sec.getAttribute('data-version')};
    s.initial = order(sec);
    s.headers = Array.prototype.map.call(sec.querySelectorAll('th[data-key]'), function(th){ return th.getAttribute('data-key'); });
    var score = sec.querySelector('th[data-key="score"]');
    score.click(); s.score_first_click = order(sec); s.aria = score.getAttribute('aria-sort');
    score.click(); s.score_second_click = order(sec);
    sec.querySelector('th[data-key="energy_wh_per_1k"]').click(); s.energy_asc = order(sec);
    sec.querySelector('th[data-key="model"]').click(); s.model_asc = order(sec);
    s.points = Array.prototype.map.call(sec.querySelectorAll('svg .point'), function(c){
      var b = c.getBoundingClientRect();
      return {model: c.getAttribute('data-model'), front: c.classList.contains('front'), w: b.width,
              x: parseFloat(c.getAttribute('cx')), y: parseFloat(c.getAttribute('cy'))};
    });
    var path = sec.querySelector('svg .pareto');
    s.pareto = path ? path.getAttribute('d') : null;
    s.svg_width = sec.querySelector('svg').getBoundingClientRect().width;
    s.log_x = sec.querySelector('svg').getAttribute('data-log-x');
    function box(e){ var b = e.getBoundingClientRect(); return {text: e.textContent, left: b.left, right: b.right, top: b.top, bottom: b.bottom}; }
    s.labels = Array.prototype.map.call(sec.querySelectorAll('svg text.label'), box);
    s.dots = Array.prototype.map.call(sec.querySelectorAll('svg .point'), box);
    s.leaders = sec.querySelectorAll('svg line.leader').length;
    s.xticks = Array.prototype.map.call(sec.querySelectorAll('svg text.tick.x'), function(t){ return t.textContent; });
    s.yticks = Array.prototype.map.call(sec.querySelectorAll('svg text.tick.y'), function(t){ return t.textContent; });
    out.sections.push(s);
  });
  var pre = document.createElement('pre'); pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
"""


def run_in_browser(page_html: str, tmp_path) -> dict:
    page = tmp_path / "page.html"
    page.write_text(page_html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
           "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    m = re.search(r'<pre id="probe-result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"probe did not run; chromium rc={proc.returncode}, stderr tail: {proc.stderr[-800:]}"
    return json.loads(html.unescape(m.group(1)))


def test_html_table_sorting_and_plot_in_chromium(tmp_path):
    recs = [rec("a", "org/alpha", 0.90, kwh=1e-2),                  # best, dearest: front
            rec("b", "org/beta", 0.85, kwh=1e-4, estimate=True),    # cheap: front
            rec("c", "org/gamma", 0.80, kwh=5e-3),                  # dominated by beta
            rec("d", "org/delta", 0.88, kwh=None),                  # no energy: row, no point
            rec("e", "org/old", 0.60, version=2)]
    result = run_in_browser(leaderboard(recs, fmt="html"), tmp_path)
    v1, v2 = result["sections"]
    assert (v1["version"], v2["version"]) == ("1", "2")
    assert v1["initial"] == ["org/alpha", "org/delta", "org/beta", "org/gamma"]  # ranked by accuracy
    assert v2["initial"] == ["org/old"]
    assert {"rank", "model", "score", "energy_wh_per_1k", "co2e_g_per_1k"} <= set(v1["headers"])
    assert v1["aria"] == "ascending"
    assert v1["score_first_click"] == ["org/gamma", "org/beta", "org/delta", "org/alpha"]
    assert v1["score_second_click"] == ["org/alpha", "org/delta", "org/beta", "org/gamma"]
    assert v1["energy_asc"] == ["org/beta", "org/gamma", "org/alpha", "org/delta"]  # missing value last
    assert v1["model_asc"] == ["org/alpha", "org/beta", "org/delta", "org/gamma"]
    points = {p["model"]: p for p in v1["points"]}
    assert set(points) == {"org/alpha", "org/beta", "org/gamma"}
    assert {m for m, p in points.items() if p["front"]} == {"org/alpha", "org/beta"}
    assert all(p["w"] > 0 for p in points.values())  # really laid out
    assert v1["log_x"] == "true"  # 100x range of energy
    # cheaper is further left, better is higher up (smaller y)
    assert points["org/beta"]["x"] < points["org/gamma"]["x"] < points["org/alpha"]["x"]
    assert points["org/alpha"]["y"] < points["org/beta"]["y"] < points["org/gamma"]["y"]
    assert v1["pareto"].startswith("M") and v1["pareto"].count("L") == 1
    assert v1["svg_width"] > 100


def _overlap(a, b):
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_plot_labels_do_not_overlap_and_ticks_are_distinct(tmp_path):
    """Three variants of one model sit on nearly the same spot (as sst2's fp32/int8/bf16 do): each label
    stays legible, clear of the other labels and of the points. A narrow linear energy range (as
    translate's 1.7e-6..2.3e-6 Wh) prints each x tick once, not "2e-06" four times."""
    recs = [rec("a", "org/minilm-sst2", 0.850, kwh=1.00e-4),
            rec("b", "org/minilm-sst2", 0.851, kwh=1.01e-4, quantize="int8"),
            rec("c", "org/minilm-sst2", 0.849, kwh=0.99e-4, dtype="bfloat16"),
            rec("d", "majority", 0.51, kwh=1e-7),
            rec("t1", "copy-source", 0.20, kwh=1.7e-9, benchmark="mt-mini"),
            rec("t2", "mt-small", 0.35, kwh=2.3e-9, benchmark="mt-mini"),
            rec("t3", "mt-small", 0.34, kwh=2.0e-9, benchmark="mt-mini", quantize="int8")]
    result = run_in_browser(leaderboard(recs, fmt="html"), tmp_path)
    by = {s["benchmark"]: s for s in result["sections"]}
    sst, mt = by["sst2-mini"], by["mt-mini"]
    assert mt["log_x"] == "false" and len(mt["xticks"]) >= 3
    for s in (sst, mt):
        assert len(s["labels"]) == len(s["dots"]) == len({(r["text"]) for r in s["labels"]}) > 0
        for i, a in enumerate(s["labels"]):
            assert a["right"] > a["left"] and a["bottom"] > a["top"]  # really laid out
            for b in s["labels"][i + 1:]:
                assert not _overlap(a, b), (a, b)
            for d in s["dots"]:
                assert not _overlap(a, d), (a, d)
        for ticks in (s["xticks"], s["yticks"]):
            assert len(ticks) == len(set(ticks)), ticks
    assert sst["leaders"] >= 1  # at least one of the clustered labels had to move off its point
    assert {"minilm-sst2", "minilm-sst2 float32+int8", "minilm-sst2 bfloat16"} <= {r["text"] for r in sst["labels"]}

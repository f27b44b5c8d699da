"""Leaderboard: grouping by benchmark version, ranking direction and ties, Pareto front, formats, CLI."""
from __future__ import annotations

import csv
import io
import json

import pytest

from nlptasks.cli import main
from nlptasks.errors import NlpTasksError, UnknownNameError
from nlptasks.leaderboard import build_sections, leaderboard, pareto_front
from nlptasks.store import ResultStore


def rec(run_id, model, score, kwh=1e-4, *, metric="accuracy", hib=True, version=1, bhash="h1", bench="sst2-mini",
        dtype="float32", quantize=None, created="2025-01-01T00:00:00+00:00", items=100, estimate=False,
        latency=0.01, eps=50.0, size=None, task="sentiment"):
    return {"schema": 1, "run_id": run_id, "task": task,
            "benchmark": {"name": bench, "version": version, "hash": bhash},
            "model": {"name": model, "revision": None, "variant": {"dtype": dtype, "quantize": quantize}},
            "n": items, "metrics": {metric: {"score": score, "ci": None, "stats": {}}},
            "primary_metric": metric, "higher_is_better": {metric: hib}, "settings": {}, "environment": {},
            "cost": {"parameters": 1000, "items": items, "items_per_s": eps, "energy_kwh": kwh,
                     "co2e_g": None if kwh is None else kwh * 400, "energy_is_estimate": estimate,
                     "latency_p50_s": latency, "size_bytes": size},
            "created_at": created}


# -- Pareto ---------------------------------------------------------------------------------------

def test_pareto_front_hand_made_points():
    pts = [(0.9, 10.0),   # best quality: front
           (0.8, 2.0),    # front
           (0.7, 5.0),    # dominated by (0.8, 2)
           (0.8, 3.0),    # dominated by (0.8, 2): equal quality, dearer
           (0.6, 1.0),    # cheapest: front
           (0.9, 12.0),   # dominated by (0.9, 10)
           (0.95, None)]  # unknown cost: not on the front
    assert pareto_front(pts) == [True, True, False, False, True, False, False]


def test_pareto_front_lower_is_better_and_duplicates():
    pts = [(5.0, 1.0), (4.0, 2.0), (6.0, 2.0), (4.0, 2.0)]  # e.g. perplexity
    assert pareto_front(pts, higher_is_better=False) == [True, True, False, True]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 1.0)]) == [True]


# -- ranking --------------------------------------------------------------------------------------

def test_versions_and_hashes_are_never_mixed():
    recs = [rec("a", "m/a", 0.9, version=1), rec("b", "m/b", 0.8, version=2),
            rec("c", "m/c", 0.7, version=1, bhash="h2"), rec("d", "m/d", 0.95, version=1)]
    secs = build_sections(recs)
    assert [(s.version, s.hash, [r["model"] for r in s.rows]) for s in secs] == [
        (1, "h1", ["m/d", "m/a"]), (1, "h2", ["m/c"]), (2, "h1", ["m/b"])]
    text = leaderboard(recs)
    assert text.count("== ") == 3 and "version 2" in text


def test_latest_result_per_model_variant_wins():
    recs = [rec("old", "m/a", 0.5, created="2025-01-01T00:00:00+00:00"),
            rec("new", "m/a", 0.7, created="2025-03-01T00:00:00Z"),
            rec("other-variant", "m/a", 0.6, dtype="bfloat16", created="2024-01-01T00:00:00+00:00")]
    rows = build_sections(recs)[0].rows
    assert [(r["run_id"], r["variant"]) for r in rows] == [("new", "float32"), ("other-variant", "bfloat16")]


def test_ties_share_a_rank():
    recs = [rec("a", "m/a", 0.8, kwh=2e-4), rec("b", "m/b", 0.9), rec("c", "m/c", 0.8, kwh=1e-4), rec("d", "m/d", 0.7)]
    rows = build_sections(recs)[0].rows
    assert [(r["model"], r["rank"]) for r in rows] == [("m/b", 1), ("m/c", 2), ("m/a", 2), ("m/d", 4)]


@pytest.mark.parametrize("metric", ["perplexity", "ter"])
def test_lower_is_better_metrics(metric):
    recs = [rec("a", "m/a", 30.0, kwh=1e-4, metric=metric, hib=False),
            rec("b", "m/b", 12.0, kwh=5e-4, metric=metric, hib=False),
            rec("c", "m/c", 40.0, kwh=2e-4, metric=metric, hib=False)]
    sec = build_sections(recs)[0]
    assert not sec.higher_is_better
    assert [r["model"] for r in sec.rows] == ["m/b", "m/a", "m/c"]
    assert [r["pareto"] for r in sec.rows] == [True, True, False]
    assert "lower is better" in leaderboard(recs)


def test_metric_option_and_unknown_metric():
    recs = [rec("a", "m/a", 0.9), rec("b", "m/b", 0.8)]
    recs[0]["metrics"]["f1"] = {"score": 0.1}
    recs[1]["metrics"]["f1"] = {"score": 0.2}
    recs[0]["higher_is_better"]["f1"] = recs[1]["higher_is_better"]["f1"] = True
    assert [r["model"] for r in build_sections(recs, metric="f1")[0].rows] == ["m/b", "m/a"]
    with pytest.raises(NlpTasksError, match="no result has metric 'bleu'; available: accuracy, f1"):
        build_sections(recs, metric="bleu")


def test_cost_columns_per_1k_examples_and_estimate_mark():
    recs = [rec("a", "m/a", 0.9, kwh=2e-3, items=500, estimate=True)]
    row = build_sections(recs)[0].rows[0]
    assert row["energy_wh_per_1k"] == pytest.approx(2e-3 * 1000 / 500 * 1000)  # 4 Wh per 1k
    assert row["co2e_g_per_1k"] == pytest.approx(2e-3 * 400 / 500 * 1000)
    assert "~4" in leaderboard(recs)


def test_latency_frontier():
    recs = [rec("a", "m/a", 0.9, kwh=1e-3, latency=0.001), rec("b", "m/b", 0.8, kwh=1e-5, latency=0.1)]
    energy = [r["pareto"] for r in build_sections(recs, frontier_x="energy")[0].rows]
    latency = [r["pareto"] for r in build_sections(recs, frontier_x="latency")[0].rows]
    assert energy == [True, True] and latency == [True, False]
    with pytest.raises(NlpTasksError, match="unknown frontier"):
        build_sections(recs, frontier_x="money")


# -- compare --------------------------------------------------------------------------------------

def test_compare_variants_against_float32_baseline():
    recs = [rec("f", "m/a", 0.90, kwh=1e-3, eps=50.0, size=400), rec("b", "m/a", 0.89, kwh=5e-4, dtype="bfloat16", eps=100.0, size=200),
            rec("q", "m/a", 0.85, kwh=2.5e-4, quantize="int8", eps=125.0, size=100), rec("x", "m/other", 0.99)]
    out = json.loads(leaderboard(recs, fmt="json", compare="m/a"))
    assert out["view"] == "compare"
    rows = out["sections"][0]["rows"]
    assert [r["variant"] for r in rows] == ["float32", "bfloat16", "float32+int8"]
    assert [r["baseline"] for r in rows] == [True, False, False]
    assert [round(r["score_delta"], 4) for r in rows] == [0.0, -0.01, -0.05]
    assert [round(r["energy_saved_pct"]) for r in rows] == [0, 50, 75]
    assert [r["speedup"] for r in rows] == [1.0, 2.0, 2.5]
    assert [r["size_saved_pct"] for r in rows] == [0.0, 50.0, 75.0]
    assert "+50%" in leaderboard(recs, compare="m/a")
    with pytest.raises(UnknownNameError, match="no results for model 'nope'.*m/a, m/other"):
        leaderboard(recs, compare="nope")


# -- formats --------------------------------------------------------------------------------------

RECS = [rec("a", "m/a", 0.9, kwh=1e-3), rec("b", "m/b", 0.8, kwh=1e-4, estimate=True), rec("c", "m/c", 0.7, kwh=5e-4),
        rec("d", "m/d", 0.5, version=2)]


def test_all_formats_render():
    table = leaderboard(RECS, fmt="table")
    lines = table.splitlines()
    assert lines[0].startswith("== sentiment: sst2-mini (version 1")
    header, rule = lines[1], lines[2]
    assert len(header) <= len(rule) + 1 and "Wh/1k ex" in header and "gCO2e/1k ex" in header
    assert "front *" in table
    md = leaderboard(RECS, fmt="md")
    assert md.count("### ") == 2 and "| # | front | model |" in md
    rows = list(csv.DictReader(io.StringIO(leaderboard(RECS, fmt="csv"))))
    assert [(r["model"], r["rank"], r["pareto"], r["benchmark_version"]) for r in rows] == [
        ("m/a", "1", "True", "1"), ("m/b", "2", "True", "1"), ("m/c", "3", "False", "1"), ("m/d", "1", "True", "2")]
    data = json.loads(leaderboard(RECS, fmt="json"))
    assert [len(s["rows"]) for s in data["sections"]] == [3, 1]
    page = leaderboard(RECS, fmt="html")
    assert page.startswith("<!DOCTYPE html>") and page.count('<section class="benchmark"') == 2
    assert page.count('class="point') == 4 and 'class="pareto"' in page
    for needle in ("http://", "https://", "src=", "href=", "@import"):
        assert needle not in page  # self-contained: nothing fetched
    with pytest.raises(NlpTasksError, match="unknown format"):
        leaderboard(RECS, fmt="xlsx")


def test_html_escapes_names():
    page = leaderboard([rec("a", "<script>alert(1)</script>", 0.9)], fmt="html")
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def test_empty_store_gives_a_message(tmp_path):
    store = str(tmp_path / "empty.sqlite")
    ResultStore(store).close()  # an existing store without results
    assert leaderboard(store).startswith("No results in")
    assert json.loads(leaderboard(store, fmt="json")) == {"view": "ranking", "sections": []}
    assert "No results" in leaderboard(store, fmt="html")
    assert "matching task=qa" in leaderboard([], task="qa")


# -- CLI ------------------------------------------------------------------------------------------

def test_cli_import_list_show_export_leaderboard(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    src = tmp_path / "in.json"
    src.write_text(json.dumps(RECS))
    assert main(["results", "--store", store, "import", str(src)]) == 0
    assert "imported 4" in capsys.readouterr().err
    assert main(["results", "list", "--store", store]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert main(["results", "show", "b", "--store", store]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == "b"
    assert main(["results", "show", "zzz", "--store", store]) == 2
    assert "no result with run id 'zzz'" in capsys.readouterr().err
    out = tmp_path / "export.json"
    assert main(["results", "export", "--store", store, "--output", str(out)]) == 0
    assert {r["run_id"] for r in json.loads(out.read_text())} == {"a", "b", "c", "d"}
    assert main(["leaderboard", "--store", store, "--format", "md", "--benchmark", "sst2-mini"]) == 0
    assert "| 1 | * | m/a |" in capsys.readouterr().out
    page = tmp_path / "lb" / "index.html"
    assert main(["leaderboard", "--store", store, "--format", "html", "--output", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]  # no temp file left behind
    assert main(["leaderboard", "--store", store, "--compare", "nope"]) == 2
    assert "no results for model 'nope'" in capsys.readouterr().err


def test_cli_empty_and_corrupt_store(tmp_path, capsys):
    ResultStore(tmp_path / "new.sqlite").close()
    assert main(["leaderboard", "--store", str(tmp_path / "new.sqlite")]) == 0
    assert "No results in" in capsys.readouterr().out
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    assert main(["leaderboard", "--store", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nlptasks: error: results store") and "bad.sqlite" in err and "Traceback" not in err
    assert bad.read_text() == "not a database"


def test_store_object_accepted(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    for r in RECS:
        store.add(r)
    assert leaderboard(store, task="sentiment", fmt="csv").count("\n") == 5
    assert leaderboard(store, benchmark="other").startswith("No results in")

"""Leaderboard: grouping by benchmark version, ranking direction and ties, Pareto front, formats, CLI."""
from __future__ import annotations

import csv
import io
import json

import pytest

from nlptasks.cli import main
from nlptasks.errors import NlpTasksError, UnknownNameError
from nlptasks.leaderboard import build_sections, compare_sections, leaderboard, pareto_front
from nlptasks.evaluation.store import ResultStore


def rec(run_id, model, score, kwh=1e-4, *, metric="accuracy", hib=True, version=1, bhash="h1", bench="sst2-mini",
        dtype="float32", quantize=None, created="2025-01-01T00:00:00+00:00", items=100, estimate=False,
        latency=0.01, eps=50.0, size=None, task="sentiment", data="d1", full_n=None, limit=None):
    """A record with the keys ``evaluate`` writes (checked by test_helper_records_use_the_keys_evaluate_writes)."""
    return {"schema": 1, "run_id": run_id, "task": task,
            "benchmark": {"name": bench, "version": version, "hash": bhash},
            "model": {"name": model, "revision": None, "variant": {"dtype": dtype, "quantize": quantize}},
            "n": items, "metrics": {metric: {"score": score, "ci": None, "stats": {}}},
            "primary_metric": metric, "higher_is_better": {metric: hib},
            "settings": {"limit": limit, "batch_size": None}, "environment": {},
            "cost": {"parameters": 1000, "items": items, "items_per_s": eps, "examples_per_s": eps, "energy_kwh": kwh,
                     "co2e_g": None if kwh is None else kwh * 400, "energy_is_estimate": estimate,
                     "latency_p50_s": latency, "size_bytes": size},
            "data": {"fingerprint": data, "n": items, "full_n": items if full_n is None else full_n,
                     "source": "json: sentiment/validation.jsonl"},
            "created_at": created}


def real_records(tmp_path, limits=(None,)):
    """Records from the real ``evaluate`` (majority baseline on a 5-line file: no model to load)."""
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation.engine import evaluate

    f = tmp_path / "five.jsonl"
    rows = [("good", 1), ("bad", 0), ("fine", 1), ("nice", 1), ("awful", 0)]
    f.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    return [evaluate(adhoc_benchmark("sentiment", str(f)), "majority", limit=lim, store=False) for lim in limits]


def test_helper_records_use_the_keys_evaluate_writes(tmp_path):
    (real,) = real_records(tmp_path)
    made = rec("a", "m/a", 0.9)
    assert set(made) <= set(real)
    for section in ("benchmark", "model", "settings", "cost", "data"):
        assert set(made[section]) <= set(real[section]), section
    assert set(made["model"]["variant"]) <= set(real["model"]["variant"])


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


# -- data and partial runs ------------------------------------------------------------------------

def sst2_runs():
    """Two full runs (872 examples) and a --limit 8 run that scores best on its 8 examples."""
    return [rec("full-a", "m/a", 80.0, items=872, data="full"), rec("full-b", "m/b", 85.0, items=872, data="full"),
            rec("part-c", "m/c", 87.5, items=8, full_n=872, data="first8", limit=8)]


def test_partial_runs_are_left_out_of_the_ranking():
    recs = sst2_runs()
    (sec,) = build_sections(recs)
    assert [r["model"] for r in sec.rows] == ["m/b", "m/a"] and not sec.partial
    assert (sec.data, sec.n) == ("full", 872)
    table = leaderboard(recs)
    assert "m/c" not in table and "1 partial result(s)" in table and "--include-partial" in table
    assert "m/c" not in leaderboard(recs, fmt="md") and "partial result(s)" in leaderboard(recs, fmt="md")
    page = leaderboard(recs, fmt="html")
    assert 'data-model="m/c"' not in page and 'class="note partial"' in page
    assert [r["model"] for r in csv.DictReader(io.StringIO(leaderboard(recs, fmt="csv")))] == ["m/b", "m/a"]
    data = json.loads(leaderboard(recs, fmt="json"))
    assert [r["model"] for s in data["sections"] for r in s["rows"]] == ["m/b", "m/a"]
    assert data["omitted_partial"] == [{"benchmark": "sst2-mini", "version": 1, "hash": "h1", "data": "first8",
                                        "n": 8, "full_n": 872, "results": 1}]


def test_include_partial_shows_them_apart_and_marked_in_every_format():
    recs = sst2_runs()
    full, part = build_sections(recs, include_partial=True)
    assert not full.partial and [r["model"] for r in full.rows] == ["m/b", "m/a"]
    assert part.partial and (part.n, part.full_n) == (8, 872) and [r["model"] for r in part.rows] == ["m/c"]
    assert "PARTIAL: 8 of 872 examples" in part.title and "PARTIAL" not in full.title
    for fmt in ("table", "md", "html"):
        text = leaderboard(recs, fmt=fmt, include_partial=True)
        assert text.count("PARTIAL: 8 of 872") == 1 and "m/c" in text, fmt
        assert text.index("m/b") < text.index("PARTIAL") < text.index("m/c"), fmt
        assert "partial result(s)" not in text
    rows = list(csv.DictReader(io.StringIO(leaderboard(recs, fmt="csv", include_partial=True))))
    assert [(r["model"], r["rank"], r["partial"]) for r in rows] == [("m/b", "1", "False"), ("m/a", "2", "False"),
                                                                    ("m/c", "1", "True")]
    data = json.loads(leaderboard(recs, fmt="json", include_partial=True))
    assert [(s["partial"], s["data"]["n"], s["data"]["full_n"]) for s in data["sections"]] == [
        (False, 872, 872), (True, 8, 872)]
    assert "omitted_partial" not in data
    assert 'data-partial="true"' in leaderboard(recs, fmt="html", include_partial=True)


def test_older_records_without_full_n_are_partial_beside_a_larger_run():
    recs = sst2_runs()
    for r in recs:
        del r["data"]["full_n"]
    assert [r["model"] for s in build_sections(recs) for r in s.rows] == ["m/b", "m/a"]
    part = build_sections(recs, include_partial=True)[1]
    assert part.partial and part.full_n == 872


def test_different_data_of_one_definition_is_never_ranked_together():
    recs = [rec("a", "m/a", 0.9, data="old"), rec("b", "m/b", 0.8, data="new"), rec("c", "m/c", 0.7, data="new")]
    secs = build_sections(recs)
    assert [(s.data, [r["model"] for r in s.rows]) for s in secs] == [("new", ["m/b", "m/c"]), ("old", ["m/a"])]
    assert not any(s.partial for s in secs)
    assert "data new" in leaderboard(recs) and "data old" in leaderboard(recs)


def test_compare_leaves_out_partial_variants():
    recs = [rec("f", "m/a", 0.90, items=872, data="full"), rec("q", "m/a", 0.95, quantize="int8", items=8,
                                                               full_n=872, data="first8", limit=8)]
    (sec,) = compare_sections(recs, "m/a")
    assert [r["variant"] for r in sec.rows] == ["float32"]
    assert "1 partial result(s)" in leaderboard(recs, compare="m/a")
    secs = compare_sections(recs, "m/a", include_partial=True)
    assert [(s.partial, [r["variant"] for r in s.rows]) for s in secs] == [(False, ["float32"]), (True, ["float32+int8"])]


def test_partial_runs_from_evaluate_are_not_ranked(tmp_path):
    full, limited = real_records(tmp_path, limits=(None, 2))
    assert (full["data"]["n"], full["data"]["full_n"]) == (5, 5)
    assert (limited["data"]["n"], limited["data"]["full_n"]) == (2, 5)
    limited["model"]["name"] = "majority-limited"
    (sec,) = build_sections([full, limited])
    assert [r["model"] for r in sec.rows] == ["majority"]
    assert [s.partial for s in build_sections([full, limited], include_partial=True)] == [False, True]


def test_cli_include_partial(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    src = tmp_path / "in.json"
    src.write_text(json.dumps(sst2_runs()))
    assert main(["results", "--store", store, "import", str(src)]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "m/c" not in out and "1 partial result(s)" in out
    assert main(["leaderboard", "--store", store, "--include-partial", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "PARTIAL: 8 of 872" in out and "| 1 | * | m/c |" in out


def test_only_partial_runs_give_the_note_not_an_empty_ranking():
    recs = [rec("p", "m/a", 0.9, items=8, full_n=872, limit=8)]
    assert leaderboard(recs).startswith("1 partial result(s)")
    assert "partial result(s)" in leaderboard(recs, fmt="html")
    assert "No results" not in leaderboard(recs, fmt="html")
    assert leaderboard(recs, metric="accuracy").startswith("1 partial result(s)")


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


def test_log_axis_under_two_decades_has_several_ticks():
    """A log axis from 0.03 to 0.9 (1.5 decades) had one tick, 0.1; now 1-2-5 ticks, all inside."""
    from nlptasks.leaderboard.render_html import _Axis, _tick_labels

    axis = _Axis([0.03, 0.9], (0, 100), allow_log=True)
    assert axis.log
    ticks = axis.ticks()
    assert len(ticks) >= 3 and all(0.03 * 0.7 <= t <= 0.9 * 1.4 for t in ticks)
    assert len(set(_tick_labels(ticks))) == len(ticks)
    wide = _Axis([1e-6, 1e-1], (0, 100), allow_log=True).ticks()
    assert wide == [10.0 ** k for k in range(-6, 0)]  # several decades: one tick per decade


def test_plot_tick_labels_are_distinct_and_exact():
    """A narrow energy range gave ticks 1.8e-06, 2e-06, 2.2e-06 that all printed as "2e-06"."""
    from nlptasks.leaderboard.render_html import _tick_labels

    for ticks in ([1.8e-6, 2e-6, 2.2e-6], [1.75e-6, 2e-6, 2.25e-6, 2.5e-6], [0.25, 0.5, 0.75, 1.0], [0.0, 50.0, 100.0],
                  [84.5, 85.0, 85.5], [1e-9, 1e-8, 1e-7]):
        labels = _tick_labels(ticks)
        assert len(set(labels)) == len(labels), labels
        assert all(float(t) == pytest.approx(v, rel=1e-9, abs=1e-15) for t, v in zip(labels, ticks)), labels
    assert _tick_labels([1.8e-6, 2e-6, 2.2e-6]) == ["1.8e-06", "2e-06", "2.2e-06"]
    assert _tick_labels([0.0, 50.0, 100.0]) == ["0", "50", "100"]

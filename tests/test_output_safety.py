"""What leaves nlptasks is safe to open: CSV without formulas, Markdown/HTML without markup from names,
no password from a store URL, and read-only commands that create or change nothing."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re

import pytest

from nlptasks.cli import main
from nlptasks.leaderboard import leaderboard
from nlptasks.evaluation.store import ResultStore
from nlptasks.urls import mask_url


def rec(run_id, model, score, bench="sst2-mini", created="2025-01-01T00:00:00+00:00", dtype="float32"):
    return {"schema": 1, "run_id": run_id, "task": "sentiment",
            "benchmark": {"name": bench, "version": 1, "hash": "h1"},
            "model": {"name": model, "revision": None, "variant": {"dtype": dtype, "quantize": None}},
            "n": 100, "metrics": {"accuracy": {"score": score, "ci": [score - 0.1, score + 0.1], "stats": {}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True}, "settings": {},
            "environment": {}, "cost": {"energy_kwh": 1e-4, "items": 100, "items_per_s": 50.0, "co2e_g": 0.04},
            "created_at": created}


# -- CSV: formula injection (item 6) ----------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("name", FORMULAS)
def test_csv_cells_never_start_a_formula(name):
    # names come from a list of records here; a name with a control character ("\tcmd") is refused by the
    # record schema (ResultRecord.from_dict), so that record is left out of the board
    from nlptasks.evaluation.result import ResultRecord

    text = leaderboard([rec("a", name, 0.9), rec("b", "m/ok", 0.8)], fmt="csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_id = {r["run_id"]: r for r in rows}
    if ResultRecord.problems(rec("a", name, 0.9)):
        assert "a" not in by_id and name[0] in "\t\r"
    else:
        assert by_id["a"]["model"] == "'" + name
    assert by_id["b"]["model"] == "m/ok"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value


def test_csv_keeps_negative_numbers_numeric(tmp_path):
    recs = [rec("a", "m/a", 0.9), rec("b", "m/a", 0.05, dtype="float16")]
    recs[1]["metrics"]["accuracy"]["ci"] = [-0.05, 0.15]
    text = leaderboard(recs, fmt="csv", compare="m/a")
    row = {r["variant"]: r for r in csv.DictReader(io.StringIO(text))}["float16"]
    assert float(row["score_delta"]) < 0 and not row["score_delta"].startswith("'")
    assert row["ci_low"] == "-0.05"


# -- Markdown / HTML: markup from names (item 7) ------------------------------------------------------

EVIL = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a\n| 1 | * | injected |",
        "[click](https://evil.example)", "x\" onmouseover=\"alert(1)", "a|b"]


@pytest.mark.parametrize("name", EVIL)
def test_markdown_escapes_names_in_cells_and_headings(name):
    from nlptasks.evaluation.result import ResultRecord

    md = leaderboard([rec("a", name, 0.9, bench=name), rec("b", "m/ok", 0.8, bench=name)], fmt="md")
    if ResultRecord.problems(rec("a", name, 0.9, bench=name)):  # a newline: the record schema refuses it
        assert "injected" not in md and "|" not in md
        return
    lines = md.splitlines()
    table = [ln for ln in lines if ln.startswith("|")]
    assert len(table) == 4  # header, rule, two rows: a newline adds no row
    for bad in ("<script", "<img", "\" onmouseover"):
        assert bad not in md
    assert not re.search(r"(?<!\\)\]\(", md)  # no Markdown link or image
    head = next(ln for ln in lines if ln.startswith("### "))
    assert "\n" not in head and "<" not in head
    row = next(ln for ln in table if "m/ok" not in ln and "---" not in ln and "model" not in ln)
    assert row.count(" | ") == len(table[0].split(" | ")) - 1  # still the same number of cells


def test_markdown_shows_names_readably():
    md = leaderboard([rec("a", "<b>&co</b>", 0.9)], fmt="md")
    assert "&lt;b&gt;&amp;co&lt;/b&gt;" in md


@pytest.mark.parametrize("name", EVIL)
def test_html_escapes_names_everywhere(name):
    page = leaderboard([rec("a", name, 0.9, bench=name), rec("b", "m/ok", 0.8, bench=name)], fmt="html")
    assert "<script>alert" not in page and "<img" not in page
    assert 'onmouseover="alert' not in page and "onerror=alert(1)>" not in page
    assert page.count("<script>") == 1  # only the page's own script


def test_suite_render_escapes_markdown(tmp_path):
    from nlptasks.evaluation.suites import render_suite

    # a name with a newline is refused by the record schema: left out, it adds no row either
    paths = render_suite("s", [rec("a", "<img src=x onerror=alert(1)>", 0.9), rec("b", "m/b\nnew row", 0.8)],
                         str(tmp_path))
    md = paths[0].read_text()
    assert "<img" not in md and sum(ln.startswith("|") for ln in md.splitlines()) == 3 and "new row" not in md
    assert "<img" not in paths[1].read_text()


# -- credentials (item 8) ------------------------------------------------------------------------------

def test_mask_url():
    assert mask_url("postgresql://u:p4ss@host/db") == "postgresql://u:***@host/db"
    assert mask_url("store postgresql+psycopg://u:p@ss@host:5432/db failed") == \
        "store postgresql+psycopg://u:***@host:5432/db failed"
    assert "s3cret" not in mask_url("mysql://u@h/db?password=s3cret&x=1")
    for plain in ("runs.sqlite", "sqlite:///tmp/a.sqlite", "http://host:8080/x", "no url here"):
        assert mask_url(plain) == plain


@pytest.mark.parametrize("url", ["postgresql://user:s3cretpw@127.0.0.1:1/db",
                                 "postgresql://user:s3cretpw@host:notaport/db",
                                 "nosuchdialect://user:s3cretpw@host/db"])
@pytest.mark.parametrize("cmd", [["leaderboard"], ["results", "list"], ["results", "import", "x.json"]])
def test_store_password_is_never_printed(url, cmd, capsys):
    code = main(cmd[:1] + ["--store", url] + cmd[1:]) if cmd[0] == "leaderboard" else \
        main([cmd[0], "--store", url] + cmd[1:])
    out = capsys.readouterr()
    assert code == 2
    assert "s3cretpw" not in out.err + out.out
    assert out.err.startswith("nlptasks: error:") and out.err.count("\n") == 1


def test_store_object_hides_password():
    with pytest.raises(Exception) as info:
        ResultStore("postgresql://user:s3cretpw@host:notaport/db")
    assert "s3cretpw" not in str(info.value) and "user:***@host" in str(info.value)


# -- read-only commands create and change nothing (item 22) ------------------------------------------

def _snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.iterdir())}


def test_missing_store_is_an_error_and_not_created(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for cmd in (["leaderboard", "--store", "missing.db"], ["results", "list", "--store", "missing.db"],
                ["results", "show", "x", "--store", "missing.db"], ["results", "export", "--store", "missing.db"],
                ["results", "delete", "x", "--store", "missing.db"]):
        assert main(cmd) == 2
        assert capsys.readouterr().err == "nlptasks: error: no such store: missing.db\n"
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_leave_the_store_untouched(tmp_path, capsys):
    folder = tmp_path / "db"
    folder.mkdir()
    store = folder / "s.sqlite"
    src = tmp_path / "in.json"
    src.write_text(json.dumps([rec("a", "m/a", 0.9), rec("b", "m/b", 0.8)]))
    assert main(["results", "--store", str(store), "import", str(src)]) == 0
    ResultStore(store).close()  # no writer left: the WAL is checkpointed and its files removed
    before = _snapshot(folder)
    assert list(before) == ["s.sqlite"]
    os.utime(store, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = _snapshot(folder)
    out = tmp_path / "out.json"
    for cmd in (["leaderboard", "--store", str(store)], ["leaderboard", "--store", str(store), "--format", "html"],
                ["results", "list", "--store", str(store)], ["results", "show", "a", "--store", str(store)],
                ["results", "export", "--store", str(store), "-o", str(out)]):
        assert main(cmd) == 0, cmd
        assert _snapshot(folder) == before, cmd
    assert "m/a" in capsys.readouterr().out and len(json.loads(out.read_text())) == 2
    # the Python API too
    assert "m/b" in leaderboard(str(store))
    assert _snapshot(folder) == before


def test_read_only_while_a_writer_is_open(tmp_path):
    store = tmp_path / "s.sqlite"
    writer = ResultStore(store)
    writer.add(rec("a", "m/a", 0.9))
    names = sorted(p.name for p in tmp_path.iterdir())  # the writer's -wal/-shm
    assert "m/a" in leaderboard(str(store))
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    writer.add(rec("b", "m/b", 0.8))
    assert "m/b" in leaderboard(str(store))  # sees committed rows still in the WAL
    writer.close()


def test_empty_file_is_an_empty_store_and_stays_empty(tmp_path, capsys):
    store = tmp_path / "empty.sqlite"
    store.write_bytes(b"")
    assert main(["leaderboard", "--store", str(store)]) == 0
    assert "No results in" in capsys.readouterr().out
    assert store.read_bytes() == b"" and [p.name for p in tmp_path.iterdir()] == ["empty.sqlite"]

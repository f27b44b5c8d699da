"""Results store: upsert, queries, import/export, concurrent writers, refusing foreign files."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3

import pytest

from nlptasks.errors import InputError, NlpTasksError
from nlptasks.evaluation.store import ResultStore, default_location


def record(run_id="r1", task="sentiment", model="m/a", bench="sst2-mini", version=1, score=0.9,
           dtype="float32", quantize=None, created="2025-01-01T00:00:00+00:00", **extra):
    return {"schema": 1, "run_id": run_id, "task": task,
            "benchmark": {"name": bench, "version": version, "hash": "h1"},
            "model": {"name": model, "revision": None, "variant": {"dtype": dtype, "quantize": quantize}},
            "n": 10, "metrics": {"accuracy": {"score": score, "ci": [score - 0.1, score + 0.1], "stats": {}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True}, "settings": {},
            "environment": {}, "cost": {"energy_kwh": 1e-5}, "created_at": created, **extra}


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_get_upsert_query_delete(store_url):
    store = ResultStore(store_url)
    store.add(record("r1", extra_key={"kept": [1, 2]}))
    store.add(record("r2", model="m/b", score=0.5, created="2025-01-02T00:00:00+00:00"))
    store.add(record("r3", task="qa", bench="squad-mini"))
    assert store.get("r1")["extra_key"] == {"kept": [1, 2]}  # opaque keys survive
    store.add(record("r1", score=0.95))  # same run id: updated, not duplicated
    assert len(store.query()) == 3
    assert store.get("r1")["metrics"]["accuracy"]["score"] == 0.95
    assert [r["run_id"] for r in store.query(task="sentiment")] == ["r1", "r2"]
    assert [r["run_id"] for r in store.query(benchmark="squad-mini")] == ["r3"]
    assert [r["run_id"] for r in store.query(model="m/b")] == ["r2"]
    assert store.query(task="sentiment", model="m/zzz") == []
    assert store.delete("r2") is True and store.delete("r2") is False
    assert store.get("r2") is None
    store.close()
    assert len(ResultStore(store_url).query()) == 2  # reopening finds the data


def test_sqlite_columns_and_schema_marker(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    store.add(record("r1", score=0.95))
    store.close()
    con = sqlite3.connect(tmp_path / "s.sqlite")
    assert con.execute("SELECT value FROM nlptasks_meta WHERE key='schema_version'").fetchone() == ("1",)
    assert con.execute("SELECT variant, primary_score FROM nlptasks_results WHERE run_id='r1'").fetchone() == ("float32", 0.95)
    con.close()


def test_sqlalchemy_url_and_env_default(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'u.sqlite'}"
    ResultStore(url).add(record())
    assert ResultStore(str(tmp_path / "u.sqlite")).get("r1") is not None
    monkeypatch.setenv("NLPTASKS_STORE", str(tmp_path / "env.sqlite"))
    assert default_location() == str(tmp_path / "env.sqlite")
    ResultStore().add(record("e1"))
    assert (tmp_path / "env.sqlite").exists()


def test_invalid_records_are_refused(store_url):
    store = ResultStore(store_url)
    with pytest.raises(InputError, match="'model.name'"):
        store.add({"run_id": "x", "task": "sentiment", "benchmark": {"name": "b", "version": 1}, "model": {},
                   "metrics": {"a": {"score": 1}}, "primary_metric": "a"})
    with pytest.raises(InputError, match="'run_id'"):
        store.add({"task": "t"})
    with pytest.raises(InputError, match="JSON object"):
        store.add(["not", "a", "dict"])


def test_export_import_round_trip(tmp_path, store_url):
    a = ResultStore(store_url)
    recs = [record(f"r{i}", score=i / 10, created=f"2025-01-0{i + 1}T00:00:00+00:00") for i in range(5)]
    for r in recs:
        a.add(r)
    out = tmp_path / "out" / "all.json"
    assert a.export(out) == 5
    assert json.loads(out.read_text()) == recs
    b = ResultStore(tmp_path / "b.sqlite")
    assert b.import_(out) == 5
    assert b.query() == recs
    assert b.import_(out) == 5  # importing again updates, does not duplicate
    assert len(b.query()) == 5
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text(json.dumps(record("j1")) + "\n" + json.dumps(record("j2")) + "\n")
    assert b.import_(jsonl) == 2 and b.get("j2") is not None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json:1"):
        b.import_(bad)
    with pytest.raises(InputError, match="no such file"):
        b.import_(tmp_path / "missing.json")


def test_corrupt_file_is_refused_and_unchanged(tmp_path):
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(b"this is not a database\n" * 100)
    before = digest(path)
    with pytest.raises(NlpTasksError, match="corrupt.sqlite.*not a SQLite database"):
        ResultStore(path)
    assert digest(path) == before
    # right magic, garbage after it
    path2 = tmp_path / "truncated.sqlite"
    path2.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    before2 = digest(path2)
    with pytest.raises(NlpTasksError, match="truncated.sqlite"):
        ResultStore(path2)
    assert digest(path2) == before2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.sqlite", "truncated.sqlite"]


def test_foreign_sqlite_database_is_refused_and_unchanged(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('ada')")
    con.commit()
    con.close()
    before = digest(path)
    with pytest.raises(NlpTasksError, match=r"other.db is a database of something else \(tables: customers\)"):
        ResultStore(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    ResultStore(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE nlptasks_meta SET value='99'")
    con.commit()
    con.close()
    with pytest.raises(NlpTasksError, match="schema version 99"):
        ResultStore(path)


def _writer(url: str, prefix: str, n: int, go) -> None:
    store = ResultStore(url)
    go.wait(30)  # both processes start writing at the same moment
    for i in range(n):
        store.add(record(f"{prefix}-{i}", score=i / n))
        store.add(record("both", model=f"m/{prefix}", score=i / n))  # the same run id from both processes
    store.close()


def test_two_processes_write_concurrently(store_url):
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(store_url, p, 100, go)) for p in ("a", "b")]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    records = ResultStore(store_url, readonly=True).query()
    assert {r["run_id"] for r in records} == {f"{p}-{i}" for p in ("a", "b") for i in range(100)} | {"both"}
    both = [r for r in records if r["run_id"] == "both"]  # one row, written last by one of them
    assert len(both) == 1 and both[0]["model"]["name"] in ("m/a", "m/b")
    assert both[0]["metrics"]["accuracy"]["score"] == 99 / 100

"""SQLite results store under concurrent writers and readers: a read-only connection is never fooled by a
writer that checkpoints its WAL into the database file during the read ("database disk image is
malformed" when read-only connections were opened with ``immutable=1``), and nothing written is lost."""
from __future__ import annotations

import json
import multiprocessing
import random
import sqlite3
import threading
import time
from pathlib import Path

from nlptasks.evaluation.store import ResultStore, connect_readonly

WRITERS, PER_WRITER, READERS, SHARED = 3, 12, 2, 3


def record(run_id: str, pad: int = 3000) -> dict:
    return {"schema": 1, "run_id": run_id, "task": "sentiment",
            "benchmark": {"name": "sst2-mini", "version": 1, "hash": "h1"},
            "model": {"name": f"m/{run_id}", "revision": None, "variant": {"dtype": "float32", "quantize": None}},
            "n": 10, "metrics": {"accuracy": {"score": 0.5, "ci": [0.4, 0.6], "stats": {}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True},
            "settings": {"pad": "x" * pad},  # records over a page: a read touches many pages
            "environment": {}, "cost": {}, "created_at": "2025-01-01T00:00:00+00:00"}


def _integrity(path: Path) -> list:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


def test_a_read_sees_one_snapshot_while_a_writer_adds_and_closes(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as st:
        for i in range(20):
            st.add(record(f"a{i}"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]  # no connection open: no -wal/-shm

    reader = connect_readonly(path)  # what ResultStore(readonly=True) reads through
    reader.execute("BEGIN")
    first = reader.execute("SELECT count(*) FROM nlptasks_results").fetchone()[0]
    errors = []

    def write():  # another process's eval: open, add, close (the last close checkpoints the WAL)
        try:
            with ResultStore(path) as st:
                for i in range(20):
                    st.add(record(f"b{i}"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(1.5)  # long enough for the writer to finish if nothing holds it back
    try:
        rows = reader.execute("SELECT run_id, record FROM nlptasks_results").fetchall()
        again = reader.execute("SELECT count(*) FROM nlptasks_results").fetchone()[0]
    finally:
        reader.close()
    writer.join(60)
    assert not writer.is_alive() and errors == []
    assert first == again == len(rows) == 20  # one snapshot: the read did not see half a checkpoint
    assert all(json.loads(text)["run_id"] == run_id for run_id, text in rows)
    assert _integrity(path) == [("ok",)]
    with ResultStore(path, readonly=True) as st:
        assert {r["run_id"] for r in st.query()} == {f"{p}{i}" for p in "ab" for i in range(20)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]  # the reads left nothing beside it


def _writer(path: str, name: str, go, errors) -> None:
    rnd = random.Random(name)
    go.wait(60)
    try:
        for i in range(PER_WRITER):  # as `nlptasks eval` does: a store opened, one record added, closed
            with ResultStore(path) as st:
                st.add(record(f"{name}-{i}"))
                # and one record every writer replaces, at another size each time: its overflow pages are
                # freed and reused, so a read that is not isolated from the writers follows a torn chain
                for k in range(SHARED):
                    st.add(record(f"shared-{k}", pad=rnd.randrange(1000, 40000)))
            time.sleep(rnd.random() * 0.15)
    except Exception as exc:
        errors.put(f"writer {name}: {type(exc).__name__}: {exc}")


def _check_prefixes(ids: set, names: list[str]) -> None:
    """Each writer adds its records in order, one after the other committed: a read sees a prefix of them."""
    for name in names:
        mine = {x for x in ids if x.startswith(name + "-")}  # (shared-K are every writer's)
        if mine != {f"{name}-{i}" for i in range(len(mine))}:
            raise AssertionError(f"a read saw {sorted(mine)}: not a prefix of {name}'s records")


def _reader(path: str, names: list[str], stop, go, errors) -> None:
    rnd = random.Random()
    go.wait(60)
    seen = 0
    try:
        while not stop.is_set():
            # a slow read, row by row (as a large store's board is read), during which writers come and go
            con = connect_readonly(Path(path))
            try:
                slow = set()
                for run_id, text in con.execute("SELECT run_id, record FROM nlptasks_results"):
                    if json.loads(text)["run_id"] != run_id:
                        raise AssertionError(f"row {run_id} holds another record")
                    slow.add(run_id)
                    time.sleep(0.004)
            finally:
                con.close()
            _check_prefixes(slow, names)
            if len(slow) < seen:
                raise AssertionError(f"a read saw {len(slow)} records after one saw {seen}")
            seen = len(slow)
            if rnd.random() < 0.3:
                with ResultStore(path, readonly=True) as st:  # the leaderboard's and `results list`'s read
                    _check_prefixes({r.run_id for r in st.records()}, names)
            time.sleep(rnd.random() * 0.05)
    except Exception as exc:
        errors.put(f"reader: {type(exc).__name__}: {exc}")


def test_writer_and_reader_processes_share_one_store(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as st:  # a store with some results already, as a team's store is
        for i in range(30):
            st.add(record(f"old-{i}"))
    ctx = multiprocessing.get_context("spawn")
    go, stop, errors = ctx.Event(), ctx.Event(), ctx.Queue()
    names = [f"w{k}" for k in range(WRITERS)]
    writers = [ctx.Process(target=_writer, args=(str(path), name, go, errors)) for name in names]
    readers = [ctx.Process(target=_reader, args=(str(path), names, stop, go, errors)) for _ in range(READERS)]
    for p in writers + readers:
        p.start()
    go.set()
    for p in writers:
        p.join(120)
    stop.set()
    for p in readers:
        p.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert [p.exitcode for p in writers + readers] == [0] * (WRITERS + READERS)
    assert _integrity(path) == [("ok",)]
    with ResultStore(path, readonly=True) as st:
        ids = {r["run_id"] for r in st.query()}
    assert ids == ({f"old-{i}" for i in range(30)} | {f"{n}-{i}" for n in names for i in range(PER_WRITER)}
                   | {f"shared-{k}" for k in range(SHARED)})

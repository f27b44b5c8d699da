"""The results store on a real PostgreSQL server (tests/pg_server.py) next to SQLite: the driver, the
password staying out of every message, read-only access enforced by the server, all-or-nothing
imports, values at the column limits, and the same leaderboard from both backends."""
from __future__ import annotations

import json
import sys

import pytest

from nlptasks.cli import main
from nlptasks.errors import InputError, NlpTasksError
from nlptasks.leaderboard import leaderboard
from nlptasks.evaluation.store import PG_DRIVER_HINT, ResultStore, engine_url
from test_store import record

WRONG = "wr0ngPassw0rd"


def _tables(server, db) -> list[str]:
    with server.admin(db) as con:
        return [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


def _rows(server, db) -> list[tuple]:
    with server.admin(db) as con:
        return con.execute("SELECT run_id, record FROM nlptasks_results ORDER BY run_id").fetchall()


# -- the driver ----------------------------------------------------------------------------------------

def test_postgresql_urls_use_psycopg3():
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgres://u@h:5433/db") == "postgresql+psycopg://u@h:5433/db"
    for other in ("postgresql+psycopg2://u@h/db", "sqlite:///x.sqlite", "mysql+pymysql://u@h/db"):
        assert engine_url(other) == other


@pytest.mark.parametrize("url", ["postgresql://u:s3cretpw@127.0.0.1:1/db", "postgres://u@h/db",
                                 "postgresql+psycopg://u@h/db"])
def test_missing_driver_is_one_line(url, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(NlpTasksError) as info:
        ResultStore(url)
    assert str(info.value) == PG_DRIVER_HINT == "PostgreSQL store needs the driver: pip install 'nlptasks[postgres]'"
    assert main(["leaderboard", "--store", url]) == 2
    assert capsys.readouterr().err == f"nlptasks: error: {PG_DRIVER_HINT}\n"


def test_plain_postgresql_url_connects_with_psycopg3(pg_server):
    db = pg_server.create_database()
    for scheme in ("postgresql", "postgres"):
        store = ResultStore(pg_server.url(db, scheme=scheme))
        assert store._engine.dialect.driver == "psycopg"
        store.add(record(f"via-{scheme}"))
        store.close()
    assert [r[0] for r in _rows(pg_server, db)] == ["via-postgres", "via-postgresql"]


# -- credentials -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", [["leaderboard"], ["results", "list"], ["results", "export"]])
def test_wrong_password_is_one_masked_line(pg_server, cmd, capsys):
    url = pg_server.url(pg_server.create_database(), password=WRONG)
    argv = cmd[:1] + ["--store", url] + cmd[1:]
    assert main(argv) == 2
    out = capsys.readouterr()
    assert WRONG not in out.err + out.out and pg_server.password not in out.err + out.out
    assert out.err.count("\n") == 1 and out.err.startswith("nlptasks: error: results store postgresql://")
    assert "nlptasks_test:***@127.0.0.1" in out.err and "password authentication failed" in out.err


def test_wrong_password_on_write_is_masked(pg_server, tmp_path, capsys):
    src = tmp_path / "in.json"
    src.write_text(json.dumps([record("a")]))
    url = pg_server.url(pg_server.create_database(), password=WRONG)
    assert main(["results", "--store", url, "import", str(src)]) == 2
    err = capsys.readouterr().err
    assert WRONG not in err and err.count("\n") == 1 and "password authentication failed" in err
    with pytest.raises(NlpTasksError) as info:
        ResultStore(url).add(record("a"))
    assert WRONG not in str(info.value) and "***" in str(info.value)


def test_password_from_pgpassword_or_pgpass_not_the_url(pg_server, tmp_path, monkeypatch, capsys):
    db = pg_server.create_database()
    url = pg_server.url(db, password=None)  # postgresql://nlptasks_test@127.0.0.1:PORT/db
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(NlpTasksError, match="no password supplied"):
        ResultStore(url)
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    ResultStore(url).add(record("env"))
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:{db}:nlptasks_test:{pg_server.password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert main(["leaderboard", "--store", url, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "m/a" in out and pg_server.password not in out


# -- read-only ---------------------------------------------------------------------------------------------

def test_read_only_creates_nothing_and_the_server_refuses_writes(pg_server, tmp_path, capsys):
    db = pg_server.create_database()
    url = pg_server.url(db)
    ro = ResultStore(url, readonly=True)  # an empty database: nothing to read, nothing created
    assert ro.query() == [] and ro.get("a") is None
    assert main(["leaderboard", "--store", url]) == 0 and "No results in" in capsys.readouterr().out
    assert _tables(pg_server, db) == []
    with ResultStore(url) as rw:
        rw.add(record("a"))
    before = _rows(pg_server, db)
    ro = ResultStore(url, readonly=True)
    assert [r["run_id"] for r in ro.query()] == ["a"]
    with pytest.raises(NlpTasksError, match="opened read-only"):
        ro.add(record("b"))
    import sqlalchemy as sa

    with pytest.raises(sa.exc.InternalError, match="read-only transaction"):  # not even behind the API
        with ro._engine.begin() as con:
            con.execute(ro._results.delete())
    ro.close()
    out = tmp_path / "out.json"
    for cmd in (["leaderboard", "--store", url, "--format", "html"], ["results", "list", "--store", url],
                ["results", "show", "a", "--store", url], ["results", "export", "--store", url, "-o", str(out)]):
        assert main(cmd) == 0, cmd
    assert _rows(pg_server, db) == before and _tables(pg_server, db) == ["nlptasks_meta", "nlptasks_results"]


@pytest.mark.parametrize("query", ["?badopt=1", "?connect_timeout=x", "?sslmode=bogus"])
def test_driver_errors_of_any_kind_are_one_masked_line(query, capsys):
    # psycopg raises ProgrammingError for these (not OperationalError): still one line, no traceback
    assert main(["results", "list", "--store", f"postgresql://u:{WRONG}@127.0.0.1:1/db{query}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nlptasks: error: ") and err.count("\n") == 1 and WRONG not in err


def test_missing_database_is_one_line(pg_server, capsys):
    url = pg_server.url("no_such_db")
    assert main(["results", "list", "--store", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'database "no_such_db" does not exist' in err and pg_server.password not in err


# -- writes on both backends ---------------------------------------------------------------------------------

def test_import_is_all_or_nothing(store_url, tmp_path):
    store = ResultStore(store_url)
    store.add(record("old", score=0.5))
    src = tmp_path / "in.json"
    src.write_text(json.dumps([record("n1"), record("n2"), record("old", score=0.7)], indent=1))
    with pytest.raises(InputError, match="run old is already stored with different content"):
        store.import_(src)
    assert [r["run_id"] for r in store.query()] == ["old"]
    # a failure inside the write transaction (the third row breaks a NOT NULL column) rolls back the first two
    row = ResultStore._row
    store._row = lambda r: {**row(store, r), "record": None} if r.run_id == "old" else row(store, r)
    with pytest.raises(NlpTasksError, match="results store .*(NOT NULL|not-null)"):
        store.import_(src, replace=True)
    assert [r["run_id"] for r in store.query()] == ["old"] and store.get("old")["metrics"]["accuracy"]["score"] == 0.5
    del store._row
    assert store.import_(src, replace=True) == 3
    assert [r["run_id"] for r in store.query()] == ["n1", "n2", "old"]
    assert store.get("old")["metrics"]["accuracy"]["score"] == 0.7


def test_values_at_the_column_limits(store_url):
    store = ResultStore(store_url)
    longest = record("x" * 255, model="m/" + "n" * 510, bench="b" * 255, version="v" * 64, dtype="d" * 64,
                     quantize="q" * 64, created="2025-01-01T00:00:00." + "1" * 26 + "+00:00")
    longest["benchmark"]["hash"] = "h" * 128
    store.add(longest)
    assert store.get("x" * 255) == longest
    assert store.query(model="m/" + "n" * 510, benchmark="b" * 255) == [longest]


# -- one leaderboard, two backends ---------------------------------------------------------------------------

def _team_records() -> list[dict]:
    recs = [record("r-b", model="team/B", score=0.8, created="2025-03-01T10:00:00+00:00"),
            record("r-a", model="team/a", score=0.8, created="2025-03-01T10:00:00+00:00"),  # a tie, same time
            record("r-c", model="team/c", score=0.9, dtype="bfloat16", created="2025-02-01T00:00:00Z"),
            record("r_d", model="team/d", score=0.7),
            record("r-e", model="team/e", score=0.75, quantize="int8"),
            record("q-1", task="qa", bench="squad-mini", model="team/a", score=55.0),
            record("q-2", task="qa", bench="squad-mini", model="team/B", score=61.5, created="2025-01-05T00:00:00+00:00")]
    for r in recs[3:5]:
        del r["created_at"]  # no date: sorted first by every backend
    recs[5]["metrics"] = {"f1": {"score": 55.0, "ci": None, "stats": {}}}
    recs[6]["metrics"] = {"f1": {"score": 61.5, "ci": None, "stats": {}}}
    for r in recs[5:]:
        r["primary_metric"], r["higher_is_better"] = "f1", {"f1": True}
    return recs


def test_same_leaderboard_from_sqlite_and_postgresql(pg_server, tmp_path):
    src = tmp_path / "team.json"
    src.write_text(json.dumps(_team_records()))
    sqlite_path = str(tmp_path / "team.sqlite")
    pg_url = pg_server.url(pg_server.create_database())
    for where in (sqlite_path, pg_url):
        assert main(["results", "--store", where, "import", str(src)]) == 0
    assert ResultStore(sqlite_path).query() == ResultStore(pg_url).query()
    for fmt in ("md", "csv", "json", "table"):
        a = leaderboard(sqlite_path, fmt=fmt).replace(sqlite_path, "STORE")
        b = leaderboard(pg_url, fmt=fmt).replace(pg_url.split("@")[0].rsplit(":", 1)[0] + ":***@" +
                                                 pg_url.split("@")[1], "STORE")
        assert a == b, fmt
        assert "team/B" in a and "team/e" in a
    assert leaderboard(sqlite_path, fmt="md", compare="team/a") == leaderboard(pg_url, fmt="md", compare="team/a")

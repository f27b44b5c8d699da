"""Results store: evaluation records (JSON dicts) in SQLite or any SQLAlchemy database.

    store = ResultStore()                    # $NLPTASKS_STORE, else <user data dir>/results.sqlite
    store = ResultStore("runs.sqlite")       # a plain path: SQLite at that path
    store = ResultStore("postgresql://…")    # any SQLAlchemy URL
    store.add(record); store.query(task="sentiment")

One table (``nlptasks_results``) keyed by ``run_id`` with indexed columns for filtering and the full
record as JSON (unknown keys are kept as they are), plus a schema-version marker table
(``nlptasks_meta``). SQLite files use WAL and a busy timeout, and writes retry while the database is
locked, so several processes can add results at once. A file that is not SQLite, or a SQLite database
that belongs to something else, is refused with a one-line error and never written to.
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from pathlib import Path
from typing import IO, Any, Iterable

from .errors import InputError, NlpTasksError

SCHEMA_VERSION = 1
RESULTS_TABLE = "nlptasks_results"
META_TABLE = "nlptasks_meta"
ENV_VAR = "NLPTASKS_STORE"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def default_location() -> str:
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    import platformdirs

    return str(Path(platformdirs.user_data_dir("nlptasks")) / "results.sqlite")


def variant_name(record: dict) -> str:
    """``dtype`` or ``dtype+quantize`` of a record's model variant (``?`` if unknown)."""
    variant = (record.get("model") or {}).get("variant") or {}
    name = str(variant.get("dtype") or "?")
    if variant.get("quantize"):
        name += f"+{variant['quantize']}"
    return name


def primary_score(record: dict) -> float | None:
    metric = (record.get("metrics") or {}).get(record.get("primary_metric"))
    score = metric.get("score") if isinstance(metric, dict) else None
    return float(score) if isinstance(score, (int, float)) else None


def validate_record(record: Any) -> dict:
    if not isinstance(record, dict):
        raise InputError(f"a result record must be a JSON object, got {type(record).__name__}")
    for path in ("run_id", "task", "benchmark.name", "model.name"):
        value: Any = record
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, ""):
            rid = record.get("run_id")
            where = f" (run {rid})" if rid else ""
            raise InputError(f"result record{where} has no {path!r}")
    return record


class ResultStore:
    """Store of evaluation results; see the module docstring."""

    def __init__(self, url_or_path: str | os.PathLike | None = None, *, lock_retries: int = 50):
        location = str(url_or_path) if url_or_path is not None else default_location()
        self.location = location
        self.lock_retries = lock_retries
        self._path: Path | None = None
        if "://" in location:
            self.url = location
            if location.startswith("sqlite:///") and location != "sqlite:///:memory:":
                self._path = Path(location[len("sqlite:///"):].split("?")[0])
        else:
            self._path = Path(location).expanduser()
            self.url = f"sqlite:///{self._path.resolve()}"
        if self._path is not None:
            self._check_sqlite_file(self._path)
            self._path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = self._make_engine()
        self._tables()
        self._retry(self._ensure_schema)

    # -- opening ----------------------------------------------------------------------------------
    def _check_sqlite_file(self, path: Path) -> None:
        """Refuse, without writing anything, a file that is not ours."""
        if not path.exists():
            return
        if path.is_dir():
            raise NlpTasksError(f"results store {path} is a directory, not a SQLite file")
        if path.stat().st_size == 0:
            return
        with open(path, "rb") as f:
            if f.read(16) != _SQLITE_MAGIC:
                raise NlpTasksError(f"results store {path} is not a SQLite database (corrupt or another kind of file)")
        try:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                version = None
                if META_TABLE in names:
                    row = con.execute(f"SELECT value FROM {META_TABLE} WHERE key='schema_version'").fetchone()
                    version = row[0] if row else None
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            raise NlpTasksError(f"results store {path} is not a readable SQLite database: {exc}") from None
        self._check_tables(names, version, str(path))

    @staticmethod
    def _check_tables(names: set[str], version, where: str, foreign_if_other_tables: bool = True) -> None:
        if META_TABLE not in names:
            if RESULTS_TABLE in names or (names and foreign_if_other_tables):
                raise NlpTasksError(f"results store {where} is a database of something else "
                                    f"(tables: {', '.join(sorted(names))}); choose another file")
            return
        try:
            v = int(version)
        except (TypeError, ValueError):
            raise NlpTasksError(f"results store {where} has no valid schema version marker") from None
        if v > SCHEMA_VERSION:
            raise NlpTasksError(f"results store {where} has schema version {v}; this nlptasks reads "
                                f"up to {SCHEMA_VERSION} (upgrade nlptasks)")

    def _make_engine(self):
        import sqlalchemy as sa
        from sqlalchemy import event

        try:
            if self.url.startswith("sqlite"):
                engine = sa.create_engine(self.url, connect_args={"timeout": 30})

                @event.listens_for(engine, "connect")
                def _pragmas(dbapi_con, _record):
                    cur = dbapi_con.cursor()
                    cur.execute("PRAGMA busy_timeout=30000")
                    if self._path is not None:
                        cur.execute("PRAGMA journal_mode=WAL")
                        cur.execute("PRAGMA synchronous=NORMAL")
                    cur.close()
            else:
                engine = sa.create_engine(self.url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise NlpTasksError(f"cannot open results store {self.url!r}: {exc}") from None
        return engine

    def _tables(self) -> None:
        import sqlalchemy as sa

        md = sa.MetaData()
        self._meta = sa.Table(META_TABLE, md, sa.Column("key", sa.String(64), primary_key=True),
                              sa.Column("value", sa.String(255), nullable=False))
        self._results = sa.Table(
            RESULTS_TABLE, md,
            sa.Column("run_id", sa.String(255), primary_key=True),
            sa.Column("task", sa.String(255), index=True),
            sa.Column("benchmark_name", sa.String(255), index=True),
            sa.Column("benchmark_version", sa.String(64), index=True),
            sa.Column("benchmark_hash", sa.String(128), index=True),
            sa.Column("model_name", sa.String(512), index=True),
            sa.Column("variant", sa.String(128), index=True),
            sa.Column("primary_score", sa.Float, index=True),
            sa.Column("created_at", sa.String(64), index=True),
            sa.Column("record", sa.Text, nullable=False),
        )
        self._md = md

    def _ensure_schema(self) -> None:
        import sqlalchemy as sa

        with self._engine.connect() as con:
            names = set(sa.inspect(con).get_table_names())
        version = None
        if META_TABLE in names:
            with self._engine.connect() as con:
                version = con.execute(sa.select(self._meta.c.value).where(self._meta.c.key == "schema_version")).scalar()
        # a server database may hold other applications' tables; a SQLite file was checked already
        self._check_tables(names, version, self.location, foreign_if_other_tables=False)
        if META_TABLE in names and RESULTS_TABLE in names:
            return
        try:
            with self._engine.begin() as con:
                self._md.create_all(con, checkfirst=True)
                if con.execute(sa.select(sa.func.count()).select_from(self._meta)).scalar() == 0:
                    con.execute(self._meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError) as exc:
            if "already exists" in str(exc) or "UNIQUE" in str(exc) or "duplicate" in str(exc).lower():
                return  # another process created it at the same moment
            raise

    def _retry(self, fn, *args):
        import sqlalchemy as sa

        for attempt in range(self.lock_retries):
            try:
                return fn(*args)
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc).lower():
                    raise NlpTasksError(f"results store {self.location}: {str(exc).splitlines()[0]}") from None
                if attempt == self.lock_retries - 1:
                    raise NlpTasksError(f"results store {self.location} stayed locked; try again") from None
                time.sleep(min(0.05 * (attempt + 1), 0.5) * (0.5 + random.random()))

    # -- API --------------------------------------------------------------------------------------
    def add(self, record: dict) -> None:
        """Insert a record, or replace the one with the same ``run_id``."""
        row = self._row(validate_record(record))
        self._retry(self._upsert, row)

    def _row(self, r: dict) -> dict:
        b = r.get("benchmark") or {}
        return {"run_id": str(r["run_id"]), "task": str(r["task"]), "benchmark_name": str(b.get("name")),
                "benchmark_version": None if b.get("version") is None else str(b.get("version")),
                "benchmark_hash": b.get("hash"), "model_name": str(r["model"]["name"]),
                "variant": variant_name(r), "primary_score": primary_score(r),
                "created_at": r.get("created_at"), "record": json.dumps(r, sort_keys=True)}

    def _upsert(self, row: dict) -> None:
        dialect = self._engine.dialect.name
        t = self._results
        with self._engine.begin() as con:
            if dialect in ("sqlite", "postgresql"):
                if dialect == "sqlite":
                    from sqlalchemy.dialects.sqlite import insert
                else:
                    from sqlalchemy.dialects.postgresql import insert
                stmt = insert(t).values(**row)
                stmt = stmt.on_conflict_do_update(index_elements=[t.c.run_id],
                                                  set_={k: stmt.excluded[k] for k in row if k != "run_id"})
                con.execute(stmt)
            else:
                con.execute(t.delete().where(t.c.run_id == row["run_id"]))
                con.execute(t.insert().values(**row))

    def get(self, run_id: str) -> dict | None:
        import sqlalchemy as sa

        def _get():
            with self._engine.connect() as con:
                return con.execute(sa.select(self._results.c.record).where(self._results.c.run_id == run_id)).scalar()
        text = self._retry(_get)
        return json.loads(text) if text is not None else None

    def query(self, task: str | None = None, benchmark: str | None = None, model: str | None = None) -> list[dict]:
        """Records matching all given filters (exact task, benchmark name, model name), oldest first."""
        import sqlalchemy as sa

        t = self._results
        stmt = sa.select(t.c.record).order_by(t.c.created_at, t.c.run_id)
        for col, value in ((t.c.task, task), (t.c.benchmark_name, benchmark), (t.c.model_name, model)):
            if value is not None:
                stmt = stmt.where(col == value)

        def _query():
            with self._engine.connect() as con:
                return [json.loads(text) for text in con.execute(stmt).scalars()]
        return self._retry(_query)

    def delete(self, run_id: str) -> bool:
        """Remove a record; True if it existed."""
        def _delete():
            with self._engine.begin() as con:
                return con.execute(self._results.delete().where(self._results.c.run_id == run_id)).rowcount > 0
        return self._retry(_delete)

    def export(self, path_or_file: str | os.PathLike | IO[str]) -> int:
        """Write all records as one JSON list (atomically for a path); returns the count."""
        records = self.query()
        text = json.dumps(records, indent=1, sort_keys=True) + "\n"
        if hasattr(path_or_file, "write"):
            path_or_file.write(text)
        else:
            write_atomic(Path(path_or_file), text)
        return len(records)

    def import_(self, path: str | os.PathLike) -> int:
        """Add the records of a JSON file (a list, one record, or JSON lines); returns the count."""
        records = read_records(Path(path))
        for r in records:
            validate_record(r)
        for r in records:
            self.add(r)
        return len(records)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({self.location!r})"


def read_records(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    data.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{n}: not JSON or JSON lines: {exc.msg}") from None
    records: Iterable = data if isinstance(data, list) else [data]
    return list(records)


def write_atomic(path: Path, text: str) -> None:
    """Write a text file via a temporary file in the same folder and ``os.replace``."""
    from .io import atomic_write

    atomic_write(str(path), text)

"""Results store: evaluation records (JSON dicts) in SQLite or any SQLAlchemy database.

    store = ResultStore()                    # $NLPTASKS_STORE, else <user data dir>/results.sqlite
    store = ResultStore("runs.sqlite")       # a plain path: SQLite at that path
    store = ResultStore("postgresql://user@host/db")  # PostgreSQL (psycopg 3: pip install 'nlptasks[postgres]')
    store = ResultStore("mysql+pymysql://…")  # any other SQLAlchemy URL (with its driver installed)
    store.add(record); store.query(task="sentiment")

One table (``nlptasks_results``) keyed by ``run_id`` with indexed columns for filtering and the full
record as JSON (unknown keys are kept as they are), plus a schema-version marker table
(``nlptasks_meta``). SQLite files use WAL and a busy timeout, and writes retry while the database is
locked, so several processes can add results at once. A file that is not SQLite, or a SQLite database
that belongs to something else, is refused with a one-line error and never written to.

PostgreSQL (a team's shared leaderboard): ``postgresql://`` and ``postgres://`` URLs use psycopg 3
(``postgresql+psycopg://``; the ``postgres`` extra installs it); keep the password out of the URL, in
``~/.pgpass`` or ``PGPASSWORD``. Writes are upserts (``INSERT ... ON CONFLICT``) in one transaction,
retried on deadlock or serialization failure; a read-only store's connections are read-only on the
server too (``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``). Database errors (a wrong password, a
missing database, no permission) are one line with the URL masked.

``ResultStore(..., readonly=True)`` (leaderboard, ``results list/show/export``) creates and changes
nothing: a missing store is an error ("no such store"), and a SQLite file is opened read-only without
leaving ``-wal``/``-shm`` files beside it. Passwords in store URLs are never shown (``location`` is
masked). Every record is written through the typed record (``ResultRecord.from_dict`` checks it,
``to_dict`` is what is stored); ``records()`` reads typed records back, ``query``/``get`` the stored JSON
objects. ``import_`` is all-or-nothing and refuses a run id that is stored with different content
unless ``replace=True``.
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import InputError, NlpTasksError
from ..io import atomic_write
from ..urls import mask_url
from .records import benchmark_key, definition_facts
from .result import ResultRecord

SCHEMA_VERSION = 1
RESULTS_TABLE = "nlptasks_results"
META_TABLE = "nlptasks_meta"
ENV_VAR = "NLPTASKS_STORE"
_SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DRIVER_HINT = "PostgreSQL store needs the driver: pip install 'nlptasks[postgres]'"
UPSERT_BATCH = 200  # rows per INSERT ... ON CONFLICT statement (10 columns: far under SQLite's 32,766 variables)
MAX_IMPORT_BYTES = 256 << 20  # one import file (10,000 exported records are about 20 MiB)
READER_LOCK_WAIT_S = 2.0  # a read-only connection waits this long for another reader's lock, then shares the WAL
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected: the transaction may be retried


def default_location() -> str:
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    import platformdirs

    return str(Path(platformdirs.user_data_dir("nlptasks")) / "results.sqlite")


class ResultStore:
    """Store of evaluation results; see the module docstring."""

    def __init__(self, url_or_path: str | os.PathLike | None = None, *, readonly: bool = False,
                 must_exist: bool = False, lock_retries: int = 50):
        location = str(url_or_path) if url_or_path is not None else default_location()
        self.location = mask_url(location)  # what messages show: never a password
        self.readonly = readonly
        self.lock_retries = lock_retries
        self._path: Path | None = None
        self._has_tables = True
        if "://" in location:
            self._url = engine_url(location)
            if location.startswith("sqlite:///") and location != "sqlite:///:memory:":
                self._path = Path(location[len("sqlite:///"):].split("?")[0])
        else:
            self._path = Path(location).expanduser()
            self._url = f"sqlite:///{self._path.resolve()}"
        if self._path is not None:
            if (readonly or must_exist) and not self._path.exists():
                raise NlpTasksError(f"no such store: {self.location}")
            self._check_sqlite_file(self._path)
            if not readonly:
                self._path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = self._make_engine()
        self._tables()
        self._retry(self._ensure_schema)

    @property
    def url(self) -> str:
        """The store's SQLAlchemy URL with any password masked."""
        return mask_url(self._url)

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
            con = connect_readonly(path)
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
        if version is None:
            # the tables exist but the marker row is not there yet: another process is creating the store
            # (SQLite commits the CREATE TABLEs before the transaction that writes the marker)
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
            if self.readonly and self._path is not None:
                path = self._path
                engine = sa.create_engine("sqlite://", creator=lambda: connect_readonly(path),
                                          poolclass=sa.pool.NullPool)
            elif self._url.startswith("sqlite"):
                engine = sa.create_engine(self._url, connect_args={"timeout": 30})

                @event.listens_for(engine, "connect")
                def _pragmas(dbapi_con, _record):
                    cur = dbapi_con.cursor()
                    cur.execute("PRAGMA busy_timeout=30000")
                    if self._path is not None:
                        cur.execute("PRAGMA journal_mode=WAL")
                        cur.execute("PRAGMA synchronous=NORMAL")
                    cur.close()
            else:
                engine = sa.create_engine(self._url, pool_pre_ping=True)
                if self.readonly and engine.dialect.name == "postgresql":
                    @event.listens_for(engine, "connect")
                    def _read_only(dbapi_con, _record):  # the server refuses writes too
                        cur = dbapi_con.cursor()
                        cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                        cur.close()
                        dbapi_con.commit()
        except ImportError as exc:
            if self._url.startswith(("postgresql", "postgres:")):
                driver = self._url.split("://")[0].partition("+")[2] or "psycopg"
                if driver == "psycopg":
                    raise NlpTasksError(PG_DRIVER_HINT) from None
                raise NlpTasksError(f"PostgreSQL store needs the driver {driver} ({mask_url(exc)}); or use a "
                                    "postgresql:// URL: pip install 'nlptasks[postgres]'") from None
            raise NlpTasksError(f"cannot open results store {self.location}: {mask_url(exc)}") from None
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
            raise NlpTasksError(f"cannot open results store {self.location}: {mask_url(exc)}") from None
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
            sa.Column("variant", sa.String(255), index=True),  # dtype (64) + "+" + quantize (64)
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
        if META_TABLE in names and RESULTS_TABLE in names and version is not None:
            return
        if self.readonly:  # an empty store: nothing to read, and nothing may be created
            self._has_tables = False
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
        """``fn(*args)``, again while the database is locked (SQLite) or the transaction hit a deadlock
        or serialization failure (PostgreSQL); any other database error is one line, URL masked."""
        import sqlalchemy as sa

        for attempt in range(self.lock_retries):
            try:
                return fn(*args)
            except sa.exc.DBAPIError as exc:
                transient = getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES or (
                    isinstance(exc, sa.exc.OperationalError)
                    and ("locked" in str(exc) or "busy" in str(exc).lower()))
                if not transient:
                    first = mask_url(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                    raise NlpTasksError(f"results store {self.location}: {first}") from None
                if attempt == self.lock_retries - 1:
                    raise NlpTasksError(f"results store {self.location} stayed locked; try again") from None
                time.sleep(min(0.05 * (attempt + 1), 0.5) * (0.5 + random.random()))

    def _writable(self) -> None:
        if self.readonly:
            raise NlpTasksError(f"results store {self.location} was opened read-only")

    # -- API --------------------------------------------------------------------------------------
    def add(self, record: "ResultRecord | dict") -> None:
        """Insert a record (a ``ResultRecord``, or a dict checked by ``ResultRecord.from_dict``), or
        replace the one with the same ``run_id``."""
        self._writable()
        row = self._row(ResultRecord.coerce(record))
        self._retry(self._upsert, [row])

    def _row(self, r: ResultRecord) -> dict:
        b = r.benchmark
        return {"run_id": r.run_id, "task": r.task, "benchmark_name": str(b.name), "benchmark_version": str(b.version),
                "benchmark_hash": b.hash, "model_name": str(r.model.name), "variant": r.variant_name,
                "primary_score": r.metric_score(r.primary_metric), "created_at": r.created_at,
                "record": json.dumps(r.to_dict(), sort_keys=True)}

    def _upsert(self, rows: list[dict], check=None) -> None:
        """Write ``rows`` in one transaction; ``check(connection)`` runs first, inside it."""
        dialect = self._engine.dialect.name
        t = self._results
        with self._engine.begin() as con:
            if check is not None:
                check(con)
            ordered = sorted(rows, key=lambda r: r["run_id"])  # one order for every writer: no deadlock
            if dialect in ("sqlite", "postgresql"):
                if dialect == "sqlite":
                    from sqlalchemy.dialects.sqlite import insert
                else:
                    from sqlalchemy.dialects.postgresql import insert
                for i in range(0, len(ordered), UPSERT_BATCH):  # multi-row statements: an import is batched
                    part = ordered[i:i + UPSERT_BATCH]
                    stmt = insert(t).values(part)
                    stmt = stmt.on_conflict_do_update(index_elements=[t.c.run_id],
                                                      set_={k: stmt.excluded[k] for k in part[0] if k != "run_id"})
                    con.execute(stmt)
                return
            for row in ordered:  # other databases: delete + insert, row by row
                con.execute(t.delete().where(t.c.run_id == row["run_id"]))
                con.execute(t.insert().values(**row))

    def get(self, run_id: str) -> dict | None:
        import sqlalchemy as sa

        if not self._has_tables:
            return None

        def _get():
            with self._engine.connect() as con:
                return con.execute(sa.select(self._results.c.record).where(self._results.c.run_id == run_id)).scalar()
        text = self._retry(_get)
        return json.loads(text) if text is not None else None

    def records(self, task: str | None = None, benchmark: str | None = None,
                model: str | None = None) -> list[ResultRecord]:
        """Typed records matching all given filters (as ``query``), oldest first. A stored object that is
        not a valid record (written by hand into the database) is left out with a warning naming it."""
        import logging

        out = []
        for obj in self.query(task=task, benchmark=benchmark, model=model):
            try:
                out.append(ResultRecord.from_dict(obj, f"results store {self.location}", stored=True))
            except InputError as exc:
                logging.getLogger("nlptasks").warning("nlptasks: left out a stored result: %s", exc)
        return out

    def query(self, task: str | None = None, benchmark: str | None = None, model: str | None = None) -> list[dict]:
        """Records matching all given filters (exact task, benchmark name, model name), oldest first, as
        the stored JSON objects (``records`` gives them typed)."""
        import sqlalchemy as sa

        if not self._has_tables:
            return []
        t = self._results
        stmt = sa.select(t.c.created_at, t.c.run_id, t.c.record)
        for col, value in ((t.c.task, task), (t.c.benchmark_name, benchmark), (t.c.model_name, model)):
            if value is not None:
                stmt = stmt.where(col == value)

        def _query():
            with self._engine.connect() as con:
                return con.execute(stmt).all()
        # ordered here, not by the database: NULL placement and text collation differ between backends
        rows = sorted(self._retry(_query), key=lambda r: (r[0] is not None, r[0] or "", r[1]))
        return [json.loads(text) for _, _, text in rows]

    def delete(self, run_id: str) -> bool:
        """Remove a record; True if it existed."""
        self._writable()

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
            atomic_write(str(path_or_file), text)
        return len(records)

    def import_(self, source: "str | os.PathLike | ImportBatch", *, replace: bool = False) -> int:
        """Add the records of a JSON file (a list, one record, or JSON lines); returns the count.

        All or nothing: every record is checked first (see ``read_import``), and a run id that is
        already stored with different content is refused unless ``replace`` (so an imported record
        cannot silently overwrite a result). Importing the same records again changes nothing.
        """
        import sqlalchemy as sa

        self._writable()
        batch = source if isinstance(source, ImportBatch) else read_import(source)
        rows = [self._row(r) for _, r in batch.items]  # the typed records, checked by read_import
        line_of = {row["run_id"]: line for row, (line, _) in zip(rows, batch.items)}

        def check(con):
            t = self._results
            # results of one benchmark definition agree on task, primary metric and its direction:
            # a record that does not would change which metric (or direction) ranks everyone else
            for key, (line, facts) in batch.facts.items():
                stmt = sa.select(t.c.created_at, t.c.run_id, t.c.record).where(t.c.benchmark_name == key[0])
                newest_first = sorted(con.execute(stmt).all(), key=lambda r: (r[0] is not None, r[0] or "", r[1]),
                                      reverse=True)
                for text in (r[2] for r in newest_first):
                    stored = json.loads(text)
                    if benchmark_key(stored) == key:
                        if definition_facts(stored) != facts:
                            raise InputError(f"{batch.path}:{line}: {_facts_clash(key, facts, definition_facts(stored))}")
                        break
            if replace:
                return
            new = {row["run_id"]: json.loads(row["record"]) for row in rows}
            ids = list(new)
            for i in range(0, len(ids), 500):
                stmt = sa.select(t.c.run_id, t.c.record).where(t.c.run_id.in_(ids[i:i + 500]))
                for run_id, text in con.execute(stmt):
                    if json.loads(text) != new[run_id]:
                        raise InputError(f"{batch.path}:{line_of[run_id]}: run {run_id} is already stored with "
                                         "different content; use --replace to overwrite it")
        self._retry(self._upsert, rows, check)
        return batch.count

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({self.location!r})"


def store_inputs(url_or_path: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """``("the results store", file)`` for each file of a SQLite store (the database and its ``-wal``,
    ``-shm`` and ``-journal`` files), for :func:`nlptasks.paths.check_output_file`: an export or a
    leaderboard written over the store would destroy every stored result. Empty for server URLs."""
    location = str(url_or_path) if url_or_path is not None else default_location()
    if "://" in location:
        if not location.startswith("sqlite:///") or location == "sqlite:///:memory:":
            return []
        path = Path(location[len("sqlite:///"):].split("?")[0])
    else:
        path = Path(location).expanduser()
    return [("the results store", path.with_name(path.name + suffix)) for suffix in ("", "-wal", "-shm", "-journal")]


def engine_url(url: str) -> str:
    """The SQLAlchemy URL to connect with: ``postgresql://`` and ``postgres://`` use psycopg 3
    (SQLAlchemy 2.0 would pick psycopg2, and knows no ``postgres://``); others are unchanged."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


@dataclass
class ImportBatch:
    """Validated records of one import file: ``items`` are ``(line, ResultRecord)`` with duplicates removed;
    ``count`` is how many records the file held."""
    path: Path
    items: list[tuple[int, ResultRecord]]
    count: int
    facts: dict = field(default_factory=dict)  # benchmark_key -> (first line, definition_facts)


def _facts_clash(key: tuple, new: tuple, old: tuple, where: str = "is stored with") -> str:
    return (f"benchmark {key[0]} version {key[1]} (hash {key[2]}) {where} task {old[0]}, metric {old[1]} "
            f"({'higher' if old[2] else 'lower'} is better); this record says task {new[0]}, metric {new[1]} "
            f"({'higher' if new[2] else 'lower'} is better)")


def read_import(path: str | os.PathLike) -> ImportBatch:
    """Read and check an import file before any store is opened: every record goes through
    ``ResultRecord.from_dict`` and the first bad one is refused with ``FILE:LINE: problem`` (so nothing
    is written), an empty file is an error, and a run id repeated with different content in the same
    file is refused."""
    src = Path(path)
    lines_records = read_records_with_lines(src)
    if not lines_records:
        raise InputError(f"{src}: no result records to import")
    seen: dict[str, tuple[int, dict]] = {}
    facts: dict[tuple, tuple[int, tuple]] = {}
    items = []
    for line, obj in lines_records:
        r = ResultRecord.from_dict(obj, f"{src}:{line}")
        first = facts.setdefault(r.benchmark_key, (line, r.definition_facts))
        if first[1] != r.definition_facts:
            clash = _facts_clash(r.benchmark_key, r.definition_facts, first[1], f"has on line {first[0]}")
            raise InputError(f"{src}:{line}: {clash}")
        prev = seen.get(r.run_id)
        if prev is not None:
            if json.dumps(prev[1], sort_keys=True) != json.dumps(obj, sort_keys=True):
                raise InputError(f"{src}:{line}: run {r.run_id} appears again (line {prev[0]}) "
                                 "with different content")
            continue
        seen[r.run_id] = (line, obj)
        items.append((line, r))
    return ImportBatch(src, items, len(lines_records), facts)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that is safe while other processes write, and leaves no file beside the
    database when none was there.

    A SQLite connection opened with ``immutable=1`` takes no lock and ignores the WAL: a writer that
    opened the store after that connection and checkpointed its WAL into the database file (every
    writer that closes last does) changed pages under it, and the reader failed with "database disk
    image is malformed" (two ``nlptasks eval`` runs into one store). So ``immutable`` is never used on a
    file that can be written. Which connection, by what is beside the database:

    * ``-wal``, ``-shm`` or ``-journal`` there (a writer has it open, or one stopped): ``mode=ro``, which
      shares the writers' WAL index and locks (SQLite's documented way to read while others write).
    * nothing there (no connection has it open: SQLite removes both files when the last one closes) and
      the file writable: ``mode=rw`` with ``PRAGMA query_only`` (this connection writes nothing) and
      ``locking_mode=EXCLUSIVE``, so it keeps its WAL index in its own memory (no ``-shm``) and holds the
      database's lock until it is closed: a writer that comes meanwhile waits (its busy timeout, retries)
      instead of checkpointing under it. Its empty ``-wal`` is removed when it closes, and the database
      is not written. If a writer got the lock first, the first case is used.
    * nothing there and the file not writable by this user: no process of this user can change it, so it
      is read as immutable (``mode=ro`` would need to create ``-shm``, in a folder that may be read-only).
    """
    uri = path.resolve().as_uri()
    beside = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    if not any(p.exists() for p in beside):
        if not os.access(path, os.W_OK):
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30)
        # mode=rw never creates the database file; the lock is taken by the first read, and kept
        con = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=READER_LOCK_WAIT_S)
        try:
            con.execute("PRAGMA query_only=1")
            con.execute("PRAGMA locking_mode=EXCLUSIVE")
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            con.execute("PRAGMA busy_timeout=30000")
            return con
        except sqlite3.OperationalError as exc:
            con.close()
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        except BaseException:
            con.close()
            raise
    return sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30)


def read_records(path: Path) -> list[dict]:
    """The records of a JSON file (a list, one record, or JSON lines)."""
    return [r for _, r in read_records_with_lines(path)]


def read_records_with_lines(path: Path) -> list[tuple[int, Any]]:
    """``(line, record)`` pairs of a JSON file: a list, one object, or JSON lines; the line is where
    each record starts, for error messages."""
    from ..io import loads_json, read_file_capped

    try:  # bounded: /dev/zero or an endless pipe is refused, not read until memory runs out
        text = read_file_capped(path, MAX_IMPORT_BYTES, str(path)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:  # NaN/Infinity, too deep nesting and lone surrogates are refused (io.loads_json)
        data = loads_json(text, str(path))
    except json.JSONDecodeError:
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append((n, loads_json(line, f"{path}:{n}")))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{n}: not JSON or JSON lines: {exc.msg}") from None
        return out
    if not isinstance(data, list):
        return [(_first_line(text), data)]
    return _list_items_with_lines(text, data)


def _first_line(text: str) -> int:
    stripped = text.lstrip()
    return text.count("\n", 0, len(text) - len(stripped)) + 1


def _list_items_with_lines(text: str, data: list) -> list[tuple[int, Any]]:
    """Pair each item of a JSON list (already parsed as ``data``) with the line it starts on. Linear in
    the text: the newlines are counted only between one item's start and the next (counting from the
    start of the text for every item made 10,000 exported records take a minute)."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    lines = []
    ws = " \t\r\n"
    line, counted = 1 + text.count("\n", 0, pos), pos
    for _ in data:
        while text[pos] in ws or text[pos] == ",":
            pos += 1
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
    return list(zip(lines, data))


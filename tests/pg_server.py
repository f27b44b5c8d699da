"""A throwaway PostgreSQL server for the tests: a fresh cluster in a temporary folder, stopped and
deleted at the end of the session.

It listens on a private unix socket folder (superuser, trust: the tests create databases there) and
on 127.0.0.1 at a free port with password (scram-sha-256) authentication for the role ``ROLE``, so
store URLs go over TCP with a real password check. PostgreSQL refuses to run as root: as root the
server runs as the ``postgres`` OS user (``runuser``). ``unavailable()`` says why no server can be
started (no binaries, no driver, no ``postgres`` user); ``NLPTASKS_REQUIRE_POSTGRES=1`` (set by CI)
turns that skip into a failure.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ROLE = "nlptasks_test"
REQUIRE_ENV = "NLPTASKS_REQUIRE_POSTGRES"


def bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (Debian layout, else on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable() -> str | None:
    """Why no test server can be started here, or None."""
    if bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the PostgreSQL driver is not installed (pip install 'nlptasks[postgres]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run the server"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``start()`` a cluster, ``create_database()`` per test, ``stop()`` removes everything."""

    def __init__(self):
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="nlptasks-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.password = secrets.token_hex(12)  # the test role's password
        self._n = 0
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({res.returncode}): {res.stdout}{res.stderr}{log}")

    def start(self) -> "PgServer":
        self.sock.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(secrets.token_hex(12) + "\n")  # the superuser's: never used (trust on the socket)
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            for p in (self.root, self.sock, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile), "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "-N")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", opts, "start")
        with self.admin() as con:
            con.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        return self

    def admin(self, dbname: str = "postgres"):
        """A superuser connection over the unix socket (autocommit)."""
        import psycopg

        return psycopg.connect(host=str(self.sock), port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def create_database(self) -> str:
        """A new empty database owned by the test role; returns its name."""
        self._n += 1
        name = f"store_{self._n}"
        with self.admin() as con:
            con.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        return name

    def url(self, dbname: str, password: str | None = "", scheme: str = "postgresql") -> str:
        """A TCP URL for the test role; ``password=None`` leaves it out, ``""`` uses the right one."""
        pw = "" if password is None else f":{password or self.password}"
        return f"{scheme}://{ROLE}{pw}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

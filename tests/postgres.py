"""A real PostgreSQL server for tests and drills: Debian's binaries, a fresh cluster in a temporary
folder, listening on 127.0.0.1 only, owned by an unprivileged user (the server refuses to run as
root), gone when stopped. Databases are made from a template the directory's migrations built once.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from glob import glob
from itertools import count
from pathlib import Path

SUPERUSER = "wegweiser"
TEMPLATE = "wegweiser_template"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_binaries() -> Path:
    """The folder of Debian's PostgreSQL server programs (the newest version installed)."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise PostgresUnavailable("PostgreSQL is not installed: apt-get install postgresql "
                                  "(tests/run does so when it runs as root)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster; ``start()``, ``stop()``, ``restart()`` and ``kill()`` drive it."""

    def __init__(self):
        self.bin = server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="wegweiser-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.user = self._unprivileged_user()
        self._names = count(1)
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self.folder.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--locale=C.UTF-8", "--no-sync")

    @staticmethod
    def _unprivileged_user() -> str | None:
        """Whom to run the server as: ``nobody`` when the tests run as root, else the caller."""
        return "nobody" if os.geteuid() == 0 else None

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / program), *args], user=self.user, cwd=self.folder, check=check,
                              capture_output=True, text=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> "PostgresServer":
        # Durability settings off: a test cluster is thrown away, and fsync costs minutes on CI.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()}\n{self.server_log()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, pause: float = 0.0) -> None:
        """Stop the server (open connections are cut), wait, and start it again on the same port."""
        self.stop("fast")
        time.sleep(pause)
        self.start()

    def server_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg
        with psycopg.connect(self.url(database), autocommit=True) as db:
            db.execute(sql)

    def make_template(self) -> None:
        """A database with the directory's migrations applied, copied for every new database."""
        from aggregator.store import Store
        self.execute(f"CREATE DATABASE {TEMPLATE}")
        Store(self.url(TEMPLATE)).close()

    def new_database(self) -> str:
        """The URL of a new, empty directory (migrated)."""
        name = f"directory_{os.getpid()}_{next(self._names)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def started_server() -> PostgresServer:
    """A running server with the template database made."""
    server = PostgresServer().start()
    try:
        server.make_template()
    except Exception:
        server.remove()
        raise
    return server

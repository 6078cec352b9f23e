"""PostgreSQL for tests that need more than the shared test database.

- :func:`fresh_database`: a new, empty database on the shared cluster, prepared as
  scripts/database.sh prepares one (owner ``irbis``, PostGIS, the reader's grants), dropped
  afterwards.
- :class:`Cluster` / :func:`throwaway_cluster`: a cluster of its own (``initdb`` into a
  temporary directory, served on a free port of 127.0.0.1 with its socket in that directory),
  which a test may stop and start at will without disturbing anyone, removed afterwards.

Both need root (the superuser work runs as the ``postgres`` system user).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

BIN = Path("/usr/lib/postgresql/15/bin")
SU_USER = "postgres"

#: As scripts/database.sh: the roles, PostGIS, and the read-only role's grants.
ROLES_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis') THEN
    CREATE ROLE irbis LOGIN PASSWORD 'irbis';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN
    CREATE ROLE irbis_reader LOGIN PASSWORD 'irbis_reader';
  END IF;
END $$;
"""


def _prepare_sql(db: str) -> str:
    return f"""
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
GRANT CONNECT ON DATABASE {db} TO irbis_reader;
GRANT USAGE ON SCHEMA public TO irbis_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE irbis IN SCHEMA public GRANT SELECT ON TABLES TO irbis_reader;
"""


def _as_superuser(args: list[str], sql: str | None = None, timeout: float = 120) -> str:
    out = subprocess.run(
        ["runuser", "-u", SU_USER, "--", *args],
        input=sql,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
    )
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {out.stderr.strip()}")
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# A fresh database on the shared cluster
# ---------------------------------------------------------------------------------------------


def superuser_sql(db: str, sql: str) -> str:
    """Run ``sql`` in ``db`` of the shared cluster as the superuser; its output."""
    return _as_superuser(
        [str(BIN / "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-p", "5432", "-d", db], sql
    )


def drop_database(name: str) -> None:
    superuser_sql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


@contextmanager
def fresh_database(like_url: str, name: str) -> Iterator[str]:
    """A new database ``name`` on the shared cluster, reached as ``like_url``'s user; its URL.

    Dropped (with any connection left to it) when the block ends."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    drop_database(name)
    superuser_sql("postgres", f"CREATE DATABASE {name} OWNER irbis;")
    try:
        superuser_sql(name, _prepare_sql(name))
        yield make_url(like_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(name)


# ---------------------------------------------------------------------------------------------
# A throwaway cluster
# ---------------------------------------------------------------------------------------------


class Cluster:
    """A PostgreSQL 15 cluster in a temporary directory, on a free port of 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "postgres.log"
        self.port = free_port()

    # the superuser side -----------------------------------------------------------------

    def init(self) -> None:
        self.sockets.mkdir()
        shutil.chown(self.sockets, SU_USER, SU_USER)
        _as_superuser(
            [
                str(BIN / "initdb"),
                "-D",
                str(self.data),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-U",
                SU_USER,
            ]
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# a throwaway test cluster\n"
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockets}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 32MB\nmax_connections = 50\n"
            )

    def start(self) -> None:
        _as_superuser(
            [str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"]
        )

    def stop(self, mode: str = "fast") -> None:
        _as_superuser([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def running(self) -> bool:
        out = subprocess.run(
            ["runuser", "-u", SU_USER, "--", str(BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            check=False,
            cwd="/",
        )
        return out.returncode == 0

    def psql(self, db: str, sql: str) -> str:
        return _as_superuser(
            [
                str(BIN / "psql"),
                "-X",
                "-qAt",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.sockets),
                "-p",
                str(self.port),
                "-d",
                db,
            ],
            sql,
        )

    def create_irbis_database(self, name: str = "irbis") -> tuple[str, str]:
        """Roles, a database owned by irbis with PostGIS; the writer's and reader's URLs."""
        self.psql("postgres", ROLES_SQL)
        self.psql("postgres", f"CREATE DATABASE {name} OWNER irbis;")
        self.psql(name, _prepare_sql(name))
        return self.url("irbis", "irbis", name), self.url("irbis_reader", "irbis_reader", name)

    def url(self, user: str, password: str, db: str) -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A started cluster of its own; stopped and removed afterwards, whatever happened."""
    root = Path(tempfile.mkdtemp(prefix="irbis-pgcluster-"))
    os.chmod(root, 0o755)
    shutil.chown(root, SU_USER, SU_USER)
    cluster = Cluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()

"""A real streaming replica: a throwaway primary and a standby made from it with
``pg_basebackup -R``. Anonymous reads (features, tiles) are served by the replica while
writes go to the primary; when the replica has not replayed a write yet, the read that
needs it goes to the primary, so the writer (and everyone after) sees it at once."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from api.app import create_app
from api.db import migrate
from api.settings import Settings
from tests.pgcluster import BIN, SU_USER, Cluster, _as_superuser, throwaway_cluster

ITEMS = "/collections/protected_areas/items?limit=100"
TILE = "/collections/protected_areas/tiles/WebMercatorQuad/4/5/11"
AREA = "ST_GeomFromText('POLYGON((76.9 43.1, 77.1 43.1, 77.1 43.2, 76.9 43.2, 76.9 43.1))', 4326)"


def _add_area(url: str, name: str) -> None:
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO protected_areas (name, status, is_oecm, source, licence, method, geom) "
                    f"VALUES (:name, 'Designated', false, 'tests', 'CC0', 'observed', {AREA})"
                ),
                {"name": name},
            )
    finally:
        eng.dispose()


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[Cluster, Cluster, str, str]]:
    """(primary, replica, writer URL on the primary, reader URL on the replica)."""
    with throwaway_cluster() as primary:
        writer, _reader = primary.create_irbis_database()
        migrate.upgrade(writer)
        _add_area(writer, "Ile-Alatau (test)")
        root = Path(tempfile.mkdtemp(prefix="irbis-replica-"))
        os.chmod(root, 0o755)
        shutil.chown(root, SU_USER, SU_USER)
        replica = Cluster(root)
        _as_superuser(
            [
                str(BIN / "pg_basebackup"),
                "-D",
                str(replica.data),
                "-R",
                "--checkpoint=fast",
                "-X",
                "stream",
                "-h",
                str(primary.sockets),
                "-p",
                str(primary.port),
                "-U",
                SU_USER,
            ]
        )
        replica.sockets.mkdir()
        shutil.chown(replica.sockets, SU_USER, SU_USER)
        with (replica.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {replica.port}\nunix_socket_directories = '{replica.sockets}'\n"
                "hot_standby = on\n"
            )
        replica.start()
        try:
            assert replica.psql("postgres", "SELECT pg_is_in_recovery()").strip() == "t"
            yield primary, replica, writer, replica.url("irbis_reader", "irbis_reader", "irbis")
        finally:
            replica.destroy()


def _names(client: TestClient) -> set[str]:
    r = client.get(ITEMS)
    assert r.status_code == 200, r.text
    return {f["properties"]["name"] for f in r.json()["features"]}


def _wait_replayed(primary: Cluster, replica: Cluster) -> None:
    # the throwaway primary commits asynchronously (synchronous_commit = off): a commit may
    # sit past the written position until the WAL writer gets to it (seen: a whole request
    # later). A checkpoint flushes everything written before it.
    primary.psql("postgres", "CHECKPOINT")
    lsn = primary.psql("postgres", "SELECT pg_current_wal_lsn()").strip()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = replica.psql(
            "postgres", f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"
        ).strip()
        if done == "t":
            return
        time.sleep(0.1)
    raise AssertionError("the replica did not catch up")


@pytest.mark.timeout(600)
def test_reads_from_the_replica_and_a_new_write_from_the_primary(
    replicated: tuple[Cluster, Cluster, str, str], tmp_path: Path
) -> None:
    primary, replica, writer, reader = replicated
    settings = Settings.for_database(writer, reader)
    settings.database.reader_is_replica = True
    settings.var_dir = tmp_path
    app = create_app(settings)
    seen: dict[str, list[str]] = {"reader": [], "writer": []}

    def count(name: str) -> Any:
        def on(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen[name].append(statement)

        return on

    with TestClient(app) as client:
        assert app.state.change_listener.connected.wait(30)
        event.listen(app.state.reader_engine, "before_cursor_execute", count("reader"))
        event.listen(app.state.engine, "before_cursor_execute", count("writer"))
        _wait_replayed(primary, replica)
        assert "Ile-Alatau (test)" in _names(client)
        tile = client.get(TILE)
        assert tile.status_code == 200
        assert mapbox_vector_tile.decode(tile.content)["protected_areas"]["features"]
        assert any("protected_areas" in s for s in seen["reader"])  # served by the replica
        assert not any("FROM protected_areas" in s for s in seen["writer"])

        # the replica stops replaying: a write on the primary is not there yet
        replica.psql("postgres", "SELECT pg_wal_replay_pause()")
        try:
            _add_area(writer, "Turgen (test)")
            assert "Turgen (test)" not in replica.psql(
                "irbis", "SELECT string_agg(name, ',') FROM protected_areas"
            )
            seen["writer"].clear()
            # the next read needs the new version: the primary answers it
            assert "Turgen (test)" in _names(client)
            assert any("protected_areas" in s for s in seen["writer"])
            assert client.get(TILE).status_code == 200
        finally:
            replica.psql("postgres", "SELECT pg_wal_replay_resume()")
        _wait_replayed(primary, replica)
        seen["reader"].clear()
        seen["writer"].clear()
        client.get(ITEMS + "&offset=0&f=json")  # a new request key, not a 304
        assert any("protected_areas" in s for s in seen["reader"])
        assert not any("FROM protected_areas" in s for s in seen["writer"])

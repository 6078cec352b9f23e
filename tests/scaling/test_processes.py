"""Several processes: ``irbis serve`` started for real, twice (and with ``--workers 2``), on
127.0.0.1. A write through one process shows in the other's very next tile; a login made
on one is honoured by the other (the signing key is shared, sessions live in the database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest
from sqlalchemy import Engine, text

import morecantile

from api.auth.testing import login, make_token, make_user
from tests.conftest import TEST_READER_URL, TEST_URL
from tests.pgcluster import free_port

pytestmark = pytest.mark.cleaned_up  # its servers and commands run in processes of their own

IRBIS = Path(sys.executable).with_name("irbis")
#: Seconds a server may take to answer /health (workers import GDAL and rasterio; the
#: machine running the tests may be busy).
STARTUP_S = 240
TILE = "/collections/field_sites/tiles/WebMercatorQuad/{z}/{y}/{x}"


@contextmanager
def irbis_serve(var_dir: Path, *args: str) -> Iterator[tuple[str, int]]:
    """``irbis serve`` on a free port of 127.0.0.1, against the test database; its URL and
    process id."""
    port = free_port()
    log_path = var_dir / f"serve-{port}.log"
    log = log_path.open("wb")
    env = {
        **os.environ,
        "IRBIS_DATABASE_URL": TEST_URL,
        "IRBIS_DATABASE_READER_URL": TEST_READER_URL,
        "IRBIS_VAR_DIR": str(var_dir),
    }
    env.pop("IRBIS_API_SECRET_KEY", None)  # the key comes from var_dir, shared by all
    proc = subprocess.Popen(
        [str(IRBIS), "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = log_path.read_text(errors="replace")
                raise RuntimeError(f"irbis serve did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _site_copy(engine: Engine) -> tuple[str, int, tuple[int, int, int]]:
    """A new field site copied from a demo one: (grant code, site id, a tile holding it)."""
    with engine.begin() as conn:
        cols = conn.execute(
            text(
                "SELECT string_agg(quote_ident(column_name), ', ') FROM information_schema.columns"
                " WHERE table_name = 'field_sites' AND table_schema = current_schema()"
                " AND column_name NOT IN ('id', 'name', 'geom_hash') AND is_generated = 'NEVER'"
            )
        ).scalar()
        row = conn.execute(
            text(
                f"INSERT INTO field_sites (name, {cols}) "
                f"SELECT name || ' (copy)', {cols} FROM field_sites ORDER BY id LIMIT 1 "
                "RETURNING id, grant_id, ST_X(ST_PointOnSurface(geom)), "
                "ST_Y(ST_PointOnSurface(geom))"
            )
        ).one()
        code = conn.execute(text("SELECT code FROM grants WHERE id = :g"), {"g": row[1]}).scalar()
    t = morecantile.tms.get("WebMercatorQuad").tile(row[2], row[3], 8)
    return str(code), int(row[0]), (t.z, t.y, t.x)


def _features(client: httpx.Client, url: str) -> int:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return len(
        mapbox_vector_tile.decode(r.content).get("field_sites", {"features": []})["features"]
    )


@pytest.mark.timeout(600)
def test_a_write_through_one_process_is_in_the_others_next_tile(  # type: ignore[no-untyped-def]
    engine, demo, tmp_path
) -> None:
    admin = make_user(engine, roles=["admin"])
    bearer = {"Authorization": f"Bearer {make_token(engine, admin)}"}
    code, site, (z, y, x) = _site_copy(engine)
    tile = TILE.format(z=z, y=y, x=x)
    with ExitStack() as stack:
        a, _ = stack.enter_context(irbis_serve(tmp_path))
        b, _ = stack.enter_context(irbis_serve(tmp_path))
        ca = stack.enter_context(httpx.Client(base_url=a, headers=bearer))
        cb = stack.enter_context(httpx.Client(base_url=b, headers=bearer))
        before = _features(cb, tile)  # now in b's tile cache
        assert _features(cb, tile) == before
        assert ca.delete(f"/api/grants/{code}/sites/{site}").status_code == 204
        assert _features(cb, tile) == before - 1
        # a login made through one process is honoured by the other
        with httpx.Client(base_url=a) as web_a, httpx.Client(base_url=b) as web_b:
            name = make_user(engine, roles=["analyst"])
            login(web_a, name)
            web_b.cookies.update(web_a.cookies)
            me = web_b.get("/api/account")
            assert me.status_code == 200 and me.json()["username"] == name


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.timeout(600)
def test_serve_with_two_workers(engine, demo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with irbis_serve(tmp_path, "--workers", "2") as (url, pid), httpx.Client(base_url=url) as c:
        assert len(_children(pid)) >= 2
        tile = TILE.format(z=4, y=5, x=11)
        answers = [c.get(tile) for _ in range(20)]
        assert {r.status_code for r in answers} == {200}
        assert len({r.headers["etag"] for r in answers}) == 1  # every worker labels data alike

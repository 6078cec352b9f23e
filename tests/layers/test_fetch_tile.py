"""Tiles sent on the driver's cursor (``layers.tiles.fetch_tile``): the same bytes as
SQLAlchemy's ``execute``, seen by the engine's listeners, and a driver error raised as
SQLAlchemy's with a dead connection invalidated (so the app answers 503 and recovers)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

import layers.tiles as lt
from api.errors import database_unavailable
from api.ogc import read_connection
from layers.registry import layers
from layers.sql import LayerSQL

#: A tile of each zoom over Almaty: the generalised copies (4, 6), the full geometry (9).
ALMATY = (76.95, 43.25)
ZOOMS = (4, 6, 9)


def _tiles(tms_id: str) -> list[lt.TileRequest]:
    tms = lt.get_tms(tms_id)
    out = []
    for z in ZOOMS:
        t = tms.tile(*ALMATY, z)
        out.append(lt.check_tile(tms_id, z, t.x, t.y, min_zoom=0, max_zoom=24))
    return out


def _both(conn: Any, view: LayerSQL, tile: lt.TileRequest) -> tuple[bytes, bytes]:
    stmt = lt.tile_statement(view, tile.tms_id)
    values = lt.tile_params(tile)
    by_sqlalchemy = bytes(conn.execute(stmt, values).scalar_one() or b"")
    return lt.fetch_tile(conn, stmt, values), by_sqlalchemy


@pytest.mark.parametrize("tms_id", lt.TMS_IDS)
def test_the_same_bytes_as_sqlalchemy_sends(
    engine: Engine, demo: dict[str, int], tms_id: str
) -> None:
    drawn = 0
    with read_connection(engine) as conn:
        for spec in layers():
            for privileged in (False, True):
                view = LayerSQL(spec, privileged=privileged)
                for tile in _tiles(tms_id):
                    fetched, executed = _both(conn, view, tile)
                    assert fetched == executed, (spec.id, privileged, tile)
                    drawn += bool(fetched)
    assert drawn > 20  # tiles with features were compared, not only empty ones


def test_listeners_see_the_statement(engine: Engine, demo: dict[str, int]) -> None:
    seen: list[str] = []

    def on(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on)
    try:
        view = LayerSQL(next(iter(layers())), privileged=False)
        tile = _tiles("WebMercatorQuad")[0]
        with read_connection(engine) as conn:
            lt.fetch_tile(conn, lt.tile_statement(view, tile.tms_id), lt.tile_params(tile))
    finally:
        event.remove(engine, "before_cursor_execute", on)
    assert len(seen) == 1 and "ST_AsMVT" in seen[0]


def test_a_dead_connection_is_sqlalchemys_error_and_invalidated(
    engine: Engine, demo: dict[str, int]
) -> None:
    """The backend ends under a checked-out connection: the error is SQLAlchemy's, says the
    database is unavailable (503), and the connection is not given back to the pool."""
    view = LayerSQL(next(iter(layers())), privileged=False)
    tile = _tiles("WebMercatorQuad")[0]
    with read_connection(engine) as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            deadline = time.monotonic() + 10
            while other.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar_one():
                assert time.monotonic() < deadline
                other.rollback()  # pg_stat_activity is read once per transaction
                time.sleep(0.05)
        with pytest.raises(DBAPIError) as raised:
            lt.fetch_tile(conn, lt.tile_statement(view, tile.tms_id), lt.tile_params(tile))
        assert raised.value.connection_invalidated and conn.invalidated
        assert database_unavailable(raised.value)
    with read_connection(engine) as conn:  # the pool hands out a live connection
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_the_compiled_statements_kept_are_bounded(engine: Engine) -> None:
    """Every engine's dialect compiles its own; an app per test must not grow the cache."""
    view = LayerSQL(next(iter(layers())), privileged=False)
    tile = _tiles("WebMercatorQuad")[0]
    stmt, values = lt.tile_statement(view, tile.tms_id), lt.tile_params(tile)
    for _ in range(lt._COMPILED_MAX + 5):
        dialect = type(engine.dialect)()
        assert lt._compiled(dialect, stmt, values).sql == lt._compiled(dialect, stmt, values).sql
        assert len(lt._COMPILED) <= lt._COMPILED_MAX

"""Restoring into another var directory rewrites raster paths; the directories are data, not SQL."""

from __future__ import annotations

from sqlalchemy import Engine, text

from api.db.backup import _relocate_sql

#: A directory name with a quote, a backslash, a dollar quote and a statement in it.
ODD = "/srv/it's $$ a\\b'; DROP TABLE rasters; --/var"

RASTER = """
INSERT INTO rasters (name, title, kind, path, sha256, crs, width, height, resolution, dtype,
                     properties, geom, source, licence, method)
VALUES (:name, 'relocation test', 'test', :path, repeat('0', 64), 'EPSG:4326', 1, 1,
        ARRAY[1.0, 1.0], 'uint8', '{}', ST_MakeEnvelope(70, 40, 71, 41, 4326), 'test', 'CC0-1.0',
        'example')
"""


def test_raster_paths_move_to_the_new_var_dir_whatever_the_names(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(text(RASTER), {"name": "moved", "path": f"{ODD}/analyses/a.tif"})
        conn.execute(text(RASTER), {"name": "elsewhere", "path": "/elsewhere/b.tif"})
        conn.exec_driver_sql(_relocate_sql(ODD, "/new/var 'two'"))
        paths = dict(
            conn.execute(
                text("SELECT name, path FROM rasters WHERE name IN ('moved', 'elsewhere')")
            ).all()
        )
        triggers_on = conn.execute(
            text(
                "SELECT bool_and(tgenabled = 'O') FROM pg_trigger "
                "WHERE tgrelid = 'rasters'::regclass AND NOT tgisinternal"
            )
        ).scalar_one()
        tx.rollback()
    assert paths == {"moved": "/new/var 'two'/analyses/a.tif", "elsewhere": "/elsewhere/b.tif"}
    assert triggers_on is True

"""Geometry round trips through the store; SRIDs are checked; history is kept; roles."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DataError, InternalError, ProgrammingError

import geopandas as gpd
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box

from api.db import models as m
from api.db.engine import set_actor
from api.db.store import insert_gdf, read_table
from geo.errors import CRSMismatch
from geo.testing import assert_geometries_equal

PROV = {"source": "test", "licence": "CC0-1.0", "method": "example"}


def _lake(geom: MultiPolygon, crs: int = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["Test lake"]}, geometry=[geom], crs=crs)


def test_geometry_round_trip(db_session) -> None:
    geom = MultiPolygon([box(76.9, 43.1, 77.0, 43.2), box(77.1, 43.1, 77.15, 43.15)])
    insert_gdf(db_session, m.Lake, _lake(geom), ["name"], defaults=PROV)
    out = read_table(db_session, m.Lake, [m.Lake.source == "test"])
    assert out.crs.to_epsg() == 4326
    assert len(out) == 1
    assert_geometries_equal(out.geometry.iloc[0], geom)
    srid = db_session.execute(
        text("SELECT DISTINCT ST_SRID(geom) FROM lakes WHERE source = 'test'")
    ).scalar_one()
    assert srid == 4326


def test_other_crs_refused_before_storage(db_session) -> None:
    gdf = _lake(MultiPolygon([box(76.9, 43.1, 77.0, 43.2)])).to_crs(3857)
    with pytest.raises(CRSMismatch, match="EPSG:4326"):
        insert_gdf(db_session, m.Lake, gdf, ["name"], defaults=PROV)


def test_database_refuses_mismatched_srid(db_session) -> None:
    geom = from_shape(MultiPolygon([box(8_560_000, 5_330_000, 8_570_000, 5_340_000)]), srid=3857)
    with pytest.raises((DataError, InternalError, ProgrammingError), match="SRID"):
        db_session.execute(m.Lake.__table__.insert().values(name="bad", geom=geom, **PROV))
        db_session.flush()


def test_updates_and_deletes_keep_history(db_session) -> None:
    set_actor(db_session, "tester")
    lake = m.Lake(
        name="Old name", geom=from_shape(MultiPolygon([box(77, 43, 77.1, 43.1)]), 4326), **PROV
    )
    db_session.add(lake)
    db_session.flush()
    lake.name = "New name"
    db_session.flush()
    db_session.delete(lake)
    db_session.flush()
    rows = db_session.execute(
        select(m.AuditLog.action, m.AuditLog.actor, m.AuditLog.before, m.AuditLog.after)
        .where(m.AuditLog.table_name == "lakes", m.AuditLog.row_id == str(lake.id))
        .order_by(m.AuditLog.id)
    ).all()
    assert [r.action for r in rows] == ["insert", "update", "delete"]
    assert {r.actor for r in rows} == {"tester"}
    assert rows[1].before["name"] == "Old name" and rows[1].after["name"] == "New name"
    assert rows[2].before["name"] == "New name" and rows[2].after is None
    assert rows[2].before["geom"]["type"] == "MultiPolygon"


def test_writes_bump_layer_version(db_session) -> None:
    def version() -> int:
        return db_session.execute(
            text("SELECT version FROM layer_versions WHERE table_name = 'lakes'")
        ).scalar_one()

    v0 = version()
    db_session.add(
        m.Lake(name="x", geom=from_shape(MultiPolygon([box(77, 43, 77.1, 43.1)]), 4326), **PROV)
    )
    db_session.flush()
    assert version() > v0


def test_reader_role_cannot_write(settings, demo) -> None:
    engine = create_engine(settings.database.read_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM countries")).scalar_one() > 0
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text("DELETE FROM countries"))
    finally:
        engine.dispose()


def test_point_round_trip(db_session) -> None:
    gdf = gpd.GeoDataFrame({"name": ["Peak"]}, geometry=[Point(78.0, 42.0)], crs=4326)
    insert_gdf(db_session, m.Peak, gdf, ["name"], defaults=PROV)
    out = read_table(db_session, m.Peak, [m.Peak.source == "test"])
    assert_geometries_equal(out.geometry.iloc[0], Point(78.0, 42.0))

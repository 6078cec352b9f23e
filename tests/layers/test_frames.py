"""The one PostGIS -> GeoDataFrame reader (layers.frames.read_gdf), on the real database."""

from __future__ import annotations

from sqlalchemy import column, literal_column, select, table
from sqlalchemy.orm import Session

from geoalchemy2 import Geometry

from layers.frames import read_gdf

VALUES = """
    SELECT * FROM (VALUES
        (1, 'a square', ST_GeomFromText('POLYGON((70 45, 71 45, 71 46, 70 46, 70 45))', 4326)),
        (2, 'a collection', ST_GeomFromText(
            'GEOMETRYCOLLECTION(POLYGON((72 45, 73 45, 73 46, 72 45)), LINESTRING(72 45, 74 47))',
            4326)),
        (3, 'empty', ST_GeomFromText('POLYGON EMPTY', 4326)),
        (4, 'no geometry', NULL::geometry)
    ) AS t(id, name, geom)
"""


def test_wkb_from_st_asbinary_with_collections_empties_and_nulls(db_tx) -> None:  # type: ignore[no-untyped-def]
    gdf = read_gdf(
        db_tx.connection,
        f"SELECT id, name, ST_AsBinary(geom) AS geom FROM ({VALUES}) v ORDER BY id",
    )
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.name == "geom"
    assert list(gdf["name"]) == ["a square", "a collection", "empty", "no geometry"]
    assert gdf.geometry.iloc[0].area == 1.0
    assert gdf.geometry.iloc[1].geom_type == "GeometryCollection"
    assert gdf.geometry.iloc[2].is_empty
    assert gdf.geometry.iloc[3] is None


def test_a_geometry_column_as_it_is_and_bound_parameters(db_tx) -> None:  # type: ignore[no-untyped-def]
    """Selected without ST_AsBinary, the driver returns EWKB hex: read the same way."""
    gdf = read_gdf(
        db_tx.connection,
        f"SELECT id, geom AS shape FROM ({VALUES}) v WHERE id = :i",
        params={"i": 1},
        geom_col="shape",
    )
    assert len(gdf) == 1 and gdf.geometry.name == "shape"
    assert gdf.geometry.iloc[0].bounds == (70.0, 45.0, 71.0, 46.0)


def test_a_core_statement_on_a_session_and_geoalchemy_elements(db_tx) -> None:  # type: ignore[no-untyped-def]
    sites = table("field_sites", column("id"), column("geom", Geometry("MULTIPOLYGON", 4326)))
    with Session(bind=db_tx.connection, join_transaction_mode="create_savepoint") as session:
        gdf = read_gdf(session, select(sites.c.id, sites.c.geom).order_by(sites.c.id).limit(3))
    assert len(gdf) == 3
    assert set(gdf.geometry.geom_type) == {"MultiPolygon"}


def test_no_rows_is_an_empty_frame_with_the_query_columns(db_tx) -> None:  # type: ignore[no-untyped-def]
    gdf = read_gdf(
        db_tx.connection,
        select(literal_column("1").label("id"), literal_column("NULL::bytea").label("geom")).where(
            literal_column("false")
        ),
    )
    assert gdf.empty and list(gdf.columns) == ["id", "geom"] and gdf.crs.to_epsg() == 4326

"""layers.analyses: the statements analyses read their inputs and results with, on PostGIS."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

import shapely
from geoalchemy2.shape import from_shape

from api.db import models as m
from layers import analyses as la
from layers.frames import read_gdf
from tests.rollback import RolledBack


def test_field_sites_carry_their_grants_species_sorted_and_an_empty_list_for_none(
    db_tx: RolledBack,
) -> None:
    with db_tx.engine.begin() as conn:
        codes = dict(conn.execute(select(m.Grant.id, m.Grant.code)).all())
        sites = conn.execute(select(m.FieldSite.id, m.FieldSite.grant_id)).all()
        one, other = sorted({g for _s, g in sites})[:2]
        names = dict(conn.execute(select(m.Species.scientific_name, m.Species.id)).all())
        conn.execute(delete(m.grant_species).where(m.grant_species.c.grant_id.in_([one, other])))
        conn.execute(
            insert(m.grant_species),
            [
                {"grant_id": one, "species_id": names["Panthera uncia"]},
                {"grant_id": one, "species_id": names["Gazella subgutturosa"]},
            ],
        )
        got = read_gdf(conn, la.field_sites_with_grants())
    assert got["id"].tolist() == sorted(s for s, _g in sites)
    by_grant = {code: list(sp) for code, sp in zip(got["grant_code"], got["species"], strict=True)}
    assert by_grant[codes[one]] == ["Gazella subgutturosa", "Panthera uncia"]
    assert by_grant[codes[other]] == []


def _stored_run(db: RolledBack) -> int:
    """An overlap run with three result geometries (circles of many vertices): two pieces
    of kind ``overlap`` and one of another kind, in the test's transaction."""
    circles = [shapely.Point(75 + i, 42).buffer(0.5, quad_segs=64) for i in range(3)]
    with db.engine.begin() as conn:
        run = conn.scalar(
            insert(m.AnalysisRun)
            .values(kind="overlap", status="succeeded", parameters={}, inputs={})
            .returning(m.AnalysisRun.id)
        )
        conn.execute(
            insert(m.AnalysisFeature),
            [
                {"run_id": run, "kind": kind, "properties": {"n": i}, "geom": from_shape(c, 4326)}
                for i, (kind, c) in enumerate(
                    zip(("overlap", "other", "overlap"), circles, strict=True)
                )
            ],
        )
    assert run is not None
    return int(run)


def test_run_features_are_the_stored_geometries_of_their_kind_simplified_on_request(
    db_tx: RolledBack,
) -> None:
    run = _stored_run(db_tx)
    with db_tx.engine.begin() as conn:
        stored = read_gdf(
            conn,
            select(
                m.AnalysisFeature.id,
                m.AnalysisFeature.kind,
                m.AnalysisFeature.geom.ST_AsBinary().label("geom"),
            )
            .where(m.AnalysisFeature.run_id == run)
            .order_by(m.AnalysisFeature.id),
        )
        exact = conn.execute(la.run_features(run, "overlap")).mappings().all()
        simple = conn.execute(la.run_features(run, "overlap", simplify=0.05)).mappings().all()
        pieces = conn.execute(la.run_features(run, "overlap", "overlap")).mappings().all()
        none = conn.execute(la.run_features(run, "overlap", "no_such_kind")).all()
    assert [r["id"] for r in exact] == stored["id"].tolist() == [r["id"] for r in simple]
    assert [r["properties"]["n"] for r in exact] == [0, 1, 2]
    assert [r["id"] for r in pieces] == stored.loc[stored["kind"] == "overlap", "id"].tolist()
    assert none == []
    shapes = [shapely.geometry.shape(r["g"]) for r in exact]
    for shape, geom in zip(shapes, stored.geometry, strict=True):
        assert shape.equals_exact(geom, tolerance=1e-6)
    points = sum(shapely.get_num_coordinates(shapely.geometry.shape(r["g"])) for r in simple)
    assert points < sum(shapely.get_num_coordinates(s) for s in shapes) / 2

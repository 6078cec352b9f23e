"""The plans of the grant figures' statements, read with PostgreSQL's own EXPLAIN: the union of
the protected areas is computed once per statement, however many habitat rows it is joined to.

PostgreSQL inlines a common table expression read once; joined ``ON true`` to the habitat rows,
an inlined aggregate is computed again for each of them (12 times on the demo, 280 of the gap's
340 ms). The statements mark it ``MATERIALIZED``; these tests fail when that is lost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from layers import grants as lg


def _scans(plan: dict[str, Any], relation: str) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Relation Name") == relation else []
    for child in plan.get("Plans", []):
        found += _scans(child, relation)
    return found


def _explain(conn: Any, stmt: Any) -> dict[str, Any]:
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)).scalar_one()[0]["Plan"]


def _habitat_around(conn: Any, x: float, y: float) -> None:
    """A habitat run of three rows (two species, two ecosystems) in boxes around (x, y)."""
    run = conn.execute(
        text(
            "INSERT INTO analysis_runs (kind, status, title) VALUES ('habitat', 'succeeded',"
            " 'test habitat') RETURNING id"
        )
    ).scalar_one()
    species = conn.execute(text("SELECT id FROM species ORDER BY id LIMIT 2")).scalars().all()
    rows = [(species[0], "mountain", 0.5), (species[-1], "mountain", 0.8)]
    rows.append((species[0], "arid_lowland", 1.2))
    for sp, eco, r in rows:
        conn.execute(
            text(
                "INSERT INTO habitat (species_id, ecosystem, analysis_run_id, area_ha, geom,"
                " source, licence, method) VALUES (:sp, :eco, :run, 0,"
                " ST_Multi(ST_MakeEnvelope(:x - :r, :y - :r, :x + :r, :y + :r, 4326)), 'test',"
                " 'test', 'example')"
            ),
            {"sp": sp, "eco": eco, "run": run, "x": x, "y": y, "r": r},
        )


def _site(conn: Any) -> tuple[int, float, float]:
    """A grant with field sites inside a designated protected area, and a point of its sites."""
    grant, x, y = conn.execute(
        text(
            "SELECT s.grant_id, ST_X(ST_PointOnSurface(s.geom)), ST_Y(ST_PointOnSurface(s.geom))"
            " FROM field_sites s JOIN protected_areas p ON ST_Intersects(s.geom, p.geom)"
            " WHERE p.status <> 'Proposed' AND GeometryType(p.geom) IN ('POLYGON',"
            " 'MULTIPOLYGON') ORDER BY s.id LIMIT 1"
        )
    ).one()
    return grant, x, y


def test_the_habitat_gap_reads_the_protected_areas_once(tx_engine) -> None:
    with tx_engine.begin() as conn:
        _, x, y = _site(conn)
        _habitat_around(conn, x, y)
        plan = _explain(conn, lg._gap_stmt())
    scans = _scans(plan, "protected_areas")
    assert plan["Actual Rows"] == 2  # the two ecosystems, from three habitat rows
    assert scans
    assert [s["Actual Loops"] for s in scans] == [1] * len(scans)


def test_a_grants_added_habitat_reads_the_protected_areas_once(tx_engine) -> None:
    with tx_engine.begin() as conn:
        grant, x, y = _site(conn)
        _habitat_around(conn, x, y)
        plan = _explain(conn, lg._habitat_stmt(grant))
    scans = _scans(plan, "protected_areas")
    assert plan["Actual Rows"] >= 2  # several species x ecosystem rows joined to the union
    assert scans
    assert [s["Actual Loops"] for s in scans] == [1] * len(scans)

"""A grant's geometry is the union of its field sites, kept by statement triggers (0013):
after inserts of many rows, moves between grants, edits and deletes, every grant touched holds
exactly the union of its sites, checked against an independent ``ST_Union`` of the rows."""

from __future__ import annotations

from sqlalchemy import text

from tests.rollback import RolledBack

PROV = "'test footprint', 'CC-BY-4.0', 'example'"


def _matches(db_tx: RolledBack, grant_id: int) -> bool:
    """The grant's stored footprint equals the union of its sites now (both NULL when none)."""
    row = db_tx.connection.execute(
        text(
            "SELECT g.geom IS NULL AND u.geom IS NULL "
            "OR ST_Equals(g.geom, u.geom) FROM grants g, "
            "(SELECT ST_Union(geom) AS geom FROM field_sites WHERE grant_id = :g) u "
            "WHERE g.id = :g"
        ),
        {"g": grant_id},
    ).scalar_one()
    return bool(row)


def test_footprints_follow_multi_row_inserts_moves_edits_and_deletes(db_tx: RolledBack) -> None:
    conn = db_tx.connection
    g1, g2 = conn.execute(text("SELECT id FROM grants ORDER BY id LIMIT 2")).scalars().all()
    # 200 sites of one grant in one statement: squares in a row east of Almaty
    conn.execute(
        text(
            "INSERT INTO field_sites (grant_id, name, uploaded_by, source, licence, method, geom) "
            f"SELECT :g, 'footprint ' || n, 'test', {PROV}, ST_Multi(ST_MakeEnvelope("
            "77.0 + n * 0.01, 43.0, 77.005 + n * 0.01, 43.005, 4326)) "
            "FROM generate_series(1, 200) n"
        ),
        {"g": g1},
    )
    assert _matches(db_tx, g1)
    area = conn.execute(
        text("SELECT ST_Area(geom::geography) FROM grants WHERE id = :g"), {"g": g1}
    ).scalar_one()
    assert area > 200 * 0.005 * 0.005 * 8e9  # at least the new squares (about 0.2 km² each)

    # move half of them to another grant in one statement
    conn.execute(
        text(
            "UPDATE field_sites SET grant_id = :g2 WHERE grant_id = :g1 "
            "AND name LIKE 'footprint %' AND substr(name, 11)::int % 2 = 0"
        ),
        {"g1": g1, "g2": g2},
    )
    assert _matches(db_tx, g1) and _matches(db_tx, g2)

    # reshape one site; rename another (no geometry change)
    conn.execute(
        text(
            "UPDATE field_sites SET geom = ST_Multi(ST_MakeEnvelope(78, 44, 78.1, 44.1, 4326)) "
            "WHERE grant_id = :g AND name = 'footprint 1'"
        ),
        {"g": g1},
    )
    conn.execute(
        text(
            "UPDATE field_sites SET name = 'renamed' WHERE grant_id = :g AND name = 'footprint 3'"
        ),
        {"g": g1},
    )
    assert _matches(db_tx, g1) and _matches(db_tx, g2)

    # delete every site of the second grant: its footprint is gone
    conn.execute(text("DELETE FROM field_sites WHERE grant_id = :g"), {"g": g2})
    assert _matches(db_tx, g1) and _matches(db_tx, g2)
    assert conn.execute(
        text("SELECT geom IS NULL FROM grants WHERE id = :g"), {"g": g2}
    ).scalar_one()


def test_one_statement_fires_one_footprint_update_per_grant(db_tx: RolledBack) -> None:
    """The triggers are per statement (a row trigger re-unions every site after each row)."""
    rows = db_tx.connection.execute(
        text(
            "SELECT tgname, tgtype & 1 = 1 AS per_row FROM pg_trigger "
            "WHERE tgrelid = 'field_sites'::regclass AND tgname LIKE '%footprint%' ORDER BY tgname"
        )
    ).all()
    assert [r.tgname for r in rows] == [
        "field_sites_grant_footprint_del",
        "field_sites_grant_footprint_ins",
        "field_sites_grant_footprint_upd",
    ]
    assert not any(r.per_row for r in rows)

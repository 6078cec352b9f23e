"""layers.public: the rows (and geometries) the public sees of a table are the ones the
registry's layers show the public, with no second copy of the rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, table, text

from layers.public import public_rows, public_select, published_threats
from layers.registry import get_layer, layers
from layers.sql import LayerSQL, Query
from tests.rollback import RolledBack

HIDDEN = "Unpublished test threat"


def _hide_some(db: RolledBack) -> None:
    """An unpublished threat and a monitoring point not yet accepted, in the test's transaction."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom, "
                "source, licence, method) SELECT :n, kind, status, links, properties, false, "
                "geom, source, licence, method FROM threats WHERE published ORDER BY id LIMIT 1"
            ),
            {"n": HIDDEN},
        )
        conn.execute(
            text(
                "UPDATE monitoring_points SET accepted = false "
                "WHERE id = (SELECT min(id) FROM monitoring_points)"
            )
        )


def test_public_rows_are_the_rows_the_features_api_serves(db_tx: RolledBack) -> None:
    _hide_some(db_tx)
    with db_tx.reader_engine.connect() as conn:
        for spec in layers():
            everything = conn.execute(select(func.count()).select_from(table(spec.table)))
            public = conn.execute(
                select(func.count()).select_from(public_rows(spec.table, spec.id_column))
            )
            served = conn.execute(LayerSQL(spec, privileged=False).count(Query()))
            n_public, n_all = public.scalar_one(), everything.scalar_one()
            assert n_public == served.scalar_one(), spec.id
            if spec.public_where:  # the rows hidden above are hidden here
                assert n_public == n_all - 1, spec.id
            else:
                assert n_public == n_all, spec.id


def test_unpublished_threats_are_not_among_the_published(db_tx: RolledBack) -> None:
    _hide_some(db_tx)
    t = published_threats("name", name="t")
    with db_tx.reader_engine.connect() as conn:
        names = set(conn.scalars(select(t.c.name)))
        stored = set(conn.scalars(text("SELECT name FROM threats")))
    assert HIDDEN in stored
    assert HIDDEN not in names
    assert names == stored - {HIDDEN}


def test_sensitive_locations_are_generalised_as_in_the_features_api(db_tx: RolledBack) -> None:
    spec = get_layer("monitoring_points")
    sql = LayerSQL(spec, privileged=False)
    rows = public_rows("monitoring_points", "id", "geom", name="p")
    public = select(rows.c.id, func.ST_AsText(rows.c.geom))
    served = select(sql.id_col, func.ST_AsText(sql.geom())).select_from(sql.from_clause())
    raw = select(sql.id_col, func.ST_AsText(sql.raw_geom)).select_from(sql.main)
    with db_tx.reader_engine.connect() as conn:
        seen = dict(conn.execute(public.order_by(rows.c.id)).tuples().all())
        api = dict(conn.execute(served.where(*sql.where_public())).tuples().all())
    with db_tx.engine.connect() as conn:  # the precise points, as only the writer reads them
        precise = dict(conn.execute(raw).tuples().all())
    assert seen and seen == api
    moved = [i for i in seen if seen[i] != precise[i]]
    assert moved, "the demo's monitoring points are sensitive: none was generalised"


def test_every_column_of_a_generalised_table_is_refused() -> None:
    with pytest.raises(ValueError, match="generalised"):
        public_select("monitoring_points")

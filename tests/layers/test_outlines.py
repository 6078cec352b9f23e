"""The outline under the upload form, and /health's counts, read without SQL in routers."""

from __future__ import annotations

from sqlalchemy import text

import shapely
from shapely.geometry import shape

from layers.outlines import programme_outline
from tests.rollback import RolledBack


def test_programme_outline_is_the_programme_countries(db_tx: RolledBack) -> None:
    with db_tx.reader_engine.connect() as conn:
        outline = programme_outline(conn)
        q = text("SELECT name, ST_AsText(geom) FROM countries WHERE programme")
        stored = dict(conn.execute(q).tuples().all())
    assert outline["type"] == "FeatureCollection"
    names = [f["properties"]["name"] for f in outline["features"]]
    assert sorted(names) == names and set(names) == set(stored) and stored
    for f in outline["features"]:
        drawn, precise = shape(f["geometry"]), shapely.from_wkt(stored[f["properties"]["name"]])
        assert drawn.is_valid and not drawn.is_empty
        # simplified by 0.01 degrees: close to the stored boundary, never far from it
        assert drawn.hausdorff_distance(precise) < 0.05


def test_health_counts_species_and_grants(tx_client, db_tx: RolledBack) -> None:  # type: ignore[no-untyped-def]
    with db_tx.reader_engine.connect() as conn:
        species = conn.execute(text("SELECT count(*) FROM species")).scalar_one()
        grants = conn.execute(text("SELECT count(*) FROM grants")).scalar_one()
    r = tx_client.get("/health")
    assert r.status_code == 200
    db = r.json()["database"]
    assert (db["species"], db["grants"], db["demo_loaded"]) == (species, grants, grants > 0)
    assert grants > 0

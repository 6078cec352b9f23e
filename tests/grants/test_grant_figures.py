"""What a grant's sites overlap beyond protected areas: modelled habitat per species, what the
grant adds to coverage (habitat outside designated protected areas, per species × ecosystem)
and ecosystem classes, checked against an independent PostGIS geography computation on the
same records, on the page, its JSON and the donor report."""

from __future__ import annotations

import io
from typing import Any

import pikepdf
import pytest
from sqlalchemy import Engine, text

CODE = "SOS-CA-EX-01"  # one site, almost all inside Ile-Alatau National Park

SITES_UNION = (
    "SELECT ST_Union(s.geom) FROM field_sites s JOIN grants g ON g.id = s.grant_id"
    " WHERE g.code = :code"
)
DESIGNATED = (
    "SELECT ST_Union(geom) FROM protected_areas WHERE status <> 'Proposed'"
    " AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')"
)


def _run(conn: Any, kind: str) -> int:
    return int(
        conn.execute(
            text(
                "INSERT INTO analysis_runs (kind, status, title) VALUES (:k, 'succeeded',"
                " 'test figures') RETURNING id"
            ),
            {"k": kind},
        ).scalar_one()
    )


@pytest.fixture
def figures(db_tx) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A habitat run and an ecosystems run (the latest of each) cutting the grant's site in
    parts: snow leopard habitat in the west half, gazelle habitat on the whole and in the
    east part, mountains in the west 60 % and arid lowlands in the rest."""
    with db_tx.engine.begin() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                f"SELECT ST_XMin(u), ST_YMin(u), ST_XMax(u), ST_YMax(u) FROM ({SITES_UNION}) s(u)"
            ),
            {"code": CODE},
        ).one()
        mid, west = x0 + (x1 - x0) * 0.5, x0 + (x1 - x0) * 0.6
        pad = 0.05
        hrun, erun = _run(conn, "habitat"), _run(conn, "ecosystems")
        species = dict(conn.execute(text("SELECT scientific_name, id FROM species")).all())
        habitat = [
            ("Panthera uncia", "mountain", (x0 - pad, y0 - pad, mid, y1 + pad)),
            ("Gazella subgutturosa", "mountain", (x0 - pad, y0 - pad, west, y1 + pad)),
            ("Gazella subgutturosa", "arid_lowland", (west, y0 - pad, x1 + pad, y1 + pad)),
        ]
        for name, eco, box in habitat:
            conn.execute(
                text(
                    "INSERT INTO habitat (species_id, ecosystem, analysis_run_id, area_ha, geom,"
                    " source, licence, method) VALUES (:sp, :eco, :run, 0,"
                    " ST_Multi(ST_MakeEnvelope(:a, :b, :c, :d, 4326)), 'test', 'test',"
                    " 'modelled')"
                ),
                {
                    "sp": species[name],
                    "eco": eco,
                    "run": hrun,
                    "a": box[0],
                    "b": box[1],
                    "c": box[2],
                    "d": box[3],
                },
            )
        for kind, box in (
            ("mountain", (x0 - pad, y0 - pad, west, y1 + pad)),
            ("arid_lowland", (west, y0 - pad, x1 + pad, y1 + pad)),
        ):
            conn.execute(
                text(
                    "INSERT INTO ecosystems (kind, analysis_run_id, properties, geom, source,"
                    " licence, method) VALUES (:k, :run, '{}',"
                    " ST_Multi(ST_MakeEnvelope(:a, :b, :c, :d, 4326)), 'test', 'test', 'modelled')"
                ),
                {"k": kind, "run": erun, "a": box[0], "b": box[1], "c": box[2], "d": box[3]},
            )
    return {"habitat_run": hrun, "ecosystems_run": erun}  # rolled back with the test


def _expected(engine: Engine, run: int) -> dict[tuple[str, str], tuple[float, float]]:
    """Per species × ecosystem: habitat in the union of the sites and its part outside the
    union of every designated protected area, in ha on the ellipsoid (geography)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"WITH u AS ({SITES_UNION}), pa AS ({DESIGNATED}),"
                " h AS (SELECT s.scientific_name AS sp, h.ecosystem AS eco,"
                "        ST_Intersection(h.geom, (SELECT * FROM u)) AS g"
                "        FROM habitat h JOIN species s ON s.id = h.species_id"
                "        WHERE h.analysis_run_id = :run)"
                " SELECT sp, eco, ST_Area(g::geography) / 1e4,"
                " ST_Area(ST_Difference(g, (SELECT * FROM pa))::geography) / 1e4 FROM h"
            ),
            {"code": CODE, "run": run},
        ).all()
    return {(sp, eco): (ha, added) for sp, eco, ha, added in rows if ha > 0}


def test_habitat_and_coverage_match_an_independent_computation(
    tx_client, db_tx, figures: dict[str, Any]
) -> None:
    expected = _expected(db_tx.engine, figures["habitat_run"])
    assert len(expected) == 3
    # the park covers most of the site, not all: the grant adds some unprotected habitat
    assert all(0 < added < ha for ha, added in expected.values())
    r = tx_client.get(f"/api/grants/{CODE}/page")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    h = r.json()["habitat"]
    assert h["run"] == figures["habitat_run"]
    got = {(c["species"], c["ecosystem"]): (c["habitat_ha"], c["added_ha"]) for c in h["coverage"]}
    assert set(got) == set(expected)
    for key, (ha, added) in expected.items():
        assert got[key][0] == pytest.approx(ha, rel=1e-6)
        assert got[key][1] == pytest.approx(added, rel=1e-6)
    per_species = {s["species"]: s["habitat_ha"] for s in h["by_species"]}
    gazelle = sum(v[0] for k, v in expected.items() if k[0] == "Gazella subgutturosa")
    assert per_species["Gazella subgutturosa"] == pytest.approx(gazelle, rel=1e-6)
    assert h["added_ha"] == pytest.approx(sum(v[1] for v in expected.values()), rel=1e-6)
    # the demo's site is example data: the figures say so, naming it
    assert h["method"] == "example"
    assert any(i.startswith("field site: ") for i in h["example_inputs"])

    page = tx_client.get(f"/grants/{CODE}")
    assert page.status_code == 200
    assert 'id="coverage"' in page.text and 'id="habitat"' in page.text
    for ha, added in expected.values():
        assert f"{ha:,.1f}" in page.text and f"{added:,.1f}" in page.text
    assert "Modelled on example data:" in page.text
    report = tx_client.get(f"/grants/{CODE}/report")
    assert 'id="report-coverage"' in report.text
    assert f"{next(iter(expected.values()))[1]:,.1f}" in report.text
    pdf = tx_client.get(f"/grants/{CODE}/report.pdf")
    assert pdf.status_code == 200
    with pikepdf.open(io.BytesIO(pdf.content)) as doc:
        assert len(doc.pages) == 1  # still one page with the figures
    # what the figures rest on, in the reader's language
    ru = tx_client.get(f"/grants/{CODE}", headers={"Accept-Language": "ru"})
    assert "полевой участок: " in ru.text and "field site: " not in ru.text


def test_ecosystem_classes_match_an_independent_computation(
    tx_client, db_tx, figures: dict[str, Any]
) -> None:
    with db_tx.engine.connect() as conn:
        expected = dict(
            conn.execute(
                text(
                    f"WITH u AS ({SITES_UNION}) SELECT e.kind,"
                    " ST_Area(ST_Intersection(e.geom, (SELECT * FROM u))::geography)"
                    " / ST_Area((SELECT * FROM u)::geography)"
                    " FROM ecosystems e WHERE e.analysis_run_id = :run"
                ),
                {"code": CODE, "run": figures["ecosystems_run"]},
            ).all()
        )
        site_ha = conn.execute(
            text(f"SELECT ST_Area(u::geography) / 1e4 FROM ({SITES_UNION}) s(u)"), {"code": CODE}
        ).scalar_one()
    assert set(expected) == {"mountain", "arid_lowland"}
    e = tx_client.get(f"/api/grants/{CODE}/page").json()["ecosystems"]
    got = {c["ecosystem"]: c for c in e["classes"]}
    assert set(got) == set(expected)
    for kind, share in expected.items():
        assert got[kind]["share"] == pytest.approx(share, rel=1e-6)
        assert got[kind]["area_ha"] == pytest.approx(share * site_ha, rel=1e-6)
    assert sum(c["share"] for c in e["classes"]) == pytest.approx(1.0, rel=1e-6)
    page = tx_client.get(f"/grants/{CODE}").text
    assert 'id="ecosystems"' in page and f"{expected['mountain']:.1%}" in page


def test_a_grant_without_sites_has_no_figures(client) -> None:
    r = client.get("/api/grants/SOS-CA-EX-12/page")
    assert r.status_code == 200
    body = r.json()
    assert body["habitat"]["coverage"] == [] and body["ecosystems"]["classes"] == []
    page = client.get("/grants/SOS-CA-EX-12").text
    assert 'id="no-habitat"' in page and 'id="no-ecosystems"' in page
    assert client.get("/api/grants/NOPE/page").status_code == 404

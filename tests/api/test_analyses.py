"""Analyses as records on the demo data: runs, areas against PostGIS geography, the API."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import rasterio

from api.db import models as m
from api.services import analyses as an
from api.settings import Settings
from geo.errors import InvalidInput, NotFound
from geo.raster import sha256_file

pytestmark = pytest.mark.cleaned_up  # its analysis runs are shared by its tests (module-scoped)


@pytest.fixture(scope="module")
def runs(engine: Engine, settings: Settings, demo: dict[str, int]) -> dict[str, Any]:
    """One run of every analysis on the demo (about 10 s)."""
    ids: dict[str, Any] = {}
    ids["ecosystems"] = an.run_ecosystems(engine, settings)
    ids["habitat"] = an.run_habitat(engine, settings)
    ids["gaps"] = an.run_gaps(engine, settings)
    # field sites count while their grant is under way: half-way through the example grants
    ids["overlap"] = an.run_overlap(
        engine, settings, ["protected_areas", "field_sites"], as_of=dt.date(2021, 6, 30)
    )
    ids["epochs"] = an.register_habitat_scenario(engine, settings)
    ids["loss"] = an.run_loss(engine, settings, epochs=ids["epochs"])
    return ids


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def test_every_run_succeeded_with_inputs_and_versions(runs, session):
    versions = dict(session.execute(text("SELECT table_name, version FROM layer_versions")).all())
    for kind in ("ecosystems", "habitat", "gaps", "overlap", "loss"):
        run = an.get_run(session, runs[kind])
        assert run.status == "succeeded", (kind, run.error)
        assert run.finished_at >= run.started_at
        for table, v in run.inputs["tables"].items():
            assert v == versions.get(table, 0), (kind, table)
    eco = an.get_run(session, runs["ecosystems"])
    for name, r in eco.inputs["rasters"].items():
        row = session.query(m.RasterDataset).filter_by(name=name).one()
        assert r["sha256"] == row.sha256
    hab = an.get_run(session, runs["habitat"])
    assert hab.inputs["runs"]["ecosystems"] == runs["ecosystems"]
    assert hab.parameters["species"]["Panthera uncia"]["elevation_min_m"] == 3000


def test_ecosystem_raster_is_registered_with_sources(runs, session):
    row = (
        session.query(m.RasterDataset).filter_by(name=f"ecosystems_run_{runs['ecosystems']}").one()
    )
    assert row.method == "modelled" and row.sha256 == sha256_file(row.path)
    with rasterio.open(row.path) as r:
        assert r.count == 5 and r.descriptions[1] == "dem_source"
        assert r.descriptions[4] == "landcover_igbp"
        src = r.read(2)
    assert {1, 2} <= set(src.ravel().tolist())  # both DEMs contributed cells


def test_ecosystem_areas_agree_with_postgis_geography(runs, session):
    rows = session.execute(
        text(
            "SELECT kind, iso3, (properties->>'area_ha')::float AS ours, "
            "ST_Area(geom::geography) / 1e4 AS pg FROM ecosystems WHERE analysis_run_id = :r"
        ),
        {"r": runs["ecosystems"]},
    ).all()
    assert {r.kind for r in rows} == {"mountain", "arid_lowland", "other"}
    for r in rows:
        assert r.ours == pytest.approx(r.pg, rel=5e-3), r
    # whole countries add up to the country polygons
    total = session.execute(
        text(
            "SELECT e.iso3, sum(ST_Area(e.geom::geography)) / 1e4 AS eco, "
            "(SELECT ST_Area(c.geom::geography) / 1e4 FROM countries c WHERE c.iso_a3 = e.iso3) AS c "
            "FROM ecosystems e WHERE e.analysis_run_id = :r GROUP BY e.iso3"
        ),
        {"r": runs["ecosystems"]},
    ).all()
    for t in total:
        assert t.eco == pytest.approx(t.c, rel=1e-2), t  # the 1′ grid follows the border


def test_mountains_and_lowlands_where_expected(runs, session):
    share = dict(
        session.execute(
            text(
                "SELECT iso3, sum(ST_Area(geom::geography)) FILTER (WHERE kind = 'mountain') "
                "/ sum(ST_Area(geom::geography)) FROM ecosystems WHERE analysis_run_id = :r GROUP BY iso3"
            ),
            {"r": runs["ecosystems"]},
        ).all()
    )
    assert share["KGZ"] > 0.8 and share["TJK"] > 0.7  # mountain countries
    assert share["KAZ"] < 0.15 and share["UZB"] < 0.25  # mostly lowland


def test_habitat_areas_agree_with_postgis_geography(runs, session):
    rows = session.execute(
        text(
            "SELECT area_ha, ST_Area(geom::geography) / 1e4 AS pg, method, params FROM habitat "
            "WHERE analysis_run_id = :r"
        ),
        {"r": runs["habitat"]},
    ).all()
    assert rows
    for r in rows:
        assert r.method == "modelled" and "elevation_max_m" in r.params
        assert r.area_ha == pytest.approx(r.pg, rel=5e-3)


def test_protected_share_agrees_with_postgis(runs, session):
    """The Protected Planet computation redone in SQL: Proposed out, points buffered, dissolved."""
    table = an.get_run(session, runs["gaps"]).results["table"]
    pg = session.execute(
        text("""
        WITH pa AS (
          SELECT ST_Union(CASE WHEN GeometryType(geom) IN ('POINT')
                  THEN ST_Buffer(geom::geography, sqrt(reported_area_km2 * 1e6 / pi()), 64)::geometry
                  ELSE geom END) AS g
          FROM protected_areas
          WHERE status <> 'Proposed'
            AND (GeometryType(geom) <> 'POINT' OR reported_area_km2 > 0))
        SELECT s.scientific_name AS species, h.ecosystem, h.iso3,
               sum(ST_Area(ST_Intersection(h.geom, pa.g)::geography)) / 1e4 AS protected_ha
        FROM habitat h JOIN species s ON s.id = h.species_id, pa
        WHERE h.analysis_run_id = :r GROUP BY 1, 2, 3
    """),
        {"r": runs["habitat"]},
    ).all()
    pg_by = {(r.species, r.ecosystem, r.iso3): r.protected_ha for r in pg}
    assert any(v > 0 for v in pg_by.values())
    for row in table:
        key = (row["species"], row["ecosystem"], row["iso3"])
        assert row["protected_ha"] == pytest.approx(pg_by[key], rel=5e-3, abs=5.0), key


def test_gap_layer_is_ranked_and_measured(runs, session):
    rows = session.execute(
        text(
            "SELECT (properties->>'rank')::int AS rank, (properties->>'area_ha')::float AS ours, "
            "ST_Area(geom::geography) / 1e4 AS pg FROM analysis_features "
            "WHERE run_id = :r AND kind = 'gap' ORDER BY 1"
        ),
        {"r": runs["gaps"]},
    ).all()
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert all(a.ours >= b.ours for a, b in itertools.pairwise(rows))
    for r in rows[:50]:
        assert r.ours == pytest.approx(r.pg, rel=5e-3)
    gaps = an.get_run(session, runs["gaps"]).results["by_ecosystem"]
    assert {g["ecosystem"] for g in gaps} >= {"mountain", "arid_lowland"}


def test_overlap_pieces_agree_with_postgis(runs, session):
    res = an.get_run(session, runs["overlap"]).results
    assert res["pieces"] > 0
    pg = session.execute(
        text(
            "SELECT sum(ST_Area(ST_Intersection(f.geom, p.geom)::geography)) / 1e4 FROM field_sites f "
            "JOIN grants g ON g.id = f.grant_id AND g.status IN ('active', 'closed') "
            "AND g.start_date <= DATE '2021-06-30' AND g.end_date >= DATE '2021-06-30' "
            "JOIN protected_areas p ON ST_Intersects(f.geom, p.geom) "
            "WHERE GeometryType(p.geom) <> 'POINT'"
        )
    ).scalar_one()
    polygon_pieces = [t for t in res["table"] if t["area_ha"] > 0]
    assert sum(t["area_ha"] for t in polygon_pieces) >= pg * 0.995


def test_kok_jailau_footprint_loss_with_timeline(runs, session):
    res = an.get_run(session, runs["loss"]).results
    by_layer = {}
    for r in res["footprint"]:
        by_layer.setdefault(r["layer"], 0.0)
        by_layer[r["layer"]] += r["area_ha"]
    pg = session.execute(
        text("SELECT ST_Area(geom::geography) / 1e4 FROM threats WHERE name LIKE 'Kok-Jailau%'")
    ).scalar_one()
    assert by_layer["protected_area"] == pytest.approx(pg, rel=5e-3)  # all inside the park
    assert 0 < by_layer["habitat"] <= pg * 1.001
    statuses = [t["status"] for t in res["timeline"] if t["layer"] == "protected_area"]
    assert statuses[0] == "approved" and "halted" in statuses


def test_raster_series_shows_the_scenario_loss_inside_the_park(runs, session):
    series = an.get_run(session, runs["loss"]).results["raster_series"]
    park = [s for s in series if s["zone_name"].startswith("Ile-Alatau")]
    before = next(s for s in park if s["epoch"] == "current")
    after = next(s for s in park if s["epoch"] == "if_built")
    assert before["change_ha"] == 0 and after["change_ha"] < 0
    assert after["habitat_ha"] == pytest.approx(before["habitat_ha"] + after["change_ha"])


def test_a_failed_run_is_recorded_and_writes_nothing(db_tx, settings):
    with Session(db_tx.engine) as session:
        before = session.execute(text("SELECT count(*) FROM habitat")).scalar_one()
        with pytest.raises(NotFound):
            an.run_habitat(db_tx.engine, settings, ecosystems_run=987654)
        session.expire_all()
        run = an.list_runs(session, "habitat")[0]
        assert run.status == "failed" and "987654" in run.error
        assert session.execute(text("SELECT count(*) FROM habitat")).scalar_one() == before


def test_bad_parameters_are_refused(engine, settings, demo):
    with pytest.raises(InvalidInput, match="two or more"):
        an.run_overlap(engine, settings, ["protected_areas"])
    with pytest.raises(InvalidInput, match="unknown layer"):
        an.run_overlap(engine, settings, ["protected_areas", "poachers"])
    with pytest.raises(InvalidInput, match="unknown habitat parameter"):
        an.run_habitat(engine, settings, overrides={"Panthera uncia": {"colour": 1}})


# ------------------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------------------


def test_list_as_json_and_html(runs, client):
    r = client.get("/analyses", headers={"Accept": "application/json"})
    assert r.status_code == 200
    ids = {x["id"] for x in r.json()["runs"]}
    assert runs["gaps"] in ids
    h = client.get("/analyses", headers={"Accept": "text/html"})
    assert h.status_code == 200 and "text/html" in h.headers["content-type"]
    assert f'href="/analyses/{runs["gaps"]}"' in h.text
    only = client.get("/analyses?kind=gaps&f=json").json()["runs"]
    assert only and {x["kind"] for x in only} == {"gaps"}


def test_detail_with_results_and_downloads(runs, client):
    r = client.get(f"/analyses/{runs['gaps']}?f=json")
    body = r.json()
    assert body["kind"] == "gaps" and body["results"]["table"]
    rels = {d["rel"] for d in body["downloads"]}
    assert {"features", "table"} <= rels
    page = client.get(f"/analyses/{runs['gaps']}?f=html")
    assert "Inputs and their versions" in page.text
    # headers read as words; each names its column in the CSV and JSON
    assert '<th title="share_protected">share protected</th>' in page.text


@pytest.mark.parametrize(
    ("lang", "kind", "header", "ecosystem", "label"),
    [
        ("ru", "классификация экосистем", "площадь (га)", "горные", "горы K1: ≥ 4500 м"),
        ("kk", "экожүйелер жіктемесі", "ауданы (га)", "таулы", "таулар K1: ≥ 4500 м"),
    ],
)
def test_result_tables_in_the_readers_language(
    runs, client, lang: str, kind: str, header: str, ecosystem: str, label: str
) -> None:
    """An analysis's page names its kind, its tables' titles and headers, the ecosystems
    and the ecosystem classes in the reader's language (the CSV keeps the codes)."""
    page = client.get(f"/analyses/{runs['ecosystems']}?f=html&lang={lang}").text
    assert f": {kind}" in page.split("</h1>")[0]
    tables = page.split('<table class="data results">')[1:]
    assert tables and all('<th title="area_ha">' + header + "</th>" in t for t in tables)
    cells = re.findall(r"<td>([^<]*)</td>", "".join(tables))
    assert ecosystem in cells and label in cells
    assert not {"mountain", "arid lowland", "arid_lowland", "mountain K1: >= 4500 m"} & set(cells)
    csv = client.get(f"/analyses/{runs['ecosystems']}/table.csv?lang={lang}").text
    assert csv.splitlines()[0].count("area_ha") == 1


def test_feature_download_is_geojson(runs, client):
    r = client.get(f"/analyses/{runs['gaps']}/features?kind=gap")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    feats = r.json()["features"]
    assert feats and feats[0]["properties"]["rank"] == 1
    hab = client.get(f"/analyses/{runs['habitat']}/features").json()["features"]
    assert {f["properties"]["species"] for f in hab} == {"Panthera uncia", "Gazella subgutturosa"}


def test_table_and_raster_downloads(runs, client, tmp_path):
    csv = client.get(f"/analyses/{runs['gaps']}/table.csv")
    assert csv.status_code == 200 and csv.text.startswith("species,ecosystem,iso3")
    tif = client.get(f"/analyses/{runs['ecosystems']}/raster.tif")
    assert tif.status_code == 200
    (tmp_path / "e.tif").write_bytes(tif.content)
    with rasterio.open(tmp_path / "e.tif") as r:
        assert r.count == 5 and r.crs.to_epsg() == 4326
    none = client.get(f"/analyses/{runs['gaps']}/raster.tif")
    assert none.status_code == 404 and "no raster" in none.json()["description"]


def test_bad_requests_are_4xx(runs, client):
    assert client.get("/analyses/987654?f=json").status_code == 404
    assert client.get("/analyses?kind=bogus&f=json").status_code == 400
    assert client.get("/analyses?f=xml").status_code == 400
    assert client.get("/analyses/notanumber").status_code in (400, 422)


def test_latest_results_are_published_layers(runs, client):
    for layer in ("coverage_gaps", "habitat", "ecosystems_modelled"):
        r = client.get(f"/collections/{layer}/items?limit=5&f=json")
        assert r.status_code == 200, (layer, r.text[:200])
        feats = r.json()["features"]
        assert feats, layer
    gaps = client.get("/collections/coverage_gaps/items?limit=1&f=json").json()["features"]
    assert gaps[0]["properties"]["analysis_run_id"] == runs["gaps"]


def test_loss_measures_an_extra_forest_layer_and_quotes_reported_figures(
    engine, settings, demo, session
):
    import geopandas as gpd
    from shapely.geometry import box

    fp = session.execute(
        text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom) FROM threats "
            "WHERE name LIKE 'Kok-Jailau%'"
        )
    ).one()
    # a forest patch covering the western half of the footprint's bounding box
    mid = (fp[0] + fp[2]) / 2
    forest = gpd.GeoDataFrame(
        {"id": [1], "name": ["spruce (test patch)"]},
        geometry=[box(fp[0] - 0.05, fp[1] - 0.05, mid, fp[1] + 0.2)],
        crs=4326,
    )
    run_id = an.run_loss(engine, settings, extra_layers={"forest": forest})
    res = an.get_run(session, run_id).results
    measured = sum(r["area_ha"] for r in res["footprint"] if r["layer"] == "forest")
    pg = session.execute(
        text(
            "SELECT ST_Area(ST_Intersection(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
            "::geography) / 1e4 FROM threats WHERE name LIKE 'Kok-Jailau%'"
        ),
        {"a": fp[0] - 0.05, "b": fp[1] - 0.05, "c": mid, "d": fp[1] + 0.2},
    ).scalar_one()
    assert measured == pytest.approx(pg, rel=5e-3)
    reported = {r["figure"]: r["value"] for r in res["reported"]}
    assert reported["spruce_forest_to_cut_ha"] == 27


def _bearer(engine: Engine, role: str) -> dict[str, str]:
    from api.auth.testing import make_token, make_user

    user = make_user(engine, roles=[role])
    return {"Authorization": f"Bearer {make_token(engine, user)}"}


def test_only_analysts_may_run_through_the_api(runs, client, engine):
    body = {"kind": "gaps", "parameters": {"min_gap_ha": 10}}
    assert client.post("/analyses", json=body).status_code == 401
    r = client.post("/analyses", json=body, headers=_bearer(engine, "grantee"))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = client.post("/analyses", json=body | {"title": "api"}, headers=_bearer(engine, "analyst"))
    assert r.status_code == 201, r.text
    run = r.json()
    assert r.headers["location"] == f"/analyses/{run['id']}"
    assert run["status"] == "succeeded" and run["parameters"]["min_gap_ha"] == 10
    assert run["created_by"] and run["title"] == "api"


def test_api_refuses_bad_parameters_and_stores_nothing(runs, client, engine, session):
    headers = _bearer(engine, "analyst")
    before = session.execute(text("SELECT count(*) FROM analysis_runs")).scalar_one()
    for body in (
        {"kind": "gaps", "parameters": {"min_gap_ha": -1}},
        {"kind": "overlap", "parameters": {"layers": ["threats"]}},
        {"kind": "ecosystems", "parameters": {"colour": "red"}},
        {"kind": "poaching", "parameters": {}},
    ):
        r = client.post("/analyses", json=body, headers=headers)
        assert 400 <= r.status_code < 500, (body, r.status_code)
        assert r.json().get("code"), r.text
    assert session.execute(text("SELECT count(*) FROM analysis_runs")).scalar_one() == before


def test_ecosystem_raster_has_class_tiles(runs, client):
    import io
    import math

    import numpy as np
    from PIL import Image

    z, lon, lat = 6, 76.9, 43.0
    col = int((lon + 180) / 360 * 2**z)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    r = client.get(
        f"/rasters/ecosystems_run_{runs['ecosystems']}/tiles/WebMercatorQuad/{z}/{row}/{col}.png",
        params={"style": "classes"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    colours = {tuple(p) for p in img.reshape(-1, 4)[:, :3][img.reshape(-1, 4)[:, 3] > 0]}
    assert (0xFD, 0xD8, 0x35) in colours  # arid lowland north of the range
    assert len(colours) >= 3  # and several mountain classes


def test_an_imported_range_replaces_the_default(runs, engine, settings, session):
    """A species_ranges row for the snow leopard (a box over the Ile Alatau) is used as is."""
    with engine.begin() as conn:
        sid = conn.execute(
            text("SELECT id FROM species WHERE scientific_name = 'Panthera uncia'")
        ).scalar_one()
        rid = conn.execute(
            text(
                "INSERT INTO species_ranges (species_id, presence, origin, seasonal, source, "
                "licence, method, geom) VALUES (:s, 1, 1, 1, 'test range', 'test', 'example', "
                "ST_Multi(ST_MakeEnvelope(76.5, 42.8, 77.5, 43.3, 4326))) RETURNING id"
            ),
            {"s": sid},
        ).scalar_one()
    run_id = None
    try:
        run_id = an.run_habitat(engine, settings, ["Panthera uncia"])
        res = an.get_run(session, run_id).results["habitat"]
        assert {r["range"] for r in res} == {"imported species range"}
        inside = session.execute(
            text(
                "SELECT bool_and(ST_CoveredBy(geom, ST_Buffer(ST_MakeEnvelope(76.5, 42.8, 77.5, "
                "43.3, 4326), 1e-9))) FROM habitat WHERE analysis_run_id = :r"
            ),
            {"r": run_id},
        ).scalar_one()
        assert inside
        assert an.get_run(session, run_id).inputs["tables"]["species_ranges"] >= 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM species_ranges WHERE id = :r"), {"r": rid})
            # the box's habitat run would be the latest: what later modules (the demo's
            # prioritisation scenario, the portfolio's gap) read as the habitat
            conn.execute(text("DELETE FROM analysis_runs WHERE id = :r"), {"r": run_id})

"""The demo's real boundaries: the 18 OSM protected areas of Kazakhstan in place of the
example records of the same parks, example points elsewhere that say what they are, and the
Kazakh districts and settlements published with names in English, Kazakh and Russian."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, shape

from api.db import models as m
from api.db.engine import transaction
from api.demo import data as dd
from api.demo.loader import load_protected_areas
from api.settings import Settings
from geo.crs import geodesic_area_m2


def _file_features(settings: Settings) -> dict[str, dict]:  # type: ignore[type-arg]
    data = json.loads((settings.data_dir / dd.OSM_PA_PATH).read_text(encoding="utf-8"))
    return {f["properties"]["id"]: f for f in data["features"]}


def test_the_18_osm_protected_areas_are_observed_with_their_licence(
    engine: Engine, demo: dict[str, int], settings: Settings
) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT osm_id, name, iso3, method, licence, source, GeometryType(geom) AS gt "
                "FROM protected_areas WHERE osm_id IS NOT NULL ORDER BY osm_id"
            )
        ).all()
    assert len(rows) == 18 == len(_file_features(settings))
    for r in rows:
        assert r.method == "observed" and r.iso3 == "KAZ" and r.gt == "MULTIPOLYGON"
        assert r.licence == "ODbL-1.0, © OpenStreetMap contributors"
        assert "OpenStreetMap" in r.source
    names = {r.name for r in rows}
    assert {"Ile-Alatau National Park", "Almaty Nature Reserve", "Ustyurt Nature Reserve"} <= names


def test_ile_alatau_is_the_real_polygon(
    engine: Engine, demo: dict[str, int], settings: Settings
) -> None:
    with engine.connect() as conn:
        wkb = conn.execute(
            text("SELECT ST_AsBinary(geom) FROM protected_areas WHERE name = :n"),
            {"n": dd.ILE_ALATAU["name"]},
        ).scalar_one()
    stored = shapely.from_wkb(bytes(wkb))
    source = shape(_file_features(settings)["ile_alatau"]["geometry"])
    assert shapely.symmetric_difference(stored, source).area < 1e-9 * source.area + 1e-12
    # PROVENANCE.md: 195,999 ha on the ellipsoid (official 198,669-202,292 ha)
    assert geodesic_area_m2(stored) / 1e4 == pytest.approx(195_999, rel=0.001)


def test_no_example_record_is_left_for_kazakhstan(engine: Engine, demo: dict[str, int]) -> None:
    with engine.connect() as conn:
        kaz_examples = conn.execute(
            text("SELECT name FROM protected_areas WHERE iso3 = 'KAZ' AND method = 'example'")
        ).all()
        replaced = conn.execute(
            text("SELECT count(*) FROM protected_areas WHERE name = ANY(:n)"),
            {"n": list(dd.REPLACED_BY_OSM)},
        ).scalar_one()
    assert kaz_examples == [] and replaced == 0


def test_other_countries_stay_example_points_that_say_so(
    engine: Engine, demo: dict[str, int]
) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT iso3, method, reported_area_km2, source, GeometryType(geom) AS gt "
                "FROM protected_areas WHERE iso3 IN ('KGZ', 'TJK', 'UZB')"
            )
        ).all()
    assert {r.iso3 for r in rows} == {"KGZ", "TJK", "UZB"}
    for r in rows:
        assert r.method == "example" and r.gt == "POINT" and r.reported_area_km2 > 0
        assert "until the WDPA is imported" in r.source and "not a boundary" in r.source


def test_an_older_demo_database_gets_the_real_boundaries(
    tx_engine: Engine, settings: Settings
) -> None:
    """The example rows an earlier demo wrote are replaced; loading again changes nothing
    (in the test's transaction, rolled back)."""
    engine = tx_engine
    with transaction(engine, actor="test") as s:
        for name in ("Almaty State Nature Reserve", dd.REPLACED_BY_OSM[-1]):
            s.add(
                m.ProtectedArea(
                    name=name,
                    iso3="KAZ",
                    status="Designated",
                    reported_area_km2=717.0,
                    source=dd.PA_SOURCE,
                    licence=dd.EXAMPLE_LICENCE,
                    method="example",
                    geom=from_shape(Point(77.35, 43.05), srid=4326),
                )
            )
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM protected_areas")).scalar_one()
    assert load_protected_areas(engine, settings) == 0
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM protected_areas")).scalar_one()
        left = conn.execute(
            text("SELECT count(*) FROM protected_areas WHERE name = ANY(:n)"),
            {"n": list(dd.REPLACED_BY_OSM)},
        ).scalar_one()
    assert (after, left) == (before - 2, 0)
    assert load_protected_areas(engine, settings) == 0


def test_districts_are_published_with_names_in_three_languages(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(
        "/collections/districts/items",
        params={"filter": "name_en = 'Medeu'", "f": "json", "limit": "5"},
    )
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert len(feats) == 1
    p = feats[0]["properties"]
    assert (p["name_kk"], p["name_ru"]) == ("Медеу", "Медеуский")
    assert (p["region_en"], p["iso_3166_2"]) == ("Almaty (city)", "KZ-ALA")
    assert "CC BY 4.0" in p["licence"] and p["method"] == "observed"
    # Kok-Zhailau (76.98 E, 43.10 N) lies in Medeu district
    g = shape(feats[0]["geometry"])
    assert g.contains(Point(76.98, 43.10))
    total = client.get("/collections/districts/items", params={"f": "json", "limit": "1"}).json()
    assert total["numberMatched"] == 224


def test_settlements_are_published_with_names_in_three_languages(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(
        "/collections/settlements/items",
        params={"filter": "name_en = 'Almaty' AND place = 'city'", "f": "json", "limit": "5"},
    )
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert len(feats) == 1
    p = feats[0]["properties"]
    assert (p["name_kk"], p["name_ru"]) == ("Алматы", "Алматы")
    assert "© OpenStreetMap contributors" in p["licence"]
    lon, lat = feats[0]["geometry"]["coordinates"]
    assert 76.8 < lon < 77.1 and 43.1 < lat < 43.4
    total = client.get("/collections/settlements/items", params={"f": "json", "limit": "1"}).json()
    assert total["numberMatched"] == 9899

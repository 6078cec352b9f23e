"""OGC API Features over HTTP: landing, conformance, collections, items, paging, filters, caching."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from geoalchemy2.shape import from_shape
from shapely.geometry import Point, shape

from api.db import models as m
from api.db.engine import transaction
from layers.registry import layer_ids
from tests.layers import records as rec

GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def extra(engine: Engine, demo: dict[str, int]) -> Iterator[dict[str, Any]]:
    with rec.extra_records(engine) as ids:
        yield ids


def test_landing_page_is_html_for_people_and_json_for_machines(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/", headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    for resp in (client.get("/?f=json"), client.get("/", headers={"Accept": "application/json"})):
        assert resp.status_code == 200
        rels = {link["rel"] for link in resp.json()["links"]}
        assert {"self", "conformance", "data", "service-desc"} <= rels


def test_conformance_declares_features_filter_and_tiles(client) -> None:  # type: ignore[no-untyped-def]
    classes = set(client.get("/conformance").json()["conformsTo"])
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in classes
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core" in classes


def test_collections_are_the_registry(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/collections", headers={"Accept": "application/json"}).json()
    assert [c["id"] for c in body["collections"]] == layer_ids()
    places = next(c for c in body["collections"] if c["id"] == "places")
    minx, miny, maxx, maxy = places["extent"]["spatial"]["bbox"][0]
    assert 45 <= minx < maxx <= 88 and 35 <= miny < maxy <= 56
    html = client.get("/collections", headers={"Accept": "text/html"})
    assert "Populated places" in html.text


def test_items_page_through_everything_with_next_links(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    url = "/collections/places/items?limit=100&f=json"
    ids: list[int] = []
    pages = 0
    while url:
        body = client.get(url).json()
        pages += 1
        ids += [f["id"] for f in body["features"]]
        assert body["numberReturned"] == len(body["features"])
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
        if pages > 1:
            assert any(link["rel"] == "prev" for link in body["links"])
    from tests.conftest import count

    assert body["numberMatched"] == len(ids) == len(set(ids)) == count(engine, "places")
    assert pages == -(-len(ids) // 100)


def test_bbox_properties_and_filter_over_http(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(
        "/collections/places/items",
        params={
            "bbox": "76,43,78,44",
            "properties": "name,population",
            "filter": "population > 100000",
            "limit": 50,
        },
    )
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    feats = r.json()["features"]
    assert feats and all(set(f["properties"]) == {"name", "population"} for f in feats)
    assert "Almaty" in {f["properties"]["name"] for f in feats}
    for f in feats:
        x, y = f["geometry"]["coordinates"]
        assert 76 <= x <= 78 and 43 <= y <= 44 and f["properties"]["population"] > 100_000
    js = client.get(
        "/collections/places/items",
        params={
            "bbox": "76,43,78,44",
            "filter-lang": "cql2-json",
            "filter": json.dumps({"op": ">", "args": [{"property": "population"}, 100000]}),
            "limit": 50,
        },
    ).json()
    assert {f["id"] for f in js["features"]} == {f["id"] for f in feats}


def test_single_feature_json_and_html(client) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/collections/protected_areas/items?limit=1&f=json").json()["features"][0]
    one = client.get(f"/collections/protected_areas/items/{first['id']}")
    assert one.status_code == 200 and one.json()["properties"] == first["properties"]
    html = client.get(f"/collections/protected_areas/items/{first['id']}?f=html")
    assert first["properties"]["name"] in html.text
    if first["properties"]["method"] == "example":
        assert "badge example" in html.text


def test_queryables_follow_the_principal(client, tx_login_as, extra) -> None:  # type: ignore[no-untyped-def]
    public = client.get("/collections/occurrences/queryables").json()["properties"]
    assert "recorded_by" not in public and "event_date" in public and "geometry" in public
    analyst = tx_login_as("analyst")
    assert "recorded_by" in analyst.get("/collections/occurrences/queryables").json()["properties"]


def test_sensitive_occurrences_are_generalised_for_the_public(client, tx_login_as, extra) -> None:  # type: ignore[no-untyped-def]
    oid = extra["occurrences"][0]
    pub = client.get(f"/collections/occurrences/items/{oid}").json()
    assert tuple(pub["geometry"]["coordinates"]) == pytest.approx(rec.SENSITIVE_CENTRES[0])
    assert "recorded_by" not in pub["properties"] and rec.OBSERVER not in json.dumps(pub)
    page = client.get(f"/collections/occurrences/items/{oid}?f=html").text
    assert rec.OBSERVER not in page and "77.0871" not in page
    analyst = tx_login_as("analyst")
    full = analyst.get(f"/collections/occurrences/items/{oid}").json()
    assert tuple(full["geometry"]["coordinates"]) == pytest.approx(rec.SENSITIVE_POINTS[0])
    assert full["properties"]["recorded_by"] == rec.OBSERVER
    # and nothing cached for the analyst leaks to the public
    again = client.get(f"/collections/occurrences/items/{oid}").json()
    assert tuple(again["geometry"]["coordinates"]) == pytest.approx(rec.SENSITIVE_CENTRES[0])


def test_unpublished_threat_is_not_found_for_the_public(client, tx_login_as, extra) -> None:  # type: ignore[no-untyped-def]
    tid = extra["unpublished_threat"]
    assert client.get(f"/collections/threats/items/{tid}").status_code == 404
    assert tx_login_as("analyst").get(f"/collections/threats/items/{tid}").status_code == 200


def test_etag_304_and_a_write_is_seen_by_the_next_request(tx_client, db_tx) -> None:  # type: ignore[no-untyped-def]
    client = tx_client
    url = "/collections/peaks/items?limit=100&bbox=70,38,80,45"
    first = client.get(url)
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    with transaction(db_tx.engine, actor="tests") as s:
        peak = m.Peak(
            name="Test peak", featurecla="mountain", elevation_m=4000.0, properties={},
            source="test", licence="CC0", method="example", geom=from_shape(Point(75.0, 41.0), srid=4326),
        )  # fmt: skip
        s.add(peak)
        s.flush()
        pid = peak.id
    try:
        after = client.get(url, headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert pid in {f["id"] for f in after.json()["features"]}
    finally:
        with transaction(db_tx.engine, actor="tests") as s:
            s.execute(delete(m.Peak).where(m.Peak.id == pid))
    gone = client.get(url)
    assert pid not in {f["id"] for f in gone.json()["features"]}


def test_items_html_lists_features(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/places/items?limit=5", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.text.count("/collections/places/items/") >= 5


def test_geometry_of_a_feature_matches_postgis(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd

    f = client.get("/collections/lakes/items?limit=1").json()["features"][0]
    truth = gpd.read_postgis(
        f"SELECT geom FROM lakes WHERE id = {int(f['id'])}", engine, geom_col="geom"
    )
    assert shape(f["geometry"]).equals_exact(truth.geometry.iloc[0], tolerance=1e-6)

"""OWSLib, the Python OGC client analysts use, reads every OGC API resource Irbis publishes.

OWSLib sends ``Accept: */*`` (requests' default) and no ``f=``: each answer must be the JSON
document the API serves to ``f=json``, parsed the same. Its OGC API - Features client
(``owslib.ogcapi.features.Features``) is driven against the real app served by uvicorn:
the landing page, the OpenAPI document, conformance, the collections, and for every
collection its document, queryables and items (a page, a second page, and a bbox).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from owslib.ogcapi.features import Features

from shapely.geometry import box, shape

from layers.registry import layer_ids

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def served(url: str, **query: Any) -> Any:
    """The JSON the API serves when JSON is asked for explicitly."""
    r = httpx.get(url, params={"f": "json", **query}, timeout=60)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return r.json()


@pytest.fixture(scope="module")
def owslib_api(live_server: str) -> Features:
    return Features(live_server, timeout=60)


def test_owslib_reads_the_landing_page(owslib_api: Features, live_server: str) -> None:
    assert owslib_api.response == served(f"{live_server}/")
    rels = {lk["rel"] for lk in owslib_api.links}
    assert {"self", "service-desc", "conformance", "data"} <= rels


def test_owslib_follows_the_service_description(owslib_api: Features) -> None:
    doc = owslib_api.api()
    assert doc["openapi"].startswith("3.")
    assert {"/conformance", "/collections", "/collections/{collectionId}/items"} <= set(
        doc["paths"]
    )


def test_owslib_reads_the_conformance_classes(owslib_api: Features, live_server: str) -> None:
    got = owslib_api.conformance()
    assert got == served(f"{live_server}/conformance")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in got["conformsTo"]


def test_owslib_lists_every_collection(owslib_api: Features, live_server: str) -> None:
    got = owslib_api.collections()
    assert got == served(f"{live_server}/collections")
    assert owslib_api.feature_collections() == [c["id"] for c in got["collections"]]
    assert set(owslib_api.feature_collections()) == set(layer_ids())


@pytest.mark.parametrize("collection_id", layer_ids())
def test_owslib_reads_a_collection_and_its_queryables(
    owslib_api: Features, live_server: str, collection_id: str
) -> None:
    doc = owslib_api.collection(collection_id)
    assert doc == served(f"{live_server}/collections/{collection_id}")
    assert doc["id"] == collection_id and doc["itemType"] == "feature"
    assert CRS84 in doc["crs"]
    queryables = owslib_api.collection_queryables(collection_id)
    assert queryables == served(f"{live_server}/collections/{collection_id}/queryables")
    assert queryables["type"] == "object" and "geometry" in queryables["properties"]


def _same_features(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["type"] == want["type"] == "FeatureCollection"
    assert got["numberMatched"] == want["numberMatched"]
    assert got["numberReturned"] == want["numberReturned"] == len(got["features"])
    assert got["features"] == want["features"]


@pytest.mark.parametrize("collection_id", layer_ids())
def test_owslib_pages_through_a_collections_items(
    owslib_api: Features, live_server: str, collection_id: str
) -> None:
    url = f"{live_server}/collections/{collection_id}/items"
    first = owslib_api.collection_items(collection_id, limit=3)
    _same_features(first, served(url, limit=3))
    # the CRS of the coordinates, stated as OGC API Features Part 2 does
    assert owslib_api.response_headers["Content-Crs"] == f"<{CRS84}>"
    queryables = owslib_api.collection_queryables(collection_id)["properties"]
    for feature in first["features"]:
        assert feature["type"] == "Feature" and feature["geometry"] is not None
        assert set(feature["properties"]) <= set(queryables)
    second = owslib_api.collection_items(collection_id, limit=3, offset=3)
    _same_features(second, served(url, limit=3, offset=3))
    expected_second = max(0, min(3, first["numberMatched"] - 3))
    assert second["numberReturned"] == expected_second
    ids = {f["id"] for f in first["features"]}
    assert ids.isdisjoint(f["id"] for f in second["features"])


@pytest.mark.parametrize("collection_id", layer_ids())
def test_owslib_asks_for_a_bbox(owslib_api: Features, live_server: str, collection_id: str) -> None:
    """A bbox around the first feature (or the collection's extent, for a collection the
    demo leaves empty): every answer meets the bbox, the first feature is among them, and
    OWSLib's list of numbers reaches the API as the JSON has it."""
    url = f"{live_server}/collections/{collection_id}/items"
    first = owslib_api.collection_items(collection_id, limit=1)
    if first["features"]:
        feature = first["features"][0]
        minx, miny, maxx, maxy = shape(feature["geometry"]).bounds
        bbox = [round(v, 6) for v in (minx - 0.01, miny - 0.01, maxx + 0.01, maxy + 0.01)]
    else:
        feature = None
        bbox = owslib_api.collection(collection_id)["extent"]["spatial"]["bbox"][0]
    got = owslib_api.collection_items(collection_id, bbox=bbox, limit=50)
    _same_features(got, served(url, bbox=",".join(map(str, bbox)), limit=50))
    assert got["numberMatched"] <= first["numberMatched"]
    area = box(*bbox)
    for f in got["features"]:
        assert shape(f["geometry"]).intersects(area), (collection_id, f["id"])
    if feature is not None:
        assert got["numberMatched"] >= 1
        if got["numberMatched"] <= 50:
            assert feature["id"] in {f["id"] for f in got["features"]}


def test_owslib_reads_one_feature(owslib_api: Features, live_server: str) -> None:
    first = owslib_api.collection_items("protected_areas", limit=1)["features"][0]
    got = owslib_api.collection_item("protected_areas", str(first["id"]))
    assert owslib_api.response_headers["Content-Crs"] == f"<{CRS84}>"
    assert got == served(f"{live_server}/collections/protected_areas/items/{first['id']}")
    assert got["id"] == first["id"] and got["properties"] == first["properties"]


def test_owslib_gets_the_apis_message_for_a_bad_request(owslib_api: Features) -> None:
    """A bad parameter is a 400 whose text OWSLib raises: a message a person can act on."""
    with pytest.raises(RuntimeError) as err:
        owslib_api.collection_items("protected_areas", bbox=[80, 50, 70, 40])
    assert "bbox" in str(err.value)
    assert "Traceback" not in str(err.value) and "psycopg" not in str(err.value)


def test_owslib_sends_a_cql2_filter(owslib_api: Features, live_server: str) -> None:
    url = f"{live_server}/collections/protected_areas/items"
    cql = "designation = 'National Park'"
    got = owslib_api.collection_items("protected_areas", filter=cql, limit=100)
    _same_features(got, served(url, filter=cql, limit=100))
    everything = owslib_api.collection_items("protected_areas", limit=1)["numberMatched"]
    assert 0 < got["numberMatched"] < everything
    assert {f["properties"]["designation"] for f in got["features"]} == {"National Park"}

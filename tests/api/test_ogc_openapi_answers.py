"""What the OGC routes answer besides their JSON documents (errors, 304, tiles, files, pages)
is what the OpenAPI description (``/api``) says, checked with an independent validator
(``jsonschema``, JSON Schema 2020-12) against the description's component schemas."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

#: The tags of the routes whose answers are documented in full.
TAGS = {"OGC API Features", "OGC API Tiles", "Downloads", "Raster tiles"}
#: A tile over the region (Kyrgyzstan, zoom 6), of one collection and of the dataset.
TILE = "/collections/places/tiles/WebMercatorQuad/6/24/44"
DATASET_TILE = "/tiles/WebMercatorQuad/6/24/44?collections=places,rivers"


@pytest.fixture(scope="module")
def client(live_server: str) -> Iterator[httpx.Client]:
    """An HTTP client of the session's live server (one app start for the whole suite)."""
    with httpx.Client(base_url=live_server, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def openapi(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/api")
    assert r.status_code == 200
    return r.json()


def _operation(doc: dict[str, Any], path: str) -> dict[str, Any]:
    """The GET operation of the path template ``path`` (a concrete path) falls under; literal
    templates first (``/tiles/{tms}/tilejson.json`` before ``/tiles/{tms}/{z}/...``)."""
    templates = sorted(doc["paths"], key=lambda t: t.count("{"))
    for template in templates:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and "get" in doc["paths"][template]:
            return dict(doc["paths"][template]["get"])
    raise AssertionError(f"{path} is not in the OpenAPI description")


def _documented(doc: dict[str, Any], url: str, response: httpx.Response) -> dict[str, Any] | None:
    """The schema the description gives for ``response`` to ``GET url`` (None for a body-less
    answer); fails when its status or media type is not documented."""
    responses = _operation(doc, url.split("?")[0])["responses"]
    status = str(response.status_code)
    entry = responses.get(status) or responses.get("default")
    assert entry is not None and (status in responses or status[0] in "45"), (url, status)
    if response.status_code == 304:
        return None
    media = response.headers["content-type"].split(";")[0]
    assert media in entry.get("content", {}), (url, status, media, list(entry["content"]))
    return {**entry["content"][media]["schema"], "components": doc["components"]}


def _validate(doc: dict[str, Any], url: str, response: httpx.Response) -> None:
    schema = _documented(doc, url, response)
    assert schema is not None
    jsonschema.Draft202012Validator(schema).validate(response.json())


ERRORS = [
    ("/conformance?f=xml", 400),
    ("/?f=xml", 400),
    ("/collections/no_such_layer", 404),
    ("/collections/places/queryables?f=xml", 400),
    ("/collections/places/items?limit=abc", 400),  # refused by parameter validation
    ("/collections/places/items?bbox=1,2,3", 400),
    ("/collections/places/items/999999999", 404),
    ("/collections/places/tiles/NoSuchMatrixSet", 404),
    ("/collections/no_such_layer/styles/default", 404),
    (TILE + "?f=png", 400),
    ("/collections/places/tiles/WebMercatorQuad/99/0/0", 404),
    ("/tiles/WebMercatorQuad/6/24/44?collections=no_such_layer", 400),
    ("/collections/places/download?format=shp", 400),
    ("/rasters/no_such_raster/tiles/WebMercatorQuad/tilejson.json", 404),
]


@pytest.mark.parametrize(("url", "status"), ERRORS)
def test_errors_are_documented_and_their_bodies_validate(
    client: httpx.Client, openapi: dict[str, Any], url: str, status: int
) -> None:
    r = client.get(url)
    assert r.status_code == status, (url, r.text[:200])
    _validate(openapi, url, r)
    assert set(r.json()) >= {"code", "description"}


def test_an_error_page_for_a_browser_is_documented(
    client: httpx.Client, openapi: dict[str, Any]
) -> None:
    for url in (
        "/collections/no_such_layer/items",
        "/collections/places/tiles/WebMercatorQuad/99/0/0",
    ):
        r = client.get(url, headers={"Accept": "text/html"})
        assert r.status_code in (400, 404) and r.headers["content-type"].startswith("text/html")
        schema = _documented(openapi, url, r)
        assert schema is not None and schema["type"] == "string"


def test_a_body_that_is_not_the_documented_error_is_caught(openapi: dict[str, Any]) -> None:
    """The checks above can fail: an error without its description does not validate."""
    schema = _operation(openapi, "/collections/places/items")["responses"]["400"]["content"]
    full = {**schema["application/json"]["schema"], "components": openapi["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(full).validate({"code": "invalid_parameter"})


def test_every_operation_documents_the_errors_it_gives_and_none_it_does_not(
    openapi: dict[str, Any],
) -> None:
    """400, 404 and the other errors (as the OGC exception); never FastAPI's 422, which the
    app answers as a 400 (``api.errors``)."""
    checked = 0
    for path, ops in openapi["paths"].items():
        op = ops.get("get")
        if not op or not TAGS & set(op.get("tags", ())):
            continue
        assert {"400", "404", "default"} <= set(op["responses"]), path
        assert "422" not in op["responses"], path
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize(
    "url",
    ["/collections/places/items?limit=2", "/collections/places/items/1", TILE, DATASET_TILE],
)
def test_conditional_answers_are_documented(
    client: httpx.Client, openapi: dict[str, Any], url: str
) -> None:
    first = client.get(url)
    assert first.status_code == 200 and first.headers["etag"]
    _documented(openapi, url, first)
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304, url
    assert _documented(openapi, url, again) is None
    assert again.headers["etag"] == first.headers["etag"]
    assert "ETag" in _operation(openapi, url.split("?")[0])["responses"]["304"]["headers"]


@pytest.mark.parametrize(
    ("url", "media"),
    [
        (TILE, "application/vnd.mapbox-vector-tile"),
        (DATASET_TILE, "application/vnd.mapbox-vector-tile"),
        ("/collections/places/download?format=gpkg", "application/geopackage+sqlite3"),
        ("/collections/places/download?format=csv", "text/csv"),
        ("/collections/places/download?format=geojson", "application/geo+json"),
        ("/rasters/relief/tiles/WebMercatorQuad/6/24/44.png", "image/png"),
        ("/collections/places/items?f=html&limit=2", "text/html"),
        ("/collections/places/queryables?f=html", "text/html"),
        ("/?f=html", "text/html"),
    ],
)
def test_bodies_other_than_json_documents_have_their_documented_media_type(
    client: httpx.Client, openapi: dict[str, Any], url: str, media: str
) -> None:
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:200])
    assert r.headers["content-type"].split(";")[0] == media and r.content
    schema = _documented(openapi, url, r)
    assert schema is not None
    if media == "application/geo+json":
        jsonschema.Draft202012Validator(schema).validate(r.json())
    else:
        assert schema["type"] == "string"


@pytest.mark.parametrize(
    "url",
    [
        "/rasters",
        "/rasters/relief/tiles/WebMercatorQuad/tilejson.json",
        "/tiles/WorldCRS84Quad/tilejson.json",
    ],
)
def test_raster_and_dataset_documents_validate(
    client: httpx.Client, openapi: dict[str, Any], url: str
) -> None:
    r = client.get(url, headers={"Accept": "application/json"})
    assert r.status_code == 200, (url, r.text[:200])
    _validate(openapi, url, r)

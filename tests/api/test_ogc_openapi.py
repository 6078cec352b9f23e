"""The OpenAPI description (``/api``) documents every OGC response, and what the server sends
validates against it (JSON Schema 2020-12, an independent validator: ``jsonschema``)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

OGC_TAGS = {"OGC API Features", "OGC API Tiles"}
BINARY = re.compile(r"/\{tileCol\}$|\.png$|/download$")


@pytest.fixture(scope="module")
def openapi(client_module: Any) -> dict[str, Any]:
    r = client_module.get("/api")
    assert r.status_code == 200
    return r.json()


@pytest.fixture(scope="module")
def client_module(settings: Any, demo: Any):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


def _template_for(doc: dict[str, Any], path: str) -> str:
    for template in doc["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not in the OpenAPI description")


def _validate(doc: dict[str, Any], path: str, media_type: str, body: Any) -> None:
    content = doc["paths"][_template_for(doc, path)]["get"]["responses"]["200"]["content"]
    assert media_type in content, f"{path}: {media_type} not documented ({list(content)})"
    schema = {**content[media_type]["schema"], "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


def test_every_ogc_json_resource_documents_its_response(openapi: dict[str, Any]) -> None:
    undocumented = []
    for path, ops in openapi["paths"].items():
        op = ops.get("get")
        if not op or not OGC_TAGS & set(op.get("tags", ())) or BINARY.search(path):
            continue
        content = op["responses"].get("200", {}).get("content", {})
        if not any("$ref" in c.get("schema", {}) for c in content.values()):
            undocumented.append(path)
    assert not undocumented, f"OGC routes without a documented response: {undocumented}"


def test_served_documents_validate_against_the_description(
    client_module: Any, openapi: dict[str, Any]
) -> None:
    h = {"Accept": "application/json"}
    paths = ["/", "/conformance", "/collections", "/tileMatrixSets", "/tiles"]
    paths += [f"/tileMatrixSets/{t}" for t in ("WebMercatorQuad", "WorldCRS84Quad")]
    collections = client_module.get("/collections", headers=h).json()["collections"]
    assert collections
    for c in collections:
        cid = c["id"]
        paths += [
            f"/collections/{cid}",
            f"/collections/{cid}/queryables",
            f"/collections/{cid}/items?limit=1",
            f"/collections/{cid}/tiles",
            f"/collections/{cid}/tiles/WebMercatorQuad",
            f"/collections/{cid}/tiles/WebMercatorQuad/tilejson.json",
            f"/collections/{cid}/styles/default",
        ]
    checked = 0
    for url in paths:
        r = client_module.get(url, headers=h)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        media = r.headers["content-type"].split(";")[0]
        body = r.json()
        _validate(openapi, url.split("?")[0], media, body)
        checked += 1
        if url.endswith("items?limit=1") and body["features"]:
            fid = body["features"][0]["id"]
            one = client_module.get(url.split("?")[0] + f"/{fid}", headers=h)
            assert one.status_code == 200
            _validate(openapi, url.split("?")[0] + f"/{fid}", media, one.json())
            checked += 1
    assert checked > 5 * len(collections)


def test_a_body_that_breaks_the_description_is_caught(openapi: dict[str, Any]) -> None:
    """The check above can fail: a feature collection without numberReturned does not pass."""
    bad = {"type": "FeatureCollection", "features": [], "links": []}
    with pytest.raises(jsonschema.ValidationError):
        _validate(openapi, "/collections/places/items", "application/geo+json", bad)

"""The dataset tileset (``/tiles``): every collection in one vector tile, one MVT layer per
collection, each layer exactly what the collection's own tile holds for the same principal
(so the privacy rules are the per-layer ones), decoded with mapbox_vector_tile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from sqlalchemy import Engine

import morecantile

from layers.registry import layer_ids
from tests.layers import records as rec

MVT = "application/vnd.mapbox-vector-tile"
WM = morecantile.tms.get("WebMercatorQuad")
#: tiles over the sensitive test points (Almaty) and the public one, at several zooms
TILES = [
    WM.tile(77.0871, 43.0512, 6),
    WM.tile(77.0871, 43.0512, 9),
    WM.tile(76.9031, 43.1988, 11),
    WM.tile(75.5432, 42.3456, 8),
]


@pytest.fixture(scope="module")
def extra(engine: Engine, demo: dict[str, int]) -> Iterator[dict[str, Any]]:
    with rec.extra_records(engine) as ids:
        yield ids


def _decode(body: bytes) -> dict[str, Any]:
    return dict(mapbox_vector_tile.decode(body)) if body else {}


def _features(layer: dict[str, Any]) -> list[tuple[Any, str, str]]:
    return sorted(
        (f["id"], repr(sorted(f["properties"].items())), repr(f["geometry"]))
        for f in layer["features"]
    )


@pytest.mark.parametrize("role", ["anonymous", "analyst"])
def test_each_layer_of_a_dataset_tile_is_the_collection_tile(tx_login_as, extra, role: str) -> None:  # type: ignore[no-untyped-def]
    c = tx_login_as(role)
    for t in TILES:
        r = c.get(f"/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")
        assert r.status_code == 200 and r.headers["content-type"] == MVT
        dataset = _decode(r.content)
        for lid in layer_ids():
            own = _decode(
                c.get(f"/collections/{lid}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}").content
            )
            if lid in own:
                assert lid in dataset, (lid, t)
                assert _features(dataset[lid]) == _features(own[lid]), (lid, t)
            else:
                assert not dataset.get(lid, {}).get("features"), (lid, t)


def test_the_public_dataset_tile_holds_no_precise_sensitive_point(tx_login_as, extra) -> None:  # type: ignore[no-untyped-def]
    t = WM.tile(*rec.SENSITIVE_POINTS[0], 12)
    b = WM.xy_bounds(t)
    url = f"/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}?collections=occurrences"

    def positions(client: Any) -> list[tuple[float, float]]:
        layer = _decode(client.get(url).content).get("occurrences", {"features": []})
        out = []
        for f in layer["features"]:
            px, py = f["geometry"]["coordinates"]
            x = b.left + (b.right - b.left) * px / 4096
            y = b.bottom + (b.top - b.bottom) * py / 4096
            out.append(WM.lnglat(x, y))
        return [(round(p.x, 3), round(p.y, 3)) for p in out]

    precise = (round(rec.SENSITIVE_POINTS[0][0], 3), round(rec.SENSITIVE_POINTS[0][1], 3))
    assert precise in positions(tx_login_as("analyst"))
    public = positions(tx_login_as("anonymous"))
    assert precise not in public
    assert rec.OBSERVER.encode() not in tx_login_as("anonymous").get(url).content


def test_collections_selects_and_orders_layers_points_last(client) -> None:  # type: ignore[no-untyped-def]
    t = WM.tile(76.95, 43.25, 7)
    r = client.get(f"/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}?collections=places,countries,rivers")
    assert r.status_code == 200
    names = list(mapbox_vector_tile.decode(r.content))
    assert names == ["countries", "rivers", "places"]


def test_dataset_tile_etag_and_cache(client) -> None:  # type: ignore[no-untyped-def]
    url = "/tiles/WebMercatorQuad/5/11/22"
    first = client.get(url)
    etag = first.headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    other = client.get(url + "?collections=places")
    assert other.headers["etag"] != etag
    assert client.get(url).content == first.content


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/tiles/WebMercatorQuad/5/11/22?collections=nope", 400, "no collection 'nope'"),
        ("/tiles/WebMercatorQuad/5/11/22?collections=,", 400, "at least one collection"),
        ("/tiles/WebMercatorQuad/40/0/0", 404, "zoom 40"),
        ("/tiles/WebMercatorQuad/2/9/0", 404, "outside"),
        ("/tiles/NoSuchGrid/2/0/0", 404, "NoSuchGrid"),
        ("/tiles/WebMercatorQuad/5/11/22?f=png", 400, "mvt"),
    ],
)
def test_bad_dataset_tile_requests(client, url: str, status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(url)
    assert r.status_code == status, r.text
    assert words in r.text


def test_dataset_tileset_documents(client) -> None:  # type: ignore[no-untyped-def]
    sets = client.get("/tiles").json()["tilesets"]
    assert {s["tileMatrixSetURI"].rsplit("/", 1)[-1] for s in sets} == {
        "WebMercatorQuad",
        "WorldCRS84Quad",
    }
    item = next(lk for lk in sets[0]["links"] if lk["rel"] == "item")
    assert item["href"].endswith("/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    meta = client.get("/tiles/WebMercatorQuad").json()
    assert {lyr["id"] for lyr in meta["layers"]} == set(layer_ids())
    tj = client.get("/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"][0].endswith(
        "/tiles/WebMercatorQuad/{z}/{y}/{x}"
    )
    assert {v["id"] for v in tj["vector_layers"]} == set(layer_ids())
    assert client.get("/tiles/Nope").status_code == 404

"""OGC API Tiles over HTTP: MVT per layer and grid, metadata, TileJSON, styles, raster PNGs."""

from __future__ import annotations

import gzip
import io

import mapbox_vector_tile
import numpy as np
import pytest
from PIL import Image

from layers.registry import layer_ids

MVT = "application/vnd.mapbox-vector-tile"


def test_tile_matrix_sets(client) -> None:  # type: ignore[no-untyped-def]
    ids = {t["id"] for t in client.get("/tileMatrixSets").json()["tileMatrixSets"]}
    assert {"WebMercatorQuad", "WorldCRS84Quad"} <= ids
    tms = client.get("/tileMatrixSets/WorldCRS84Quad").json()
    assert tms["id"] == "WorldCRS84Quad" and tms["tileMatrices"]


@pytest.mark.parametrize(
    "layer", ["countries", "rivers", "places", "protected_areas", "field_sites", "threats"]
)
def test_every_demo_layer_has_tiles_in_both_grids(client, layer: str) -> None:  # type: ignore[no-untyped-def]
    # z4 tiles over Kazakhstan/Kyrgyzstan in each grid (z/row/col as OGC API Tiles orders them)
    for url in (
        f"/collections/{layer}/tiles/WebMercatorQuad/4/5/11",
        f"/collections/{layer}/tiles/WorldCRS84Quad/3/2/11",
    ):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == MVT
        tile = mapbox_vector_tile.decode(r.content)
        assert list(tile) == [layer], url
        assert tile[layer]["features"]


def test_tile_etag_and_gzip(client) -> None:  # type: ignore[no-untyped-def]
    url = "/collections/countries/tiles/WebMercatorQuad/4/5/11"
    r = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert client.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    raw = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


def test_empty_tile_is_an_empty_200(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/places/tiles/WebMercatorQuad/4/0/0")
    assert r.status_code == 200 and r.content == b""


def test_tileset_tilejson_and_style(client) -> None:  # type: ignore[no-untyped-def]
    sets = client.get("/collections/places/tiles").json()["tilesets"]
    assert {s["dataType"] for s in sets} == {"vector"} and len(sets) == 2
    meta = client.get("/collections/places/tiles/WebMercatorQuad").json()
    assert meta["layers"][0]["id"] == "places"
    tj = client.get("/collections/places/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0" and tj["vector_layers"][0]["id"] == "places"
    tile_url = tj["tiles"][0].replace("http://testserver", "").format(z=4, x=11, y=5)
    assert mapbox_vector_tile.decode(client.get(tile_url).content)["places"]["features"]
    style = client.get("/collections/species_ranges/styles/default").json()
    assert style["version"] == 8
    assert {lyr["source-layer"] for lyr in style["layers"] if "source-layer" in lyr} == {
        "species_ranges"
    }


def test_all_registered_layers_answer_tiles(client) -> None:  # type: ignore[no-untyped-def]
    for layer in layer_ids():
        r = client.get(f"/collections/{layer}/tiles/WebMercatorQuad/5/11/22")
        assert r.status_code == 200, layer


def _rgba(content: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(content))
    assert img.size == (256, 256)
    return np.asarray(img.convert("RGBA"))


@pytest.mark.parametrize("style", ["shaded", "elevation", "hillshade"])
def test_relief_png_tiles_over_almaty(client, style: str) -> None:  # type: ignore[no-untyped-def]
    # z8 tile holding Almaty and Ile-Alatau (76.9 E, 43.2 N)
    r = client.get(f"/rasters/relief/tiles/WebMercatorQuad/8/94/182.png?style={style}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    px = _rgba(r.content)
    assert (px[..., 3] > 0).mean() > 0.5
    assert px[..., :3].std() > 5  # relief, not a flat colour


def test_every_registered_raster_is_tileable(client) -> None:  # type: ignore[no-untyped-def]
    rasters = client.get("/rasters").json()["rasters"]
    names = [r["id"] for r in rasters]
    assert "relief" in names and len(names) >= 4
    for r in rasters:
        resp = client.get(f"/rasters/{r['id']}/tiles/WorldCRS84Quad/5/9/47.png")
        assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    outside = client.get("/rasters/relief/tiles/WebMercatorQuad/4/0/0.png")
    assert outside.status_code == 200 and (_rgba(outside.content)[..., 3] == 0).all()


@pytest.mark.usefixtures("cleaned_up")  # committed: the tile cache must see it
def test_an_analysis_raster_registered_in_rasters_is_tileable(client, engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The hook for analysis outputs: register a file in ``rasters``, get PNG tiles."""
    from sqlalchemy import delete

    import rasterio
    from geoalchemy2.shape import from_shape
    from rasterio.transform import from_bounds
    from shapely.geometry import box

    from api.db import models as m
    from api.db.engine import transaction

    path = tmp_path / "classes.tif"
    data = np.zeros((200, 200), dtype="uint8")
    data[:, 100:] = 2
    data[:, :100] = 1
    bounds = (76.0, 42.0, 78.0, 44.0)
    with rasterio.open(
        path, "w", driver="GTiff", width=200, height=200, count=1, dtype="uint8",
        crs="EPSG:4326", transform=from_bounds(*bounds, 200, 200), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    with transaction(engine, actor="tests") as s:
        s.add(
            m.RasterDataset(
                name="test_classes", title="Test classes", kind="classification", path=str(path),
                sha256="0" * 64, crs="EPSG:4326", width=200, height=200, resolution=[0.01, 0.01],
                dtype="uint8", nodata=0, source="test", licence="CC0", method="modelled",
                properties={"colormap": {"1": "#ff0000", "2": "#0000ff"}},
                geom=from_shape(box(*bounds), srid=4326),
            )
        )  # fmt: skip
    try:
        listed = {r["id"]: r for r in client.get("/rasters").json()["rasters"]}
        assert listed["test_classes"]["styles"][0] == "classes"
        # WorldCRS84Quad z7 tile (1.40625 degrees): lon 75.94-77.34, lat 42.19-43.59, both classes
        r = client.get("/rasters/test_classes/tiles/WorldCRS84Quad/7/33/182.png")
        assert r.status_code == 200
        px = _rgba(r.content)
        colours = {tuple(c) for c in px[px[..., 3] > 0][:, :3].tolist()}
        assert colours == {(255, 0, 0), (0, 0, 255)}
        values = client.get("/rasters/test_classes/tiles/WorldCRS84Quad/7/33/182.png?style=values")
        assert values.status_code == 200
        bad = client.get("/rasters/test_classes/tiles/WorldCRS84Quad/7/33/182.png?style=hillshade")
        assert bad.status_code == 400
    finally:
        with transaction(engine, actor="tests") as s:
            s.execute(delete(m.RasterDataset).where(m.RasterDataset.name == "test_classes"))


@pytest.mark.usefixtures("cleaned_up")  # committed: the tile cache must see it
def test_a_write_is_in_the_next_tile_despite_the_tile_cache(client, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import delete

    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from api.db import models as m
    from api.db.engine import transaction

    url = "/collections/peaks/tiles/WebMercatorQuad/6/23/44"  # lon 67.5-73.1, lat 40.98-45.1
    before = client.get(url)
    ids = {
        f["properties"]["id"]
        for f in mapbox_vector_tile.decode(before.content).get("peaks", {}).get("features", [])
    }
    assert client.get(url).content == before.content  # served again (from the cache)
    with transaction(engine, actor="tests") as s:
        peak = m.Peak(
            name="Cache test peak", featurecla="mountain", elevation_m=3000.0, properties={},
            source="test", licence="CC0", method="example", geom=from_shape(Point(70.0, 43.0), srid=4326),
        )  # fmt: skip
        s.add(peak)
        s.flush()
        pid = peak.id
    try:
        after = client.get(url, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        got = {
            f["properties"]["id"]
            for f in mapbox_vector_tile.decode(after.content)["peaks"]["features"]
        }
        assert got == ids | {pid}
    finally:
        with transaction(engine, actor="tests") as s:
            s.execute(delete(m.Peak).where(m.Peak.id == pid))
    gone = mapbox_vector_tile.decode(client.get(url).content)
    assert pid not in {f["properties"]["id"] for f in gone.get("peaks", {}).get("features", [])}

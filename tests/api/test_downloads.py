"""Downloads: GeoJSON, GeoPackage and CSV honour bbox and filter, and the privacy rules."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

import pyogrio
import shapely

from tests.layers import records as rec

QUERY = {"bbox": "66,36,81,46", "filter": "population > 50000"}


@pytest.fixture(scope="module")
def extra(engine: Engine, demo: dict[str, int]) -> Iterator[dict[str, Any]]:
    with rec.extra_records(engine) as ids:
        yield ids


def _expected(client) -> dict[int, Any]:  # type: ignore[no-untyped-def]
    body = client.get("/collections/places/items", params={**QUERY, "limit": 10000}).json()
    assert body["numberMatched"] > 10
    return {f["id"]: f for f in body["features"]}


def test_geopackage_download(client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    want = _expected(client)
    r = client.get("/collections/places/download", params={**QUERY, "format": "gpkg"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    path = tmp_path / "places.gpkg"
    path.write_bytes(r.content)
    assert pyogrio.list_layers(path)[0][0] == "places"
    gdf = pyogrio.read_dataframe(path)
    assert gdf.crs.to_epsg() == 4326
    assert set(gdf["id"]) == set(want)
    row = gdf.set_index("id").loc[next(iter(want))]
    f = want[next(iter(want))]
    assert (
        row["name"] == f["properties"]["name"]
        and row["population"] == f["properties"]["population"]
    )
    assert row.geometry.equals_exact(shapely.geometry.shape(f["geometry"]), 1e-6)


def test_csv_download_has_wkt_geometry(client) -> None:  # type: ignore[no-untyped-def]
    want = _expected(client)
    r = client.get("/collections/places/download", params={**QUERY, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    df = pd.read_csv(io.StringIO(r.text))
    assert set(df["id"]) == set(want)
    geoms = shapely.from_wkt(df["geometry_wkt"])
    for fid, g in zip(df["id"], geoms, strict=True):
        assert g.equals_exact(shapely.geometry.shape(want[fid]["geometry"]), 1e-6)


def test_geojson_download(client) -> None:  # type: ignore[no-untyped-def]
    want = _expected(client)
    r = client.get("/collections/places/download", params={**QUERY, "format": "geojson"})
    body = json.loads(r.content)
    assert {f["id"] for f in body["features"]} == set(want)


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
def test_downloads_generalise_sensitive_records(
    client, tx_login_as, extra, fmt: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    def positions(c) -> dict[int, tuple[float, float]]:  # type: ignore[no-untyped-def]
        r = c.get("/collections/occurrences/download", params={"format": fmt})
        assert r.status_code == 200
        if fmt == "geojson":
            feats = json.loads(r.content)["features"]
            text = r.content.decode()
            pos = {f["id"]: tuple(f["geometry"]["coordinates"]) for f in feats}
        elif fmt == "csv":
            text = r.text
            df = pd.read_csv(io.StringIO(r.text))
            pos = {
                i: (g.x, g.y)
                for i, g in zip(df["id"], shapely.from_wkt(df["geometry_wkt"]), strict=True)
            }
        else:
            p = tmp_path / f"occ-{id(c)}.gpkg"
            p.write_bytes(r.content)
            gdf = pyogrio.read_dataframe(p)
            text = gdf.drop(columns="geometry").to_csv()
            pos = {i: (g.x, g.y) for i, g in zip(gdf["id"], gdf.geometry, strict=True)}
        return pos, text  # type: ignore[return-value]

    pub, text = positions(client)
    assert rec.OBSERVER not in text
    assert pub[extra["occurrences"][0]] == pytest.approx(rec.SENSITIVE_CENTRES[0])
    full, text = positions(tx_login_as("analyst"))
    assert rec.OBSERVER in text
    assert full[extra["occurrences"][0]] == pytest.approx(rec.SENSITIVE_POINTS[0])

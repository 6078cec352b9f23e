"""GDAL, behind QGIS, ogr2ogr and most desktop GIS, reads what Irbis serves.

Its OGC API - Features driver (``OAPIF:``) reads every collection a caller who is not logged
in sees, paging through ``next`` links, with as many features as the API says it matched and
the CRS the API states; its MVT driver reads a served vector tile, a collection's and the
dataset tileset's, as an independent decoder (``mapbox_vector_tile``) reads the same bytes.
GDAL comes from pyogrio's wheel (which bundles it with curl). GDAL holds the interpreter lock
while it fetches, so it runs in a child process while the test server answers in this one: one
child for the module, reading one request a line (starting Python with GDAL and geopandas for
each read cost more than most reads).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import pytest

import morecantile

from layers.registry import layer_ids

pytestmark = pytest.mark.cleaned_up  # its servers commit

#: Reads each named layer of a GDAL data source, for each request (one JSON line on stdin:
#: source, names, open options); answers one JSON line per request.
SCRIPT = """
import json, sys, traceback
import pyogrio

def read(source, names, options):
    out = {"layers": [str(n) for n, _ in pyogrio.list_layers(source)]}
    where = options.pop("where", None)
    for name in names:
        gdf = pyogrio.read_dataframe(source, layer=name, where=where, **options)
        info = pyogrio.read_info(source, layer=name, **options)
        out[name] = {
            "n": len(gdf),
            "crs": gdf.crs.to_string() if gdf.crs else None,
            "null_geoms": int(gdf.geometry.isna().sum()),
            "bounds": [float(v) for v in gdf.total_bounds] if len(gdf) else None,
            "columns": [str(c) for c in gdf.columns],
            "names": sorted(map(str, gdf["name"])) if "name" in gdf else [],
            "info_crs": info["crs"],
            "observed_on": sorted(map(str, gdf["observed_on"])) if "observed_on" in gdf else [],
        }
    return out

for line in sys.stdin:
    try:
        answer = read(*json.loads(line))
    except Exception:
        answer = {"error": traceback.format_exc()[-2000:]}
    print(json.dumps(answer), flush=True)
"""

#: What GDAL reads from a source (a connection string or a file): ``gdal(source, names,
#: **options)``.
Gdal = Callable[..., Any]


@pytest.fixture(scope="module")
def gdal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gdal]:
    """GDAL in a child process, started once for the module."""
    log = tmp_path_factory.mktemp("gdal") / "stderr.txt"
    with log.open("w") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    requests, answers = child.stdin, child.stdout
    assert requests is not None and answers is not None

    def read(source: str, names: list[str], **options: Any) -> Any:
        requests.write(json.dumps([source, names, options]) + "\n")
        requests.flush()
        line = answers.readline()
        assert line, f"GDAL's process ended: {log.read_text()[-2000:]}"
        got = json.loads(line)
        assert "error" not in got, got["error"]
        return got

    try:
        yield read
    finally:
        requests.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def served(url: str, **query: Any) -> Any:
    r = httpx.get(url, params={"f": "json", **query}, timeout=60)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return r.json()


@pytest.fixture(scope="module")
def public_collections(live_server: str) -> list[str]:
    """The collections a caller who is not logged in is offered."""
    return [c["id"] for c in served(f"{live_server}/collections")["collections"]]


@pytest.fixture(scope="module")
def read_by_gdal(gdal: Gdal, live_server: str, public_collections: list[str]) -> dict[str, Any]:
    """Every public collection read through GDAL's OGC API driver, in one child process, in
    pages of 1,000 features (GDAL asks for 10 at a time by default; paging itself is read
    in pages of 7 below)."""
    return gdal(f"OAPIF:{live_server}/", public_collections, PAGE_SIZE="1000")


def test_gdal_lists_every_public_collection(
    read_by_gdal: dict[str, Any], public_collections: list[str]
) -> None:
    assert set(public_collections) == set(layer_ids())
    assert set(read_by_gdal["layers"]) == set(public_collections)


@pytest.mark.parametrize("collection_id", layer_ids())
def test_gdal_reads_every_feature_of_a_collection(
    read_by_gdal: dict[str, Any], live_server: str, collection_id: str
) -> None:
    url = f"{live_server}/collections/{collection_id}"
    got = read_by_gdal[collection_id]
    matched = served(f"{url}/items", limit=1)["numberMatched"]
    assert got["n"] == matched, (collection_id, got["n"], matched)
    # the CRS the collection states (CRS84: longitude first)
    assert served(url)["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert got["crs"] in ("OGC:CRS84", "EPSG:4326"), got["crs"]
    if got["null_geoms"]:  # a feature without geometry (a grant with no field site yet)
        features = served(f"{url}/items", limit=matched)["features"]
        assert got["null_geoms"] == sum(f["geometry"] is None for f in features)
    if matched > got["null_geoms"]:
        queryables = served(f"{url}/queryables")["properties"]
        assert set(got["columns"]) - {"geometry", "id"} <= set(queryables)
        minx, miny, maxx, maxy = got["bounds"]
        ex_minx, ex_miny, ex_maxx, ex_maxy = served(url)["extent"]["spatial"]["bbox"][0]
        tol = 1e-5
        assert ex_minx - tol <= minx <= maxx <= ex_maxx + tol, (got["bounds"], collection_id)
        assert ex_miny - tol <= miny <= maxy <= ex_maxy + tol, (got["bounds"], collection_id)
        # longitude first: Central Asia is east of 40°E and north of 30°N
        assert minx > 40 and miny > 30


def test_gdal_reads_a_collection_of_many_pages(gdal: Gdal, live_server: str) -> None:
    """A page size below the collection's size: GDAL follows ``next`` links to the end."""
    matched = served(f"{live_server}/collections/places/items", limit=1)["numberMatched"]
    assert matched > 7
    got = gdal(f"OAPIF:{live_server}/", ["places"], PAGE_SIZE="7")["places"]
    assert got["n"] == matched
    assert len(set(got["names"])) > 7


def test_gdal_opens_one_collection_by_its_url(gdal: Gdal, live_server: str) -> None:
    url = f"{live_server}/collections/peaks"
    got = gdal(f"OAPIF:{url}", ["peaks"])
    assert got["layers"] == ["peaks"]
    assert got["peaks"]["n"] == served(f"{url}/items", limit=1)["numberMatched"] > 0


def test_gdal_filters_by_date_on_the_server(gdal: Gdal, live_server: str) -> None:
    """GDAL turns a WHERE on a date into ``datetime=2022-01-01T/..`` (a date and a bare T)
    and keeps what the server answers: the server reads it as the date."""
    url = f"{live_server}/collections/monitoring_points/items"
    total = served(url, limit=1)["numberMatched"]
    since = served(url, limit=1, datetime="2022-01-01/..")["numberMatched"]
    assert 0 < since < total
    got = gdal(f"OAPIF:{live_server}/", ["monitoring_points"], where="observed_on >= '2022-01-01'")
    layer = got["monitoring_points"]
    assert layer["n"] == since
    assert layer["observed_on"][0] >= "2022-01-01"


def test_gdal_filters_by_attribute(gdal: Gdal, live_server: str) -> None:
    """A WHERE on a property: the same features as the API's own CQL2 filter gives."""
    url = f"{live_server}/collections/protected_areas/items"
    want = served(url, limit=1000, filter="designation = 'National Park'")["features"]
    assert want
    got = gdal(f"OAPIF:{live_server}/", ["protected_areas"], where="designation = 'National Park'")[
        "protected_areas"
    ]
    assert got["names"] == sorted(f["properties"]["name"] for f in want)


ALMATY = (76.95, 43.25)
#: GDAL's MVT driver, told where the tile is; with CLIP=NO it keeps the features that lie
#: only in the tile's buffer (by default it drops them), so it sees what a map draws from.
MVT_OPTIONS = {"CLIP": "NO"}


def _tile(live_server: str, path: str, tmp_path: Path) -> tuple[Path, bytes]:
    r = httpx.get(f"{live_server}{path}", timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.content, f"{path} is empty"
    out = tmp_path / "tile.pbf"
    out.write_bytes(r.content)
    return out, r.content


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(x, y, z)
    return (b.left, b.bottom, b.right, b.top)


def test_gdal_reads_a_collection_tile(gdal: Gdal, live_server: str, tmp_path: Path) -> None:
    t = morecantile.tms.get("WebMercatorQuad").tile(*ALMATY, 6)
    path, data = _tile(
        live_server,
        f"/collections/protected_areas/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}",
        tmp_path,
    )
    decoded = mapbox_vector_tile.decode(data)
    got = gdal(
        f"MVT:{path}", ["protected_areas"], X=str(t.x), Y=str(t.y), Z=str(t.z), **MVT_OPTIONS
    )
    assert got["layers"] == list(decoded) == ["protected_areas"]
    layer = got["protected_areas"]
    assert layer["n"] == len(decoded["protected_areas"]["features"]) > 0
    assert layer["crs"] == "EPSG:3857" and layer["null_geoms"] == 0
    assert layer["names"] == sorted(
        str(f["properties"]["name"]) for f in decoded["protected_areas"]["features"]
    )
    # georeferenced by GDAL from X/Y/Z: within the tile and its buffer
    left, bottom, right, top = _tile_bounds(t.z, t.x, t.y)
    margin = (right - left) * 0.1
    minx, miny, maxx, maxy = layer["bounds"]
    assert left - margin <= maxx and minx <= right + margin
    assert bottom - margin <= maxy and miny <= top + margin


def test_gdal_reads_a_dataset_tile(gdal: Gdal, live_server: str, tmp_path: Path) -> None:
    """The dataset tileset's tile: one GDAL layer per collection, as many features in each
    as the independent decoder finds."""
    t = morecantile.tms.get("WebMercatorQuad").tile(*ALMATY, 6)
    path, data = _tile(live_server, f"/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}", tmp_path)
    decoded = mapbox_vector_tile.decode(data)
    assert {"protected_areas", "places"} <= set(decoded)
    got = gdal(f"MVT:{path}", list(decoded), X=str(t.x), Y=str(t.y), Z=str(t.z), **MVT_OPTIONS)
    assert set(got["layers"]) == set(decoded)
    for name, layer in decoded.items():
        assert got[name]["n"] == len(layer["features"]), name
        assert got[name]["crs"] == "EPSG:3857"

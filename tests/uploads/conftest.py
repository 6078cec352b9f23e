"""Builders of upload files in every supported format, and an upload helper."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import geopandas as gpd
import pyogrio
import shapely

GRANT = "SOS-CA-EX-03"
OTHER_GRANT = "SOS-CA-EX-04"


def site_gdf(
    n: int = 1,
    *,
    names: list[str] | None = None,
    lon: float | None = None,
    lat: float | None = None,
    size_deg: float = 0.02,
) -> gpd.GeoDataFrame:
    """``n`` irregular polygons at a random place in central Kazakhstan: another place and
    other names at each call, the same ones on every run of a test (``random`` is seeded per
    test in ``tests/conftest.py``)."""
    rng = np.random.default_rng(random.getrandbits(64))
    lon = float(rng.uniform(66.0, 74.0)) if lon is None else lon
    lat = float(rng.uniform(47.0, 49.5)) if lat is None else lat
    polys = []
    for i in range(n):
        angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
        r = size_deg * rng.uniform(0.7, 1.0, 12)
        cx, cy = lon + i * size_deg * 3, lat
        polys.append(
            shapely.Polygon(np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)]))
        )
    tag = f"{random.getrandbits(24):06x}"
    names = names or [f"site {tag} {i + 1}" for i in range(n)]
    return gpd.GeoDataFrame({"name": names}, geometry=polys, crs=4326)


def zip_files(path: Path, files: list[Path], arcnames: list[str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f, a in zip(files, arcnames or [f.name for f in files], strict=True):
            z.write(f, a)
    return path


def write(gdf: gpd.GeoDataFrame, fmt: str, folder: Path, stem: str = "sites", **kw: Any) -> Path:
    """Write ``gdf`` as an upload file: geojson, shpzip, gpkg, kml, kmz, csv_wkt, csv_lonlat,
    fgb."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        p = folder / f"{stem}.geojson"
        pyogrio.write_dataframe(gdf, p, driver="GeoJSON", **kw)
    elif fmt == "shpzip":
        d = folder / f"{stem}_shp"
        d.mkdir(exist_ok=True)
        pyogrio.write_dataframe(gdf, d / f"{stem}.shp", **kw)
        p = zip_files(folder / f"{stem}.zip", sorted(d.iterdir()))
    elif fmt == "gpkg":
        p = folder / f"{stem}.gpkg"
        pyogrio.write_dataframe(gdf, p, driver="GPKG", **kw)
    elif fmt in {"kml", "kmz"}:
        k = folder / f"{stem}.kml"
        pyogrio.write_dataframe(gdf.rename(columns={"name": "Name"}), k, driver="KML")
        if fmt == "kml":
            return k
        p = zip_files(folder / f"{stem}.kmz", [k], ["doc.kml"])
    elif fmt == "csv_wkt":
        p = folder / f"{stem}.csv"
        df = gdf.drop(columns="geometry").assign(
            wkt=shapely.to_wkt(gdf.geometry.to_numpy(), rounding_precision=-1)
        )
        df.to_csv(p, index=False)
    elif fmt == "csv_lonlat":
        p = folder / f"{stem}.csv"
        c = gdf.geometry.representative_point()
        gdf.drop(columns="geometry").assign(lon=c.x, lat=c.y).to_csv(p, index=False)
    elif fmt == "fgb":
        p = folder / f"{stem}.fgb"
        pyogrio.write_dataframe(gdf, p, driver="FlatGeobuf", **kw)
    else:
        raise ValueError(fmt)
    return p


def upload(
    client: Any,
    path: Path,
    *,
    code: str = GRANT,
    dry_run: bool = True,
    filename: str | None = None,
    content: bytes | None = None,
    **params: Any,
) -> Any:
    """POST a file to the sites API with the client's CSRF token."""
    query = {"dry_run": str(dry_run).lower(), **{k: v for k, v in params.items() if v is not None}}
    body = content if content is not None else path.read_bytes()
    return client.post(
        f"/api/grants/{code}/sites",
        params=query,
        files={"file": (filename or path.name, body)},
        headers={"X-CSRF-Token": getattr(client, "csrf", "")},
    )


@pytest.fixture
def grantee(tx_login_as):  # type: ignore[no-untyped-def]
    """A logged-in grantee of :data:`GRANT`, on the app of the test's rolled-back transaction
    (``tx_login_as``): what it uploads is gone after the test."""
    return tx_login_as("grantee", grants=[GRANT])

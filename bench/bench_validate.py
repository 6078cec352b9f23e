"""Benchmark: validate 100,000 field-site polygons of about 50 vertices each.

Read (a FlatGeobuf written beforehand, in UTM 43N so reprojection is exercised), reproject,
repair (1 % self-intersecting), and check every rule against the real programme-country
boundaries and 2,000 other sites.

    .venv/bin/python bench/bench_validate.py [--n 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import geopandas as gpd
import pyogrio
import shapely

from geo.crs import PROGRAMME_COUNTRIES
from geo.uploads import UploadLimits, read_upload
from geo.validate import validate_sites

REPO = Path(__file__).resolve().parent.parent


def make_sites(n: int, vertices: int = 50, seed: int = 0) -> gpd.GeoDataFrame:
    """Irregular polygons around random centres in Kazakhstan/Kyrgyzstan, 1 % bow-ties."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(68.0, 78.0, n)
    lat = rng.uniform(42.0, 48.0, n)
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    radius = rng.uniform(0.005, 0.03, (n, 1)) * rng.uniform(0.7, 1.0, (n, vertices))
    x = lon[:, None] + radius * np.cos(angles) * 1.4
    y = lat[:, None] + radius * np.sin(angles)
    ring = np.stack([x, y], axis=-1)
    bow = rng.random(n) < 0.01
    swapped = ring[bow]
    swapped[:, [1, 2]] = swapped[:, [2, 1]]
    ring[bow] = swapped
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    polys = shapely.polygons(ring)
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(n)]}, geometry=polys, crs=4326)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    countries = pyogrio.read_dataframe(
        REPO / "data/boundaries/ne10m_admin0_central_asia.gpkg", layer="admin0"
    )
    countries["programme"] = countries["iso_a3"].isin(PROGRAMME_COUNTRIES)
    others = make_sites(2_000, seed=1)
    others["grant_code"] = "OTHER"
    sites = make_sites(args.n).to_crs(32643)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sites.fgb"
        pyogrio.write_dataframe(sites, path)
        limits = UploadLimits(max_bytes=1 << 31, max_features=args.n, max_vertices=10**8)
        t0, c0 = time.perf_counter(), time.process_time()
        up = read_upload(path, limits)
        t1 = time.perf_counter()
        report = validate_sites(up.gdf, names=up.names, countries=countries, other_sites=others)
        t2, c2 = time.perf_counter(), time.process_time()
    vertices = int(shapely.get_num_coordinates(sites.geometry.to_numpy()).sum())
    print(f"{args.n:,} polygons, {vertices:,} vertices: read {t1 - t0:.2f} s, "
          f"validate {t2 - t1:.2f} s, total {t2 - t0:.2f} s wall, {c2 - c0:.2f} s CPU "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    print(report.counts(), "issue codes:", report.issues["code"].value_counts().to_dict())


if __name__ == "__main__":
    main()

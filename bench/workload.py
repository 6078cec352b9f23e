"""The peer benchmark workload (same generator, seed and counts as the peer harness's
``make_data.py``), kept here so ``bench/`` runs on its own.

Star-shaped valid polygons over Central Asia: species ranges, protected areas, field sites,
threat footprints (``make_vectors``), and a fractal elevation COG (``make_raster``).
"""

# ruff: noqa
import argparse
import hashlib
import json
import math
import os
import time

import numpy as np

BBOX = (46.0, 36.0, 87.0, 55.0)  # lon_min, lat_min, lon_max, lat_max

BASE_COUNTS = {
    "species_ranges": 200,
    "protected_areas": 1000,
    "field_sites": 10000,
    "threat_footprints": 2000,
}


def star_ring(rng, cx, cy, r, nv, *, rough=0.25, harmonics=6, aspect=1.0, rot=0.0):
    """Return (nv+1, 2) closed ring coords of a star-shaped polygon in degrees.

    r is the mean radius in degrees of latitude; x is stretched by 1/cos(lat)
    so shapes are roughly isotropic on the ground.
    """
    t = np.sort(rng.uniform(0, 2 * np.pi, nv))
    # guarantee strictly increasing angles
    t = np.linspace(0, 2 * np.pi, nv, endpoint=False) * 0.5 + t * 0.5
    rad = np.ones(nv)
    for k in range(1, harmonics + 1):
        amp = rough / k**1.1 * rng.uniform(0.3, 1.0)
        rad += amp * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    # fine-scale jaggedness (coastline-like)
    rad += rough * 0.15 * rng.standard_normal(nv)
    rad = np.clip(rad, 0.15, None) * r
    x = rad * np.cos(t) * aspect
    y = rad * np.sin(t)
    if rot:
        c, s = math.cos(rot), math.sin(rot)
        x, y = x * c - y * s, x * s + y * c
    lon = cx + x / max(math.cos(math.radians(cy)), 0.2)
    lat = cy + y
    lon = np.clip(lon, BBOX[0], BBOX[2])
    lat = np.clip(lat, BBOX[1], BBOX[3])
    ring = np.column_stack([lon, lat])
    return np.vstack([ring, ring[:1]])


def _as_multipolygon(g):
    import shapely

    if g.geom_type == "MultiPolygon":
        return g
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    polys = []
    for p in getattr(g, "geoms", []):
        if p.geom_type == "Polygon":
            polys.append(p)
        elif p.geom_type == "MultiPolygon":
            polys.extend(p.geoms)
    return shapely.MultiPolygon(polys)


def rand_centre(rng, margin=0.0):
    return (
        rng.uniform(BBOX[0] + margin, BBOX[2] - margin),
        rng.uniform(BBOX[1] + margin, BBOX[3] - margin),
    )


def make_vectors(scale: float, seed: int):
    import geopandas as gpd
    import shapely
    from shapely.ops import unary_union

    rng = np.random.default_rng(seed)
    counts = {k: max(1, int(round(v * scale))) for k, v in BASE_COUNTS.items()}
    out = {}

    # --- species ranges -------------------------------------------------
    n = counts["species_ranges"]
    geoms, rows = [], []
    groups = ["mammal", "bird", "reptile", "amphibian", "plant", "insect"]
    status = ["LC", "NT", "VU", "EN", "CR"]
    for i in range(n):
        parts = []
        cx, cy = rand_centre(rng, 1.0)
        for p in range(int(rng.integers(1, 5))):
            px = cx + rng.normal(0, 1.5)
            py = cy + rng.normal(0, 1.0)
            px = float(np.clip(px, BBOX[0] + 0.5, BBOX[2] - 0.5))
            py = float(np.clip(py, BBOX[1] + 0.5, BBOX[3] - 0.5))
            r = rng.uniform(0.6, 3.0) if p == 0 else rng.uniform(0.2, 1.2)
            nv = int(rng.integers(1500, 5000)) if p == 0 else int(rng.integers(400, 1500))
            parts.append(
                shapely.make_valid(
                    shapely.Polygon(star_ring(rng, px, py, r, nv, rough=0.35, harmonics=12))
                )
            )
        g = unary_union(parts) if len(parts) > 1 else parts[0]
        geoms.append(g)
        rows.append(
            {
                "id": i + 1,
                "species": f"Species_{i + 1:05d}",
                "taxon_group": groups[int(rng.integers(len(groups)))],
                "iucn_status": status[int(rng.integers(len(status)))],
                "source_year": int(rng.integers(1995, 2025)),
            }
        )
    out["species_ranges"] = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")

    # --- protected areas -------------------------------------------------
    n = counts["protected_areas"]
    cats = ["Ia", "Ib", "II", "III", "IV", "V", "VI", "Not Reported"]
    countries = ["KAZ", "KGZ", "UZB", "TJK", "TKM", "MNG", "CHN", "RUS", "AFG", "IRN"]
    geoms, rows, pa_centres = [], [], []
    for i in range(n):
        cx, cy = rand_centre(rng, 0.3)
        r = float(np.exp(rng.uniform(np.log(0.03), np.log(0.5))))
        nv = int(rng.integers(100, 400))
        geoms.append(shapely.Polygon(star_ring(rng, cx, cy, r, nv, rough=0.3, harmonics=8)))
        pa_centres.append((cx, cy, r))
        rows.append(
            {
                "id": i + 1,
                "name": f"Protected Area {i + 1:04d}",
                "iucn_cat": cats[int(rng.integers(len(cats)))],
                "designation": ["Zapovednik", "National Park", "Zakaznik", "Nature Monument"][
                    int(rng.integers(4))
                ],
                "country": countries[int(rng.integers(len(countries)))],
                "status_year": int(rng.integers(1926, 2024)),
            }
        )
    out["protected_areas"] = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")

    # --- grant field sites (70 % near a protected area) --------------------
    n = counts["field_sites"]
    ptypes = ["monitoring", "restoration", "anti-poaching", "community", "survey"]
    geoms, rows = [], []
    for i in range(n):
        if rng.random() < 0.7:
            cx, cy, pr = pa_centres[int(rng.integers(len(pa_centres)))]
            cx += rng.normal(0, pr * 0.8) / math.cos(math.radians(cy))
            cy += rng.normal(0, pr * 0.8)
            cx = float(np.clip(cx, BBOX[0] + 0.1, BBOX[2] - 0.1))
            cy = float(np.clip(cy, BBOX[1] + 0.1, BBOX[3] - 0.1))
        else:
            cx, cy = rand_centre(rng, 0.1)
        r = float(np.exp(rng.uniform(np.log(0.003), np.log(0.04))))
        nv = int(rng.integers(6, 25))
        geoms.append(shapely.Polygon(star_ring(rng, cx, cy, r, nv, rough=0.15, harmonics=3)))
        rows.append(
            {
                "id": i + 1,
                "grant_id": f"G-{int(rng.integers(1, 800)):04d}",
                "site_code": f"S{i + 1:06d}",
                "project_type": ptypes[int(rng.integers(len(ptypes)))],
                "established": f"{int(rng.integers(2005, 2025))}-{int(rng.integers(1, 13)):02d}-01",
            }
        )
    out["field_sites"] = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")

    # --- threat footprints -------------------------------------------------
    n = counts["threat_footprints"]
    ttypes = ["mining", "road", "agriculture", "overgrazing", "dam", "settlement"]
    geoms, rows = [], []
    for i in range(n):
        cx, cy = rand_centre(rng, 0.2)
        r = float(np.exp(rng.uniform(np.log(0.02), np.log(0.6))))
        nv = int(rng.integers(24, 120))
        geoms.append(
            shapely.Polygon(
                star_ring(
                    rng,
                    cx,
                    cy,
                    r,
                    nv,
                    rough=0.2,
                    harmonics=4,
                    aspect=float(rng.uniform(2.0, 6.0)),
                    rot=float(rng.uniform(0, np.pi)),
                )
            )
        )
        rows.append(
            {
                "id": i + 1,
                "threat_type": ttypes[int(rng.integers(len(ttypes)))],
                "severity": int(rng.integers(1, 6)),
                "observed_year": int(rng.integers(2000, 2025)),
            }
        )
    out["threat_footprints"] = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")

    for name, gdf in out.items():
        bad = ~gdf.geometry.is_valid
        if bad.any():
            gdf.loc[bad, "geometry"] = shapely.make_valid(gdf.geometry[bad].values)
        # one geometry type per layer for PostGIS/tipg: keep polygonal parts only
        gdf["geometry"] = [_as_multipolygon(g) for g in gdf.geometry]
    return out


def _up2(a: np.ndarray) -> np.ndarray:
    """Bilinear x2 upsampling (float32)."""
    h, w = a.shape
    b = np.empty((2 * h, w), np.float32)
    b[0::2] = a
    b[1:-1:2] = 0.5 * (a[:-1] + a[1:])
    b[-1] = a[-1]
    c = np.empty((2 * h, 2 * w), np.float32)
    c[:, 0::2] = b
    c[:, 1:-1:2] = 0.5 * (b[:, :-1] + b[:, 1:])
    c[:, -1] = b[:, -1]
    return c


def make_raster(path: str, width: int, height: int, seed: int):
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_bounds

    rng = np.random.default_rng(seed + 1)
    # fractal pyramid: start coarse, upsample x2, add noise with halving amplitude
    levels = 0
    h0, w0 = height, width
    while h0 > 8 and w0 > 8:
        h0, w0 = (h0 + 1) // 2, (w0 + 1) // 2
        levels += 1
    a = rng.standard_normal((h0, w0)).astype(np.float32)
    amp = 1.0
    for _ in range(levels):
        a = _up2(a)
        amp *= 0.55
        a += amp * rng.standard_normal(a.shape, dtype=np.float32)
    a = a[:height, :width]
    a = (a - a.min()) / (a.max() - a.min())
    # mountain belt (Tien Shan / Pamir / Altai-like) bumps + lowland plain
    ys = np.linspace(BBOX[3], BBOX[1], height, dtype=np.float32)[:, None]
    xs = np.linspace(BBOX[0], BBOX[2], width, dtype=np.float32)[None, :]
    relief = (
        np.exp(-(((xs - 75) / 6) ** 2 + ((ys - 41) / 2.0) ** 2))
        + 0.8 * np.exp(-(((xs - 72) / 2.5) ** 2 + ((ys - 38.5) / 1.8) ** 2))
        + 0.6 * np.exp(-(((xs - 86) / 3) ** 2 + ((ys - 49.5) / 2.0) ** 2))
    )
    elev = (a * 1200.0 + relief * (a * 5000.0 + 800.0) - 50.0).astype(np.float32)
    del a, relief
    nodata = -32768
    # "lakes" (Caspian / Aral / Balkhash-like) -> nodata
    lake = (
        (((xs - 50.5) / 2.2) ** 2 + ((ys - 42.0) / 4.5) ** 2 < 1.0)
        | (((xs - 59.5) / 1.2) ** 2 + ((ys - 45.0) / 0.8) ** 2 < 1.0)
        | (((xs - 75.0) / 2.0) ** 2 + ((ys - 46.5) / 0.35) ** 2 < 1.0)
    )
    out = np.clip(elev, -100, 7400).astype(np.int16)
    out[lake] = nodata
    del elev, lake

    transform = from_bounds(*BBOX, width, height)
    tmp = path + ".tmp.tif"
    with rasterio.open(
        tmp,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="int16",
        crs="EPSG:4326",
        transform=transform,
        nodata=nodata,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="NONE",
    ) as dst:
        dst.write(out, 1)
    rasterio.shutil.copy(
        tmp,
        path,
        driver="COG",
        compress="DEFLATE",
        predictor=2,
        blocksize=512,
        overview_resampling="average",
        num_threads="ALL_CPUS",
    )
    os.remove(tmp)
    valid = out[out != nodata]
    return {
        "path": os.path.basename(path),
        "width": width,
        "height": height,
        "dtype": "int16",
        "nodata": nodata,
        "bounds": BBOX,
        "pixel_size_deg": [(BBOX[2] - BBOX[0]) / width, (BBOX[3] - BBOX[1]) / height],
        "valid_fraction": round(float(valid.size) / out.size, 4),
        "mean_valid": round(float(valid.mean()), 3),
        "sha256_pixels": hashlib.sha256(out.tobytes()).hexdigest()[:16],
    }

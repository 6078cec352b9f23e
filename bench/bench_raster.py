#!/usr/bin/env python3
"""Habitat loss by zone on a synthetic 30 m land-cover pair over the Almaty region: in memory,
window by window, and on Dask; time and peak memory at two raster sizes.

The pair (two epochs, uint8 classes 1-4, nodata 255 over a "lake", tiled 512 x 512 GeoTIFF)
is generated window by window into a temporary directory: at ``--cells 250e6`` it is
16,000 x 15,625 cells of 0.000375 x 0.00027 degrees (about 30 x 30 m) from 74 E, 46.7 N.
Habitat (class 1) is cleared in patches in the second epoch. The zones are 40 star-shaped
"protected areas" over the region. Each run is a fresh process whose peak resident memory
(``ru_maxrss``) is reported; the in-memory path runs only at the smaller size.

    .venv/bin/python bench/bench_raster.py --write-docs              # 62.5 and 250 million cells
    .venv/bin/python bench/bench_raster.py --sizes 4e6,16e6          # a short check
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

RES_X, RES_Y = 0.000375, 0.00027
WEST, NORTH = 74.0, 46.7


def shape_for(cells: float) -> tuple[int, int]:
    """Width and height (about 1.024 : 1) for a number of cells."""
    h = int(math.sqrt(cells / 1.024))
    return int(cells / h), h


def generate(path: Path, width: int, height: int, epoch: int) -> None:
    import numpy as np

    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1,
               "dtype": "uint8", "crs": "EPSG:4326", "nodata": 255,
               "transform": from_origin(WEST, NORTH, RES_X, RES_Y),
               "tiled": True, "blockxsize": 512, "blockysize": 512}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(0, height, 512):
            h = min(512, height - r)
            rows = (r + np.arange(h))[:, None].astype("float64")
            cols = np.arange(width)[None, :].astype("float64")
            v = np.sin(cols / 700.0) + np.cos(rows / 530.0) + 0.6 * np.sin((cols + rows) / 97.0)
            rng = np.random.default_rng(r)
            v = v + 0.5 * rng.standard_normal((h, width))
            a = np.digitize(v, [-1.0, 0.0, 1.0]).astype("uint8") + 1
            lake = (cols - width * 0.3) ** 2 + (rows - height * 0.6) ** 2 < (height * 0.05) ** 2
            a[lake] = 255
            if epoch == 2:  # habitat cleared in patches
                patch = (np.sin(cols / 150.0) * np.sin(rows / 170.0)) > 0.8
                a[patch & (a == 1)] = 3
            dst.write(a, 1, window=Window(0, r, width, h))


def zones(width: int, height: int):  # type: ignore[no-untyped-def]
    import numpy as np

    import geopandas as gpd
    from shapely.geometry import Polygon

    rng = np.random.default_rng(5)
    w, s = WEST, NORTH - height * RES_Y
    e, n = WEST + width * RES_X, NORTH
    geoms = []
    for _ in range(40):
        cx, cy = rng.uniform(w, e), rng.uniform(s, n)
        r = rng.uniform(0.01, 0.06) * (e - w)
        t = np.sort(rng.uniform(0, 2 * np.pi, 200))
        rad = r * (1 + 0.25 * np.sin(4 * t + rng.uniform(0, 6)))
        geoms.append(Polygon(np.c_[cx + rad * np.cos(t), cy + 0.75 * rad * np.sin(t)]))
    return gpd.GeoDataFrame({"zid": range(1, 41)}, geometry=geoms, crs=4326)


def worker(mode: str, a: str, b: str, width: int, height: int) -> dict:
    """One measurement (run in a fresh process)."""
    from geo.loss import raster_change
    from geo.raster import class_areas, class_areas_windowed

    z = zones(width, height)
    epochs = {"before": a, "after": b}
    t0 = time.perf_counter()
    if mode == "memory":
        out = raster_change(epochs, z, "zid", zonal=class_areas)
    elif mode == "windowed":
        out = raster_change(epochs, z, "zid", zonal=class_areas_windowed)
    else:
        from distributed import Client, LocalCluster

        from geo.partitioned import class_areas_dask

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                          dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip

            def zonal(raster, zz, id_col, *, classify=None):  # type: ignore[no-untyped-def]
                return class_areas_dask(raster, zz, id_col, classify=classify, client=client)

            out = raster_change(epochs, z, "zid", zonal=zonal)
    secs = time.perf_counter() - t0
    after = out[out["epoch"] == "after"]
    return {"seconds": round(secs, 1), "loss_ha": round(float(-after["change_ha"].sum()), 3),
            "habitat_ha_before": round(float(out[out["epoch"] == "before"]["habitat_ha"].sum()), 3)}  # fmt: skip


def measure(mode: str, a: Path, b: Path, width: int, height: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, str(a), str(b), str(width), str(height)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise RuntimeError(f"{mode} failed: {out[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 0)  # kB on Linux
    return res


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, a, b, w, h = sys.argv[2:7]
        print(json.dumps(worker(mode, a, b, int(w), int(h))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--sizes", default="62.5e6,250e6", help="cells of the two rasters")
    ap.add_argument("--modes", default="memory,windowed,dask")
    ap.add_argument("--memory-max-cells", type=float, default=70e6, help="in memory only up to")
    ap.add_argument("--dir", default=None, help="where to generate (default: a temp dir)")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for cells in (float(x) for x in args.sizes.split(",")):
            width, height = shape_for(cells)
            a, b = Path(tmp) / f"lc_{width}_1.tif", Path(tmp) / f"lc_{width}_2.tif"
            t0 = time.perf_counter()
            generate(a, width, height, 1)
            generate(b, width, height, 2)
            print(f"{width} x {height}: generated in {time.perf_counter() - t0:.0f} s", flush=True)
            for mode in args.modes.split(","):
                if mode == "memory" and width * height > args.memory_max_cells:
                    continue
                r = measure(mode, a, b, width, height)
                r.update(mode=mode, cells=width * height, width=width, height=height)
                print(r, flush=True)
                results.append(r)
            a.unlink()
            b.unlink()
    out = Path(os.environ.get("BENCHDATA", "/tmp/benchdata")) / "results" / "irbis_raster.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    md = table(results)
    print(md)
    if args.write_docs:
        write_docs(md, resource.getrusage(resource.RUSAGE_SELF))


def table(results: list[dict]) -> str:
    rows = ["| cells | path | seconds | peak RSS MB | habitat before (ha) | loss (ha) |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        rows.append(
            f"| {r['cells'] / 1e6:.1f} million ({r['width']} x {r['height']}) | {r['mode']} "
            f"| {r['seconds']} | {r['peak_rss_mb']:.0f} | {r['habitat_ha_before']:,.1f} "
            f"| {r['loss_ha']:,.1f} |"
        )
    return "\n".join(rows)


def write_docs(md: str, _usage: object) -> None:
    doc = REPO / "docs" / "benchmarks.md"
    text = doc.read_text(encoding="utf-8")
    begin, end = "<!-- raster-bench:begin -->", "<!-- raster-bench:end -->"
    meta = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (`bench/bench_raster.py`)."
    )
    block = f"{begin}\n{meta}\n\n{md}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

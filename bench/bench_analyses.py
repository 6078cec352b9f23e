"""Benchmarks of the analyses: wall time and peak memory, each case in a fresh process.

Cases
-----
overlay     ``geo.overlap.overlap`` (field sites × protected areas, species ranges × protected
            areas; the peer harness's workload) against the same intersection + area in
            PostGIS SQL (``ST_Intersection`` + ``ST_Area(geography)``); pairs and total area
            compared.
zonal       ``geo.raster.zonal_stats`` against a direct ``exactextract`` call (protected areas
            over the workload's elevation COG), and ``geo.raster.class_areas`` (partial
            pixels × geodesic cell areas).
ecosystems  ``geo.ecosystems.classify_region`` over the four countries with the full GEBCO
            raster (4398 × 2014) and the 5′ DEM, then polygons.
gaps        the whole demo gap analysis through the store (``api.services.analyses``): ecosystems,
            habitat, gaps, as ``irbis analyse`` runs them (needs the demo loaded in
            ``--db-url``); then the protected share alone, ``geo.gaps.coverage_gaps`` on the
            layers read once against the same share in one PostGIS SQL statement
            (``GAPS_PROTECTED_SQL``); total protected area compared.

    .venv/bin/python bench/bench_analyses.py --scale 0.2 --runs 1          # a short check
    .venv/bin/python bench/bench_analyses.py --cases gaps --db-url postgresql+psycopg://...

Peak memory is the process's maximum resident set size (the PostGIS server's own memory is
not included). Data is written under ``--data`` (default /tmp/irbis-bench), never into the
repository.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

DEFAULT_DB = "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _workload(data: Path, scale: float, raster: bool) -> dict:
    import workload

    import geopandas as gpd

    data.mkdir(parents=True, exist_ok=True)
    tag = f"s{scale:g}"
    out = {}
    for name in ("species_ranges", "protected_areas", "field_sites"):
        p = data / f"{name}_{tag}.gpkg"
        if p.exists():
            out[name] = gpd.read_file(p)
    if len(out) < 3:
        v = workload.make_vectors(scale, 20240601)
        for name in ("species_ranges", "protected_areas", "field_sites"):
            v[name].to_file(data / f"{name}_{tag}.gpkg", engine="pyogrio")
            out[name] = v[name]
    if raster:
        r = data / "elevation_cog.tif"
        if not r.exists():
            workload.make_raster(str(r), 10000, 6000, 20240601)
        out["raster"] = r
    return out


# ------------------------------------------------------------------------------------------
# cases (each runs in its own process and prints one JSON line)
# ------------------------------------------------------------------------------------------


def case_overlay(args: argparse.Namespace) -> dict:
    from sqlalchemy import create_engine, text

    from geo.overlap import overlap

    w = _workload(Path(args.data), args.scale, raster=False)
    pa = w["protected_areas"].reset_index(drop=True)
    pa["id"] = range(1, len(pa) + 1)
    out: dict = {}
    eng = create_engine(args.db_url)
    with eng.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS bench"))
    for label, a in (
        ("sites_x_pa", w["field_sites"]),
        ("species_x_pa", w["species_ranges"].iloc[: max(1, int(50 * args.scale))]),
    ):
        a = a.reset_index(drop=True)
        a["id"] = range(1, len(a) + 1)
        a[["id", "geometry"]].to_postgis("a", eng, schema="bench", if_exists="replace")
        pa[["id", "geometry"]].to_postgis("pa", eng, schema="bench", if_exists="replace")
        with eng.begin() as conn:
            conn.execute(text("CREATE INDEX ON bench.a USING gist (geometry)"))
            conn.execute(text("CREATE INDEX ON bench.pa USING gist (geometry)"))
            conn.execute(text("ANALYZE bench.a; ANALYZE bench.pa"))
        times_ours, times_pg = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            r = overlap({"a": a, "b": pa}, id_cols={"a": "id", "b": "id"})
            times_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            with eng.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT a.id, b.id, ST_Area(ST_Intersection(a.geometry, b.geometry)"
                        "::geography) / 1e4 FROM bench.a a JOIN bench.pa b "
                        "ON ST_Intersects(a.geometry, b.geometry)"
                    )
                ).all()
            times_pg.append(time.perf_counter() - t)
        pg_ha = sum(x[2] for x in rows if x[2] > 0)
        out[label] = {
            "n_a": len(a),
            "n_pa": len(pa),
            "pieces_ours": len(r),
            "pairs_postgis": sum(1 for x in rows if x[2] > 0),
            "ours_s": round(statistics.median(times_ours), 3),
            "postgis_geography_s": round(statistics.median(times_pg), 3),
            "total_ha_ours": round(float(r["area_ha"].sum()), 1),
            "total_ha_postgis": round(pg_ha, 1),
            "total_reldiff": float(f"{abs(r['area_ha'].sum() - pg_ha) / pg_ha:.3g}"),
        }
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA bench CASCADE"))
    eng.dispose()
    return out


def case_zonal(args: argparse.Namespace) -> dict:
    import numpy as np

    from exactextract import exact_extract

    from geo.raster import class_areas, zonal_stats

    w = _workload(Path(args.data), args.scale, raster=True)
    pa = w["protected_areas"].reset_index(drop=True)
    pa["pid"] = range(1, len(pa) + 1)
    out: dict = {"n_zones": len(pa)}
    t_ours, t_direct, t_cls = [], [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        ours = zonal_stats(w["raster"], pa, "pid", ["mean", "count"])
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        direct = exact_extract(
            str(w["raster"]), pa, ["mean", "count"], include_cols=["pid"], output="pandas"
        )
        t_direct.append(time.perf_counter() - t)
    t = time.perf_counter()
    cls = class_areas(w["raster"], pa.iloc[: min(len(pa), 200)], "pid", classify=lambda a: a > 1000)
    t_cls.append(time.perf_counter() - t)
    m = ours.merge(direct, on="pid", suffixes=("", "_d"))
    diff = np.nanmax(np.abs(m["mean"] - m["mean_d"]))
    out |= {
        "ours_s": round(statistics.median(t_ours), 3),
        "exactextract_direct_s": round(statistics.median(t_direct), 3),
        "max_abs_diff_mean": float(diff),
        "class_areas_200_zones_s": round(t_cls[0], 3),
        "class_rows": len(cls),
    }
    return out


def case_ecosystems(args: argparse.Namespace) -> dict:
    import geopandas as gpd

    from geo.crs import PROGRAMME_COUNTRIES
    from geo.ecosystems import classify_region, ecosystem_polygons

    d = REPO / "data"
    c = gpd.read_file(d / "boundaries" / "ne10m_admin0_central_asia.gpkg")
    c = c[c["iso_a3"].isin(PROGRAMME_COUNTRIES)]
    lakes = gpd.read_file(d / "natural_earth" / "ne10m_lakes_central_asia.gpkg")
    glaciers = gpd.read_file(d / "natural_earth" / "ne10m_glaciated_areas_central_asia.gpkg")
    out = {}
    for res in (1 / 60, 1 / 120):
        t = time.perf_counter()
        g = classify_region(
            c,
            d / "elevation" / "mapzen_pvlib_central_asia_5arcmin.tif",
            fine_dem=d / "elevation" / "gebco2023_tianshan_pamir_15s.tif",
            lakes=lakes,
            glaciers=glaciers,
            resolution_deg=res,
        )
        t_cls = time.perf_counter() - t
        p = ecosystem_polygons(g)
        out[f"{round(res * 3600)}arcsec"] = {
            "grid": list(g.shape),
            "classify_s": round(t_cls, 2),
            "polygons_s": round(time.perf_counter() - t - t_cls, 2),
            "polygons": len(p),
            "fine_dem_cells_in": 4398 * 2014,
        }
    return out


#: The protected share of each habitat row in one PostGIS statement, by the Protected Planet
#: rules of ``geo.protected_planet`` (statuses and designations left out, points as geodesic
#: circles of their reported area, dissolved, areas on the geography): the SQL peer of the
#: protected share that ``geo.gaps.coverage_gaps`` computes.
GAPS_PROTECTED_SQL = """
WITH pa AS (
  SELECT ST_Union(CASE WHEN GeometryType(geom) = 'POINT'
          THEN ST_Buffer(geom::geography, sqrt(reported_area_km2 * 1e6 / pi()), 64)::geometry
          ELSE geom END) AS g
  FROM protected_areas
  WHERE status NOT IN ('Proposed', 'Not Reported')
    AND lower(coalesce(designation, '')) <> 'unesco-mab biosphere reserve'
    AND (GeometryType(geom) <> 'POINT' OR reported_area_km2 > 0))
SELECT s.scientific_name, h.ecosystem, h.iso3,
       sum(ST_Area(ST_Intersection(h.geom, pa.g)::geography)) / 1e4 AS protected_ha
FROM habitat h JOIN species s ON s.id = h.species_id, pa
WHERE h.analysis_run_id = :r GROUP BY 1, 2, 3
"""


def case_gaps(args: argparse.Namespace) -> dict:
    import tempfile

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from api.db.engine import make_engine
    from api.services import analyses as an
    from api.services.analyses.reading import read_habitat, read_protected_areas
    from api.settings import Settings
    from geo.gaps import coverage_gaps

    s = Settings.for_database(args.db_url, args.db_url)
    s.var_dir = Path(tempfile.mkdtemp(prefix="irbis-bench-"))
    eng = make_engine(args.db_url, settings=s.database)
    out: dict = {}
    t0 = time.perf_counter()
    eco = an.run_ecosystems(eng, s)
    out["ecosystems_s"] = round(time.perf_counter() - t0, 2)
    t = time.perf_counter()
    hab_run = an.run_habitat(eng, s, ecosystems_run=eco)
    out["habitat_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    an.run_gaps(eng, s)
    out["gaps_s"] = round(time.perf_counter() - t, 2)
    out["total_s"] = round(time.perf_counter() - t0, 2)
    # the protected share alone: geo.gaps on the layers read once, against its SQL peer
    with Session(eng) as session:
        hab = read_habitat(session, hab_run)
        pas = read_protected_areas(session)
    times_ours, times_pg = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        table, _gaps = coverage_gaps(hab, pas, None, None)
        times_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        with eng.connect() as conn:
            rows = conn.execute(text(GAPS_PROTECTED_SQL), {"r": hab_run}).all()
        times_pg.append(time.perf_counter() - t)
    ours_ha = float(table["protected_ha"].sum())
    pg_ha = float(sum(r.protected_ha or 0.0 for r in rows))
    out["protected_share"] = {
        "rows": len(table),
        "ours_s": round(statistics.median(times_ours), 3),
        "postgis_sql_s": round(statistics.median(times_pg), 3),
        "protected_ha_ours": round(ours_ha, 1),
        "protected_ha_postgis": round(pg_ha, 1),
        "total_reldiff": float(f"{abs(ours_ha - pg_ha) / pg_ha:.3g}") if pg_ha else None,
    }
    eng.dispose()
    return out


CASES = {
    "overlay": case_overlay,
    "zonal": case_zonal,
    "ecosystems": case_ecosystems,
    "gaps": case_gaps,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", default="overlay,zonal,ecosystems,gaps")
    ap.add_argument("--scale", type=float, default=1.0, help="workload scale (peer: 1.0)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.environ.get("IRBIS_BENCH_DATA", "/tmp/irbis-bench"))
    ap.add_argument("--db-url", default=os.environ.get("IRBIS_DATABASE_URL", DEFAULT_DB))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        t = time.perf_counter()
        res = CASES[args.one](args)
        print(
            json.dumps(
                {
                    "case": args.one,
                    "wall_s": round(time.perf_counter() - t, 2),
                    "peak_mb": round(peak_mb()),
                    "result": res,
                }
            )
        )
        return
    for case in args.cases.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            case,
            "--scale",
            str(args.scale),
            "--runs",
            str(args.runs),
            "--data",
            args.data,
            "--db-url",
            args.db_url,
        ]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        if p.returncode != 0 or not line.startswith("{"):
            print(json.dumps({"case": case, "error": p.stderr.strip().splitlines()[-1:]}))
            continue
        print(line, flush=True)


if __name__ == "__main__":
    main()

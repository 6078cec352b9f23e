"""Ecosystems: the programme countries classified (Kapos et al. 2000), raster and polygons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

import geopandas as gpd
import rasterio

from api.db import models as m
from api.db.store import read_table, rows_from_gdf
from api.services.analyses.reading import (
    ARIDITY_FILE,
    ECOREGIONS_FILE,
    KOPPEN_FILE,
    LANDCOVER_FILE,
    WATER_SOURCE,
    programme_countries,
    read_ecoregions,
    reader,
)
from api.services.analyses.recorder import (
    ACTOR,
    DERIVED_LICENCE,
    Inputs,
    Progress,
    data_file,
    execute,
    jsonable,
    record_versions,
    records,
    register_raster,
    registered_raster,
    write_atomic,
)
from api.settings import Settings
from geo import ecosystems as eco


def _store_ecosystem_polygons(
    s: Session, run_id: int, grid: eco.EcosystemGrid, polys: gpd.GeoDataFrame
) -> tuple[str, int]:
    """Store a run's ecosystem polygons; their source text and how many were stored."""
    g = polys.copy()
    g["properties"] = [
        {
            "eco_class": int(r.eco_class),
            "label": r.label,
            "dem_source": int(r.dem_source),
            "dem": r.dem,
            "area_ha": float(r.area_ha),
        }
        for r in polys.itertuples()
    ]
    g["analysis_run_id"] = run_id
    src = "Irbis analysis run {}: Kapos et al. (2000) mountain classes from {}; {}".format(
        run_id, " and ".join(grid.sources.values()), WATER_SOURCE
    )
    rows = rows_from_gdf(
        g,
        ["kind", "iso3", "analysis_run_id", "properties"],
        defaults={"source": src, "licence": DERIVED_LICENCE, "method": "modelled"},
    )
    s.execute(insert(m.Ecosystem), rows)
    return src, len(rows)


def _ecosystem_results(
    grid: eco.EcosystemGrid, polys: gpd.GeoDataFrame, run_id: int, n_rows: int
) -> dict[str, Any]:
    cells = {str(k): int((grid.source == k).sum()) for k in (1, 2)}
    return {
        "areas": records(eco.ecosystem_areas(polys)),
        "classes": records(
            polys.groupby(["iso3", "eco_class", "label", "dem"], as_index=False)["area_ha"].sum()
        ),
        "cells_by_source": {grid.sources.get(k, k): v for k, v in cells.items()},
        # per country: area classified on each DEM, glaciated mountain area, the
        # coarse-DEM bias inside the fine window, Köppen vs biome aridity
        "by_country": jsonable(grid.stats.get("countries", {})),
        "raster": f"ecosystems_run_{run_id}",
        "polygons": n_rows,
    }


def _register_output(s: Session, path: Path, run_id: int, source: str) -> None:
    """Register the run's classified raster (``ecosystems_run_<id>``)."""
    with rasterio.open(path) as r:
        bands = ["class", "dem_source", "elevation_m", "country", "landcover_igbp"][: r.count]
    register_raster(
        s,
        path,
        name=f"ecosystems_run_{run_id}",
        title="Ecosystems (Kapos et al. 2000)",
        kind="classification",
        units="class",
        source=source,
        run_id=run_id,
        bands=bands,
        classes={str(k): v for k, v in eco.CLASS_LABELS.items()},
        colormap={str(k): v for k, v in eco.CLASS_COLOURS.items()},
    )


def run_ecosystems(
    engine: Engine,
    settings: Settings,
    *,
    resolution_deg: float = 1 / 60,
    fine: str | None = "dem_gebco_tianshan_pamir",
    coarse: str = "dem_coarse_region",
    actor: str = ACTOR,
    progress: Progress | None = None,
    title: str | None = None,
    record: int | None = None,
) -> int:
    """Classify the programme countries into ecosystems and store raster + polygons."""
    params = {
        "resolution_deg": resolution_deg,
        "fine_dem": fine,
        "coarse_dem": coarse,
        "radius_m": 7000.0,
        "definition": "Kapos et al. (2000); UNEP-WCMC",
        "glaciers": "inside the mountain class of their elevation",
        "aridity": "Köppen B (Kottek et al. 2006): arid edge from Beck et al. (2018) 1 km, "
        "desert BW / semi-desert and steppe BS from Rubel et al. (2017)",
        "koppen": KOPPEN_FILE,
        "aridity_edge": ARIDITY_FILE,
        "landcover": LANDCOVER_FILE,
        "ecoregions": ECOREGIONS_FILE,
    }
    out_dir = settings.var_dir / "analyses"
    written: list[Path] = []

    def compute(inputs: Inputs) -> tuple[eco.EcosystemGrid, gpd.GeoDataFrame]:
        with reader(engine) as s:
            countries = programme_countries(s, inputs)
            record_versions(s, ["lakes", "glaciers"], inputs)
            lakes = read_table(s, m.Lake)
            glaciers = read_table(s, m.Glacier)
            coarse_path = registered_raster(s, settings, coarse, inputs)
            fine_path = registered_raster(s, settings, fine, inputs) if fine else None
        grid = eco.classify_region(
            countries,
            coarse_path,
            fine_dem=fine_path,
            lakes=lakes,
            glaciers=glaciers,
            koppen=data_file(settings, KOPPEN_FILE, inputs),
            aridity=data_file(settings, ARIDITY_FILE, inputs),
            landcover=data_file(settings, LANDCOVER_FILE, inputs),
            ecoregions=read_ecoregions(settings, inputs),
            resolution_deg=resolution_deg,
            progress=progress,
        )
        polys = eco.ecosystem_polygons(grid)
        if progress:
            progress("polygons made")
        return grid, polys

    def store(s: Session, run_id: int, computed: Any) -> dict[str, Any]:
        grid, polys = computed
        grid.parameters["analysis_run_id"] = run_id
        path = write_atomic(out_dir / f"ecosystems_run_{run_id}.tif", grid.write)
        written.append(path)
        src, n_rows = _store_ecosystem_polygons(s, run_id, grid, polys)
        _register_output(s, path, run_id, src)
        return _ecosystem_results(grid, polys, run_id, n_rows)

    try:
        return execute(
            engine, "ecosystems", params, compute, store, actor=actor, title=title, record=record
        )
    except BaseException:
        for path in written:  # its run was not committed: no row names this raster
            path.unlink(missing_ok=True)
        raise

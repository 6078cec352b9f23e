"""Analyses as records: read layers from PostGIS, call geo/, store the run and its results.

Each ``run_*`` function reads its inputs (and their versions: ``layer_versions`` of every
table read, the sha256 of every raster), computes with pure ``geo`` functions, then writes the
run, its parameters, inputs, results and result geometries in ONE transaction. If anything
fails, nothing of the results is written; a ``failed`` run with the error is recorded instead
and the error is raised again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import math
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session

import geopandas as gpd
import rasterio

from api.db import models as m
from api.db.engine import transaction
from api.db.store import raster_columns, read_gdf, read_table, rows_from_gdf
from api.settings import Settings
from geo import ecosystems as eco
from geo import funding as fd
from geo import gaps as gp
from geo import habitat as hb
from geo import labels as lb
from geo import loss as ls
from geo import overlap as ov
from geo import ranges as rg
from geo.crs import PROGRAMME_COUNTRIES, STORAGE_EPSG
from geo.errors import InvalidInput, IrbisError, NotFound
from geo.raster import sha256_file
from layers.public import published_threats

log = logging.getLogger("irbis")

#: What the public reads for a run that failed on an unexpected error (the exception text is
#: logged and kept in ``results[ERROR_DETAIL]``, shown to analysts and administrators only).
UNEXPECTED_FAILURE = (
    "The analysis failed on an unexpected error; nothing of its results was stored. "
    "The error was logged: an analyst or administrator can see it on this run."
)
ERROR_DETAIL = "error_detail"

ACTOR = "irbis analyse"
DERIVED_LICENCE = (
    "Derived from public-domain data: GEBCO 2023 Grid (GEBCO terms of use: attribute GEBCO, "
    "not for navigation), USGS/NOAA terrain via Mapzen and pvlib (attribution requested), "
    "Natural Earth; example records as marked"
)
Progress = Callable[[str], None]


@dataclass
class Inputs:
    """What a run read: table versions and raster digests (stored with the run)."""

    tables: dict[str, int] = field(default_factory=dict)
    rasters: dict[str, dict[str, str]] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "rasters": self.rasters,
            "runs": self.runs,
            "files": self.files,
        }


def _versions(session: Session, tables: Iterable[str], inputs: Inputs) -> None:
    rows = session.execute(
        select(m.LayerVersion.table_name, m.LayerVersion.version).where(
            m.LayerVersion.table_name.in_(list(tables))
        )
    )
    for name, version in rows:
        inputs.tables[name] = int(version)
    for t in tables:
        inputs.tables.setdefault(t, 0)


def _raster(session: Session, settings: Settings, name: str, inputs: Inputs) -> Path:
    r = session.scalar(select(m.RasterDataset).where(m.RasterDataset.name == name))
    if r is None:
        raise NotFound(f"no raster named {name!r} is registered (load the demo or import it)")
    path = Path(r.path)
    full = path if path.is_absolute() else settings.data_dir / path
    if not full.is_file():
        raise NotFound(f"raster {name!r} is registered but its file {full} is missing")
    inputs.rasters[name] = {"sha256": r.sha256, "path": str(path)}
    return full


#: Reference files read from the data folder by the ecosystem and habitat models.
KOPPEN_FILE = "climate/kgc_rubel2017_koppen_centralasia.tif"
ARIDITY_FILE = "climate/koppen_beck2018_main_class_1km_centralasia.tif"
LANDCOVER_FILE = "landcover/mcd12c1_2019_igbp_centralasia.tif"
ECOREGIONS_FILE = "ecoregions/resolve2017_centralasia.geojson"
#: Where water comes from, stated with every ecosystem and habitat record: the Aral Sea's shore
#: is that of the land-cover year (no newer water layer is in the data folder).
WATER_SOURCE = "water, the Aral Sea's shore included, from MODIS MCD12C1 land cover of 2019 (0.05°)"


def _data_file(settings: Settings, relpath: str, inputs: Inputs) -> Path:
    """A reference file of the data folder, recorded with its digest in the run's inputs."""
    full = settings.data_dir / relpath
    if not full.is_file():
        raise NotFound(f"the reference file {relpath} is missing from the data folder")
    inputs.files[relpath] = {"sha256": sha256_file(full)}
    return full


def read_ecoregions(settings: Settings, inputs: Inputs) -> gpd.GeoDataFrame:
    """RESOLVE 2017 ecoregions of the region (CC BY 4.0, Dinerstein et al. 2017)."""
    return gpd.read_file(_data_file(settings, ECOREGIONS_FILE, inputs), engine="pyogrio")


#: Free bytes below which a failed raster write is taken for a full disk.
_DISK_FULL_BELOW = 1 << 20


def _write_atomic(final: Path, write: Callable[[Path], object]) -> Path:
    """Have ``write`` write a raster to a temporary file beside ``final``, flush it to disk,
    then rename it to ``final``: a reader never sees half a raster, and a write that fails
    (a full disk) leaves no partial file behind."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{secrets.token_hex(4)}.partial{final.suffix}")
    try:
        try:
            write(tmp)
        except Exception as exc:
            # GDAL reports a full disk only as "write error"; the file system says more
            st = os.statvfs(final.parent)
            unexplained = not isinstance(exc, OSError) or exc.errno is None
            if unexplained and st.f_bavail * st.f_frsize < _DISK_FULL_BELOW:
                raise OSError(errno.ENOSPC, "No space left on device") from exc
            raise
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".aux.xml").unlink(missing_ok=True)
    return final


def _record_failure(
    engine: Engine,
    kind: str,
    parameters: dict[str, Any],
    inputs: Inputs,
    started: dt.datetime,
    error: BaseException,
    actor: str,
    title: str | None,
) -> int:
    detail: dict[str, Any] | None = None
    if isinstance(error, IrbisError):
        msg = error.message  # written for people: safe to publish
    else:
        log.error("%s analysis by %s failed", kind, actor, exc_info=error)
        msg = UNEXPECTED_FAILURE
        detail = {ERROR_DETAIL: f"{type(error).__name__}: {error}"}
    with transaction(engine, actor=actor) as s:
        run = m.AnalysisRun(
            kind=kind,
            title=title,
            status="failed",
            parameters=_jsonable(parameters),
            inputs=inputs.as_json(),
            results=detail,
            error=msg,
            created_by=actor,
            started_at=started,
            finished_at=dt.datetime.now(dt.UTC),
        )
        s.add(run)
        s.flush()
        return run.id


def _jsonable(v: Any) -> Any:
    """JSON-safe values (numpy, NaN, dates, tuples) for JSONB columns."""
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if v is pd.NaT:
        return None
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe records (geometry dropped)."""
    if df is None or df.empty:
        return []
    d = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    return [_jsonable(r) for r in d.to_dict("records")]


def _features(
    session: Session, run_id: int, kind: str, gdf: gpd.GeoDataFrame, props: list[str]
) -> int:
    if gdf is None or gdf.empty:
        return 0
    g = gdf.copy()
    g["properties"] = [_jsonable(r) for r in pd.DataFrame(g[props]).to_dict("records")]
    rows = rows_from_gdf(g, ["properties"], defaults={"run_id": run_id, "kind": kind})
    session.execute(insert(m.AnalysisFeature), rows)
    return len(rows)


def _execute(
    engine: Engine,
    kind: str,
    parameters: dict[str, Any],
    compute: Callable[[Inputs], Any],
    store: Callable[[Session, int, Any], dict[str, Any]],
    *,
    actor: str,
    title: str | None,
) -> int:
    started = dt.datetime.now(dt.UTC)
    inputs = Inputs()
    try:
        computed = compute(inputs)
        with transaction(engine, actor=actor) as s:
            run = m.AnalysisRun(
                kind=kind,
                title=title,
                status="running",
                parameters=_jsonable(parameters),
                inputs={},
                created_by=actor,
                started_at=started,
            )
            s.add(run)
            s.flush()
            results = store(s, run.id, computed)
            run.results = _jsonable(results)
            run.inputs = _jsonable(inputs.as_json())
            run.status = "succeeded"
            run.finished_at = dt.datetime.now(dt.UTC)
            return run.id
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        _record_failure(engine, kind, parameters, inputs, started, exc, actor, title)
        raise


# ------------------------------------------------------------------------------------------
# Layers read from the store
# ------------------------------------------------------------------------------------------


def _read(engine: Engine) -> Session:
    return Session(engine)


def programme_countries(session: Session, inputs: Inputs) -> gpd.GeoDataFrame:
    _versions(session, ["countries"], inputs)
    c = read_table(session, m.Country, [m.Country.iso_a3.in_(PROGRAMME_COUNTRIES)])
    if c.empty:
        raise NotFound("no programme country is loaded (run `irbis load demo` first)")
    return c


def latest_run(session: Session, kind: str) -> int:
    rid = session.scalar(
        select(m.AnalysisRun.id)
        .where(m.AnalysisRun.kind == kind, m.AnalysisRun.status == "succeeded")
        .order_by(m.AnalysisRun.id.desc())
        .limit(1)
    )
    if rid is None:
        raise NotFound(f"no successful {kind} run yet: run `irbis analyse {kind}` first")
    return int(rid)


def read_habitat(session: Session, run_id: int) -> gpd.GeoDataFrame:
    q = (
        "SELECT h.id, s.scientific_name AS species, h.ecosystem, h.iso3, h.area_ha, "
        "ST_AsBinary(h.geom) AS geom FROM habitat h JOIN species s ON s.id = h.species_id "
        "WHERE h.analysis_run_id = :r ORDER BY h.id"
    )
    return read_gdf(session, q, params={"r": run_id})


def read_ecosystems(session: Session, run_id: int) -> gpd.GeoDataFrame:
    q = (
        "SELECT id, kind, iso3, properties->>'eco_class' AS eco_class, ST_AsBinary(geom) AS geom "
        "FROM ecosystems WHERE analysis_run_id = :r ORDER BY id"
    )
    return read_gdf(session, q, params={"r": run_id})


def read_regions(session: Session) -> gpd.GeoDataFrame:
    """Named physical regions (Natural Earth), for range defaults and regional limits."""
    return read_table(session, m.Region)


def read_protected_areas(session: Session) -> gpd.GeoDataFrame:
    return read_table(session, m.ProtectedArea)


def read_field_sites(session: Session) -> gpd.GeoDataFrame:
    """Every field site with its grant's status, dates and species (column ``species``, a list
    of scientific names): the input of the funding rule (:mod:`geo.funding`)."""
    q = (
        "SELECT f.id, f.name, f.method, g.code AS grant_code, g.status AS grant_status, "
        "g.start_date, g.end_date, ARRAY(SELECT s.scientific_name FROM grant_species gs "
        "JOIN species s ON s.id = gs.species_id WHERE gs.grant_id = g.id "
        "ORDER BY s.scientific_name) AS species, ST_AsBinary(f.geom) AS geom "
        "FROM field_sites f JOIN grants g ON g.id = f.grant_id ORDER BY f.id"
    )
    return read_gdf(session, q)


def read_funded_sites(session: Session, as_of: dt.date) -> gpd.GeoDataFrame:
    """Field sites of grants that were funding work on ``as_of`` (:func:`geo.funding.funded_sites`),
    with the scientific names of the grant's species (column ``species``, a list)."""
    return fd.funded_sites(read_field_sites(session), as_of)


#: The threats' columns analyses read (the stored tile geometries are for tiles only).
_THREAT_COLUMNS = tuple(c.name for c in m.Threat.__table__.c if not c.name.startswith("tile_geom"))


def read_threats(session: Session, threat: str | None = None) -> gpd.GeoDataFrame:
    """The threats the public sees, from the registry (:func:`layers.public.published_threats`):
    unpublished ones never enter results that anyone may read."""
    rows = published_threats(*_THREAT_COLUMNS, name="t")
    q = select(*(rows.c[c] for c in _THREAT_COLUMNS))
    if threat:
        q = q.where(rows.c.name == threat)
    t = read_gdf(session, q)
    if threat and t.empty:
        raise NotFound(f"no threat named {threat!r}")
    return t


def _pa_polygons(pas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Protected areas as polygons: points buffered to their reported area (geodesic)."""
    return gp.pa_polygons(pas)


# ------------------------------------------------------------------------------------------
# Ecosystems
# ------------------------------------------------------------------------------------------


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
        "by_country": _jsonable(grid.stats.get("countries", {})),
        "raster": f"ecosystems_run_{run_id}",
        "polygons": n_rows,
    }


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
        with _read(engine) as s:
            countries = programme_countries(s, inputs)
            _versions(s, ["lakes", "glaciers"], inputs)
            lakes = read_table(s, m.Lake)
            glaciers = read_table(s, m.Glacier)
            coarse_path = _raster(s, settings, coarse, inputs)
            fine_path = _raster(s, settings, fine, inputs) if fine else None
        grid = eco.classify_region(
            countries,
            coarse_path,
            fine_dem=fine_path,
            lakes=lakes,
            glaciers=glaciers,
            koppen=_data_file(settings, KOPPEN_FILE, inputs),
            aridity=_data_file(settings, ARIDITY_FILE, inputs),
            landcover=_data_file(settings, LANDCOVER_FILE, inputs),
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
        path = _write_atomic(out_dir / f"ecosystems_run_{run_id}.tif", grid.write)
        written.append(path)
        src, n_rows = _store_ecosystem_polygons(s, run_id, grid, polys)
        _register_output(
            s, path, f"ecosystems_run_{run_id}", "Ecosystems (Kapos et al. 2000)", src, run_id
        )
        return _ecosystem_results(grid, polys, run_id, n_rows)

    try:
        return _execute(engine, "ecosystems", params, compute, store, actor=actor, title=title)
    except BaseException:
        for path in written:  # its run was not committed: no row names this raster
            path.unlink(missing_ok=True)
        raise


def _register_output(
    s: Session, path: Path, name: str, title: str, source: str, run_id: int
) -> None:
    with rasterio.open(path) as r:
        bands = ["class", "dem_source", "elevation_m", "country", "landcover_igbp"][: r.count]
    s.execute(
        insert(m.RasterDataset).values(
            name=name,
            title=title,
            kind="classification",
            path=str(path.resolve()),
            units="class",
            source=source,
            licence=DERIVED_LICENCE,
            method="modelled",
            **raster_columns(
                path,
                analysis_run_id=run_id,
                bands=bands,
                classes={str(k): v for k, v in eco.CLASS_LABELS.items()},
                colormap={str(k): v for k, v in eco.CLASS_COLOURS.items()},
            ),
        )
    )


def ecosystem_grid(
    session: Session, run_id: int, inputs: Inputs | None = None
) -> eco.EcosystemGrid:
    r = session.scalar(
        select(m.RasterDataset).where(m.RasterDataset.name == f"ecosystems_run_{run_id}")
    )
    if r is None or not Path(r.path).is_file():
        raise NotFound(f"the raster of ecosystems run {run_id} is missing; run it again")
    if inputs is not None:
        inputs.rasters[r.name] = {"sha256": r.sha256, "path": r.path}
        inputs.runs["ecosystems"] = run_id
    return eco.EcosystemGrid.read(r.path)


# ------------------------------------------------------------------------------------------
# Habitat
# ------------------------------------------------------------------------------------------


def run_habitat(
    engine: Engine,
    settings: Settings,
    species: Iterable[str] = ("Panthera uncia", "Gazella subgutturosa"),
    *,
    ecosystems_run: int | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    actor: str = ACTOR,
    progress: Progress | None = None,
    title: str | None = None,
) -> int:
    """Model the Area of Habitat of each species on an ecosystems run and store it."""
    species = list(species)
    overrides = dict(overrides or {})
    params_by_sp = {
        sp: hb.default_params(sp).with_changes(**dict(overrides.get(sp, {}))) for sp in species
    }
    parameters = {
        "species": {sp: p.to_json() for sp, p in params_by_sp.items()},
        "ecosystems_run": ecosystems_run,
    }

    def compute(inputs: Inputs) -> dict[str, tuple[int, str, gpd.GeoDataFrame]]:
        out = {}
        with _read(engine) as s:
            run = ecosystems_run or latest_run(s, "ecosystems")
            parameters["ecosystems_run"] = run
            grid = ecosystem_grid(s, run, inputs)
            countries = programme_countries(s, inputs)
            _versions(s, ["regions", "species", "species_ranges"], inputs)
            regions = read_table(s, m.Region)
            parts = rg.part_polygons(
                tuple(q for qs in rg.RANGES.values() for q in qs),
                read_ecoregions(settings, inputs),
                regions,
            )
            for sp, p in params_by_sp.items():
                sid = s.scalar(select(m.Species.id).where(m.Species.scientific_name == sp))
                if sid is None:
                    raise NotFound(f"species {sp!r} is not loaded")
                rng = read_table(
                    s,
                    m.SpeciesRange,
                    [m.SpeciesRange.species_id == sid, m.SpeciesRange.presence.in_([1, 2, 3])],
                )
                range_source = "imported species range" if not rng.empty else "default range"
                if rng.empty:
                    rng = hb.default_range(p, countries, regions, parts=parts)
                h = hb.model_habitat(grid, p, rng, parts)
                out[sp] = (int(sid), range_source, h)
                if progress:
                    progress(f"habitat of {sp}")
        return out

    def store(s: Session, run_id: int, computed: Any) -> dict[str, Any]:
        summary = []
        for sp, (sid, range_source, h) in computed.items():
            p = params_by_sp[sp].to_json() | {"range": range_source}
            if h.empty:
                summary.append({"species": sp, "range": range_source, "area_ha": 0.0})
                continue
            rows = rows_from_gdf(
                h,
                ["ecosystem", "iso3", "area_ha"],
                defaults={
                    "species_id": sid,
                    "analysis_run_id": run_id,
                    "params": _jsonable(p),
                    "source": f"Irbis analysis run {run_id}: Area of Habitat (Brooks et al. "
                    f"2019); {WATER_SOURCE}",
                    "licence": DERIVED_LICENCE,
                    "method": "modelled",
                },
            )
            s.execute(insert(m.Habitat), rows)
            summary.extend(records(hb.habitat_summary(h).assign(range=range_source)))
        return {"habitat": summary}

    return _execute(engine, "habitat", parameters, compute, store, actor=actor, title=title)


# ------------------------------------------------------------------------------------------
# Overlap, gaps, loss
# ------------------------------------------------------------------------------------------

OVERLAP_LAYERS = ("protected_areas", "field_sites", "threats", "countries", "habitat", "ecosystems")


def _columns(gdf: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """``columns`` (all when empty) and the geometry, named ``geometry`` whatever the
    store called it (tables read from PostGIS call it ``geom``)."""
    geom = gdf.geometry.name
    keep = columns or [c for c in gdf.columns if c != geom]
    out = gdf[[*keep, geom]]
    return out.rename_geometry("geometry") if geom != "geometry" else out


def read_layer(
    session: Session, name: str, inputs: Inputs, as_of: dt.date | None = None
) -> gpd.GeoDataFrame:
    """A named store layer as polygons (for overlaps): see :data:`OVERLAP_LAYERS`. Field
    sites are those funded on ``as_of`` (default today; :mod:`geo.funding`)."""
    if name == "protected_areas":
        _versions(session, ["protected_areas"], inputs)
        return _columns(_pa_polygons(read_protected_areas(session)), ["id", "name", "status"])
    if name == "field_sites":
        _versions(session, ["field_sites", "grants"], inputs)
        sites = read_funded_sites(session, as_of or dt.date.today())
        return _columns(sites, ["id", "name", "grant_code", "method"])
    if name == "threats":
        _versions(session, ["threats"], inputs)
        return _columns(read_threats(session), ["id", "name", "kind", "status"])
    if name == "countries":
        c = programme_countries(session, inputs)
        return _columns(c, ["iso_a3", "name"]).rename(columns={"iso_a3": "id"})
    if name == "habitat":
        run = latest_run(session, "habitat")
        inputs.runs["habitat"] = run
        return _columns(read_habitat(session, run), [])
    if name == "ecosystems":
        run = latest_run(session, "ecosystems")
        inputs.runs["ecosystems"] = run
        return _columns(read_ecosystems(session, run), [])
    raise InvalidInput(f"unknown layer {name!r}; choose from {', '.join(OVERLAP_LAYERS)}")


def run_overlap(
    engine: Engine,
    settings: Settings,
    layers: list[str],
    *,
    as_of: dt.date | None = None,
    actor: str = ACTOR,
    title: str | None = None,
) -> int:
    """Overlap two or more store layers and store the pieces with areas and shares. The
    field-site layer holds the sites funded on ``as_of`` (default today, stored with the
    run; :mod:`geo.funding`)."""
    if len(layers) < 2:
        raise InvalidInput("an overlap needs two or more layers")
    if len(set(layers)) != len(layers):
        raise InvalidInput("name each layer once")
    day = as_of or dt.date.today()
    parameters: dict[str, Any] = {"layers": layers, "as_of": day.isoformat()}
    if "field_sites" in layers:
        parameters["funded"] = fd.RULE

    def compute(inputs: Inputs) -> gpd.GeoDataFrame:
        with _read(engine) as s:
            data = {n: read_layer(s, n, inputs, day) for n in layers}
        return ov.overlap(data, id_cols=dict.fromkeys(layers, "id"))

    def store(s: Session, run_id: int, res: gpd.GeoDataFrame) -> dict[str, Any]:
        props = [c for c in res.columns if c != "geometry"]
        n = _features(s, run_id, "overlap", res, props)
        return {
            "pieces": n,
            "total_ha": float(res["area_ha"].sum()) if n else 0.0,
            "table": records(ov.overlap_table(res)) if n else [],
        }

    return _execute(engine, "overlap", parameters, compute, store, actor=actor, title=title)


def run_gaps(
    engine: Engine,
    settings: Settings,
    *,
    habitat_run: int | None = None,
    min_gap_ha: float = 1.0,
    as_of: dt.date | None = None,
    actor: str = ACTOR,
    progress: Progress | None = None,
    title: str | None = None,
) -> int:
    """Coverage gaps per species × ecosystem × country, with the ranked gap layer.

    "Funded" counts only the field sites of grants under way on ``as_of`` (default: today;
    stored with the run) whose species include the row's species. Each row and gap piece
    carries the ``method`` of its weakest input (:func:`geo.labels.derived_method`) and the
    ``example_inputs`` (example protected areas, field sites, threats) it rests on."""
    day = as_of or dt.date.today()
    parameters: dict[str, Any] = {
        "habitat_run": habitat_run,
        "min_gap_ha": min_gap_ha,
        "as_of": day.isoformat(),
        "protected": "Protected Planet rules (geo.protected_planet): Proposed, Not Reported "
        "and UNESCO-MAB Biosphere Reserves left out, points buffered to reported area, "
        "overlaps dissolved, areas equal-area",
        "funded": fd.RULE,
    }

    def compute(inputs: Inputs) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
        with _read(engine) as s:
            run = habitat_run or latest_run(s, "habitat")
            parameters["habitat_run"] = run
            inputs.runs["habitat"] = run
            _versions(s, ["protected_areas", "field_sites", "grants", "threats"], inputs)
            hab = read_habitat(s, run)
            pas = read_protected_areas(s)
            sites = read_funded_sites(s, day)
            threats = read_threats(s)
        if progress:
            progress("layers read")
        tables, pieces = [], []
        for sp, h in hab.groupby("species", sort=True):
            own = fd.funded_sites(sites, day, species=str(sp))
            t, g = gp.coverage_gaps(h, pas, own, threats, min_gap_ha=min_gap_ha)
            labels = _row_labels(h, pas, own, threats)
            tables.append(t.merge(labels, on=GAP_KEYS, how="left"))
            pieces.append(g.merge(labels, on=GAP_KEYS, how="left"))
        if not tables:
            return gp.coverage_gaps(hab, pas, None, threats, min_gap_ha=min_gap_ha)
        table = pd.concat(tables, ignore_index=True)
        gaps = gpd.GeoDataFrame(pd.concat(pieces, ignore_index=True), crs=STORAGE_EPSG)
        gaps = gaps.sort_values("area_ha", ascending=False, kind="stable")
        gaps["rank"] = np.arange(1, len(gaps) + 1)
        return table, gaps.reset_index(drop=True)

    def store(s: Session, run_id: int, computed: Any) -> dict[str, Any]:
        table, gaps = computed
        cols = ["rank", "species", "ecosystem", "iso3", "area_ha", "method", "example_inputs"]
        n = _features(s, run_id, "gap", gaps, [c for c in cols if c in gaps.columns])
        sbs = table.groupby(["species", "ecosystem"], as_index=False)[
            ["habitat_ha", "protected_ha", "funded_ha", "threatened_ha", "gap_ha"]
        ].sum()
        for k in ("protected", "funded", "threatened", "gap"):
            sbs[f"share_{k}"] = sbs[f"{k}_ha"] / sbs["habitat_ha"]
        return {
            "table": records(table),
            "by_ecosystem": records(sbs),
            "gap_pieces": n,
            "largest_gaps": records(gaps.drop(columns="geometry").head(10)),
        }

    return _execute(engine, "gaps", parameters, compute, store, actor=actor, title=title)


GAP_KEYS = ["species", "ecosystem", "iso3"]


def _row_labels(
    habitat: gpd.GeoDataFrame,
    pas: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    threats: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Per habitat row: the weakest method of the inputs that touch it and the names of the
    example inputs among them."""
    h = habitat.to_crs(STORAGE_EPSG)
    h = h.dissolve(by=GAP_KEYS, as_index=False)
    if h.geometry.name != "geometry":
        h = h.rename_geometry("geometry")
    layers = {
        "protected area": _pa_polygons(pas) if not pas.empty else pas,
        "field site": sites,
        "threat": threats,
    }
    rows = []
    for r in h.itertuples():
        methods, examples = [], []
        for what, layer in layers.items():
            if layer is None or layer.empty:
                continue
            lyr = layer.to_crs(STORAGE_EPSG)
            hit = lyr[lyr.geometry.intersects(r.geometry)]
            for name, method in zip(hit["name"], hit["method"], strict=True):
                methods.append(str(method))
                if method == "example":
                    examples.append(f"{what}: {name}")
        rows.append(
            {
                "species": r.species,
                "ecosystem": r.ecosystem,
                "iso3": r.iso3,
                "method": lb.derived_method(methods),
                "example_inputs": sorted(set(examples)),
            }
        )
    return pd.DataFrame(rows, columns=[*GAP_KEYS, "method", "example_inputs"])


def _loss_layers(
    s: Session, inputs: Inputs, extra: Mapping[str, gpd.GeoDataFrame]
) -> dict[str, gpd.GeoDataFrame]:
    """The layers measured inside threat footprints: parks, habitat, ecosystems and extras."""
    layers: dict[str, gpd.GeoDataFrame] = {
        "protected_area": _pa_polygons(read_protected_areas(s))[["id", "name", "geometry"]]
    }
    for kind in ("habitat", "ecosystems"):
        with contextlib.suppress(NotFound):
            layers[kind] = read_layer(s, kind, inputs)
    for name, layer in extra.items():
        if name in layers:
            raise InvalidInput(f"layer name {name!r} is taken; choose another")
        layers[name] = layer
    return layers


def _reported_figures(threats: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Areas the threats' own sources report (``*_ha`` properties): quoted, not measured."""
    return [
        {
            "threat_id": t_id,
            "name": name,
            "figure": k,
            "value": v,
            "note": "reported by the threat's sources, not measured",
        }
        for t_id, name, props in zip(
            threats["id"], threats["name"], threats["properties"], strict=True
        )
        for k, v in (props or {}).items()
        if k.endswith("_ha") and isinstance(v, int | float)
    ]


def run_loss(
    engine: Engine,
    settings: Settings,
    *,
    threat: str | None = None,
    epochs: Mapping[str, str] | None = None,
    habitat_values: tuple[int, ...] = (1,),
    extra_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    as_of: dt.date | None = None,
    actor: str = ACTOR,
    title: str | None = None,
) -> int:
    """Habitat, park and ecosystem area inside threats (by status and date), and, given raster
    epochs (label -> registered raster name), habitat change per protected area, field site
    and country.

    ``extra_layers`` adds polygon layers measured inside the footprints (e.g. a forest cover
    layer as ``{"forest": gdf}``). Areas the threat's own sources report (properties ending in
    ``_ha``, such as the 27 ha of spruce forest to be cut at Kok-Jailau) are listed apart as
    ``reported``: they are quoted, not measured. The field-site zones of a raster series are
    the sites funded on ``as_of`` (default today, stored with the run; :mod:`geo.funding`)."""
    epochs = dict(epochs or {})
    day = as_of or dt.date.today()
    parameters = {
        "threat": threat,
        "epochs": epochs,
        "habitat_values": list(habitat_values),
        "extra_layers": sorted(extra_layers or {}),
        "as_of": day.isoformat(),
        "funded": fd.RULE,
    }

    def compute(inputs: Inputs) -> tuple[Any, ...]:
        with _read(engine) as s:
            tables = [
                "threats",
                "threat_status_changes",
                "protected_areas",
                "field_sites",
                "grants",
            ]
            _versions(s, tables, inputs)
            threats = read_threats(s, threat)
            layers = _loss_layers(s, inputs, extra_layers or {})
            sc = pd.read_sql(
                select(
                    m.ThreatStatusChange.threat_id,
                    m.ThreatStatusChange.status,
                    m.ThreatStatusChange.changed_on,
                ),
                s.connection(),
            )
            paths = {label: _raster(s, settings, name, inputs) for label, name in epochs.items()}
            zones = None
            if paths:
                zones = ls.zones_from(
                    {
                        "protected_area": _pa_polygons(read_protected_areas(s)),
                        "field_site": read_funded_sites(s, day),
                        "country": programme_countries(s, inputs)
                        .rename(columns={"iso_a3": "iso"})
                        .assign(id=lambda d: d["iso"]),
                    }
                )
        loss = ls.footprint_loss(threats, layers)
        timeline = ls.loss_timeline(loss, sc)
        series = (
            ls.raster_change(paths, zones, "zone", habitat_values=habitat_values)
            if paths and zones is not None
            else pd.DataFrame()
        )
        if not series.empty and zones is not None:
            series = series.merge(pd.DataFrame(zones.drop(columns="geometry")), on="zone")
        reported = _reported_figures(threats)
        return loss, timeline, series, reported

    def store(s: Session, run_id: int, computed: Any) -> dict[str, Any]:
        loss, timeline, series, reported = computed
        props = [c for c in loss.columns if c != "geometry"]
        n = _features(s, run_id, "loss", loss, props)
        return {
            "footprint": records(loss),
            "timeline": records(timeline),
            "raster_series": records(series),
            "reported": _jsonable(reported),
            "pieces": n,
        }

    return _execute(engine, "loss", parameters, compute, store, actor=actor, title=title)


def register_habitat_scenario(
    engine: Engine,
    settings: Settings,
    *,
    species: str = "Panthera uncia",
    threat: str = "Kok-Jailau ski resort (planned)",
    actor: str = ACTOR,
) -> dict[str, str]:
    """Register two habitat rasters of ``species`` for a loss series: the habitat of the
    latest habitat run (epoch ``current``) and the same with the threat's footprint cleared
    (epoch ``if_built``, a scenario, not an observation). Returns ``{epoch: raster name}``."""
    with _read(engine) as s:
        hrun = latest_run(s, "habitat")
        run = get_run(s, hrun)
        grid = ecosystem_grid(s, int(run.parameters["ecosystems_run"]))
        p = run.parameters["species"].get(species)
        if p is None:
            raise NotFound(f"habitat run {hrun} has no {species!r}")
        params = hb.default_params(species).with_changes(
            **{k: v for k, v in p.items() if k in hb.HabitatParams.__dataclass_fields__}
        )
        countries = programme_countries(s, Inputs())
        regions = read_table(s, m.Region)
        parts = rg.part_polygons(
            tuple(q for qs in rg.RANGES.values() for q in qs),
            read_ecoregions(settings, Inputs()),
            regions,
        )
        rng = read_table(s, m.SpeciesRange, [m.SpeciesRange.species.has(scientific_name=species)])
        if rng.empty:
            rng = hb.default_range(params, countries, regions, parts=parts)
        footprint = read_threats(s, threat)
    out = settings.var_dir / "analyses"
    slug = species.lower().replace(" ", "_")
    finals = (
        out / f"habitat_{slug}_run_{hrun}.tif",
        out / f"habitat_{slug}_run_{hrun}_if_built.tif",
    )
    new = [p for p in finals if not p.exists()]
    try:
        before = _write_atomic(finals[0], lambda p: hb.habitat_raster(grid, params, rng, p, parts))
        after = _write_atomic(finals[1], lambda p: ls.clear_footprints(before, footprint, p))
        names = _register_habitat(engine, species, hrun, threat, before, after, actor)
    except BaseException:
        for path in new:  # written here and not registered: remove again
            path.unlink(missing_ok=True)
        raise
    return names


def _register_habitat(
    engine: Engine,
    species: str,
    hrun: int,
    threat: str,
    before: Path,
    after: Path,
    actor: str,
) -> dict[str, str]:
    slug = species.lower().replace(" ", "_")
    names = {
        "current": f"habitat_{slug}_run_{hrun}",
        "if_built": f"habitat_{slug}_run_{hrun}_if_built",
    }
    with transaction(engine, actor=actor) as s:
        for epoch, path in (("current", before), ("if_built", after)):
            name = names[epoch]
            s.execute(delete(m.RasterDataset).where(m.RasterDataset.name == name))
            s.execute(
                insert(m.RasterDataset).values(
                    name=name,
                    title=f"Habitat of {species} ({epoch.replace('_', ' ')})",
                    kind="habitat",
                    path=str(path.resolve()),
                    units="1 = habitat",
                    epoch=epoch,
                    source=f"Irbis habitat run {hrun}"
                    + (f"; scenario: footprint of {threat} cleared" if epoch == "if_built" else ""),
                    licence=DERIVED_LICENCE,
                    method="modelled",
                    **raster_columns(
                        path,
                        analysis_run_id=hrun,
                        scenario=epoch == "if_built",
                        colormap={"1": "#8e24aa"},
                    ),
                )
            )
    return names


# ------------------------------------------------------------------------------------------
# Reading runs back
# ------------------------------------------------------------------------------------------


def run_summary(run: m.AnalysisRun, *, full: bool = False, staff: bool = False) -> dict[str, Any]:
    """A run as JSON. Who ran it, and the text of an unexpected error, only for ``staff``
    (analysts and administrators): the public sees that a run failed, not why inside."""
    d: dict[str, Any] = {
        "id": run.id,
        "kind": run.kind,
        "title": run.title,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "links": [{"rel": "self", "href": f"/analyses/{run.id}"}],
    }
    if staff:
        d["created_by"] = run.created_by
        d["error_detail"] = error_detail(run)
    if full:
        d |= {"parameters": run.parameters, "inputs": run.inputs, "results": public_results(run)}
    return d


def error_detail(run: m.AnalysisRun) -> str | None:
    """The exception text of a run that failed unexpectedly (for analysts and admins)."""
    return (run.results or {}).get(ERROR_DETAIL) if run.status == "failed" else None


def public_results(run: m.AnalysisRun) -> dict[str, Any] | None:
    """The results of a run, without the exception text of a failed one."""
    if run.status == "failed":
        return None
    return run.results


def list_runs(session: Session, kind: str | None = None, limit: int = 100) -> list[m.AnalysisRun]:
    q = select(m.AnalysisRun).order_by(m.AnalysisRun.id.desc()).limit(limit)
    if kind:
        q = q.where(m.AnalysisRun.kind == kind)
    return list(session.scalars(q))


def get_run(session: Session, run_id: int) -> m.AnalysisRun:
    run = session.get(m.AnalysisRun, run_id)
    if run is None:
        raise NotFound(f"no analysis run {run_id}")
    return run


def run_features(
    session: Session, run: m.AnalysisRun, kind: str | None = None, *, simplify: float = 0.0
) -> dict[str, Any]:
    """The run's result geometries as a GeoJSON FeatureCollection (habitat/ecosystem rows for
    those kinds); ``simplify`` (degrees) simplifies them for a map, 0 keeps them exact."""
    if run.kind == "habitat":
        q = text(
            "SELECT h.id, s.scientific_name AS species, h.ecosystem, h.iso3, h.area_ha, "
            "ST_AsGeoJSON(CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(h.geom, :tol) ELSE h.geom END, 6)::json AS g FROM habitat h JOIN species s "
            "ON s.id = h.species_id WHERE h.analysis_run_id = :r ORDER BY h.id"
        )
    elif run.kind == "ecosystems":
        q = text(
            "SELECT id, kind, iso3, properties, ST_AsGeoJSON(CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(geom, :tol) ELSE geom END, 6)::json AS g "
            "FROM ecosystems WHERE analysis_run_id = :r ORDER BY id"
        )
    else:
        q = text(
            "SELECT id, kind, properties, ST_AsGeoJSON(CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(geom, :tol) ELSE geom END, 6)::json AS g "
            "FROM analysis_features WHERE run_id = :r"
            + (" AND kind = :k" if kind else "")
            + " ORDER BY id"
        )
    feats = []
    for row in session.execute(q, {"r": run.id, "k": kind, "tol": float(simplify)}).mappings():
        props = {k: v for k, v in row.items() if k not in ("g", "properties")}
        props |= row.get("properties") or {}
        feats.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": row["g"],
                "properties": _jsonable(props),
            }
        )
    return {"type": "FeatureCollection", "features": feats, "run": run.id}


def run_table(run: m.AnalysisRun) -> pd.DataFrame:
    """The run's main result table."""
    r = run.results or {}
    key = {
        "ecosystems": "areas",
        "habitat": "habitat",
        "overlap": "table",
        "gaps": "table",
        "loss": "footprint",
    }.get(run.kind, "")
    df = pd.DataFrame(r.get(key, []))
    return df[ordered_columns(list(df.columns))] if not df.empty else df


_LEADING = (
    "zone",
    "zone_type",
    "zone_name",
    "epoch",
    "threat_id",
    "name",
    "status",
    "changed_on",
    "layer",
    "feature_id",
    "feature_label",
    "species",
    "ecosystem",
    "kind",
    "eco_class",
    "label",
    "iso3",
    "rank",
    "area_ha",
    "habitat_ha",
)


def ordered_columns(cols: list[str]) -> list[str]:
    """Result columns in a readable order (JSONB does not keep the order of keys)."""
    lead = [c for c in _LEADING if c in cols]
    return lead + sorted(c for c in cols if c not in lead)


def count_runs(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(m.AnalysisRun)) or 0)


__all__ = [
    "run_ecosystems",
    "run_gaps",
    "run_habitat",
    "run_loss",
    "run_overlap",
]

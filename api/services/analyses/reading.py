"""What analyses read: store layers, reference files, earlier runs (recorded in the inputs).

Every reader records what it read in the run's :class:`~api.services.analyses.recorder.Inputs`
(table versions, file digests, the runs it built on). The queries are built in
:mod:`layers.analyses`; the public's threats come from the registry
(:func:`layers.public.published_threats`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import geopandas as gpd

from api.db import models as m
from api.db.store import read_gdf, read_table
from api.services.analyses.recorder import Inputs, data_file, record_versions
from api.settings import Settings
from geo import ecosystems as eco
from geo import funding as fd
from geo import gaps as gp
from geo.crs import PROGRAMME_COUNTRIES
from geo.errors import InvalidInput, NotFound
from geo.messages import en
from layers import analyses as la
from layers.public import published_threats

#: Reference files read from the data folder by the ecosystem and habitat models.
KOPPEN_FILE = "climate/kgc_rubel2017_koppen_centralasia.tif"
ARIDITY_FILE = "climate/koppen_beck2018_main_class_1km_centralasia.tif"
LANDCOVER_FILE = "landcover/mcd12c1_2019_igbp_centralasia.tif"
ECOREGIONS_FILE = "ecoregions/resolve2017_centralasia.geojson"
#: Where water comes from, stated with every ecosystem and habitat record: the Aral Sea's shore
#: is that of the land-cover year (no newer water layer is in the data folder).
WATER_SOURCE = "water, the Aral Sea's shore included, from MODIS MCD12C1 land cover of 2019 (0.05°)"

OVERLAP_LAYERS = ("protected_areas", "field_sites", "threats", "countries", "habitat", "ecosystems")


def reader(engine: Engine) -> Session:
    """A session to read a run's inputs with (outside the run's write transaction)."""
    return Session(engine)


def read_ecoregions(settings: Settings, inputs: Inputs) -> gpd.GeoDataFrame:
    """RESOLVE 2017 ecoregions of the region (CC BY 4.0, Dinerstein et al. 2017)."""
    return gpd.read_file(data_file(settings, ECOREGIONS_FILE, inputs), engine="pyogrio")


def programme_countries(session: Session, inputs: Inputs) -> gpd.GeoDataFrame:
    record_versions(session, ["countries"], inputs)
    c = read_table(session, m.Country, [m.Country.iso_a3.in_(PROGRAMME_COUNTRIES)])
    if c.empty:
        raise NotFound(en("no programme country is loaded (run `irbis load demo` first)"))
    return c


def latest_run(session: Session, kind: str) -> int:
    rid = session.scalar(
        select(m.AnalysisRun.id)
        .where(m.AnalysisRun.kind == kind, m.AnalysisRun.status == "succeeded")
        .order_by(m.AnalysisRun.id.desc())
        .limit(1)
    )
    if rid is None:
        raise NotFound(
            en("no successful {kind} run yet: run `irbis analyse {kind}` first", kind=kind)
        )
    return int(rid)


def read_habitat(session: Session, run_id: int) -> gpd.GeoDataFrame:
    """The habitat pieces of habitat run ``run_id``, with their species' scientific name."""
    return read_gdf(session, la.habitat_of_run(run_id))


def read_ecosystems(session: Session, run_id: int) -> gpd.GeoDataFrame:
    """The ecosystem polygons of ecosystems run ``run_id``."""
    return read_gdf(session, la.ecosystems_of_run(run_id))


def read_regions(session: Session) -> gpd.GeoDataFrame:
    """Named physical regions (Natural Earth), for range defaults and regional limits."""
    return read_table(session, m.Region)


def read_protected_areas(session: Session) -> gpd.GeoDataFrame:
    return read_table(session, m.ProtectedArea)


def read_field_sites(session: Session) -> gpd.GeoDataFrame:
    """Every field site with its grant's status, dates and species (column ``species``, a list
    of scientific names): the input of the funding rule (:mod:`geo.funding`)."""
    return read_gdf(session, la.field_sites_with_grants())


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
        raise NotFound(en("no threat named {threat}", threat=repr(threat)))
    return t


def pa_polygons(pas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Protected areas as polygons: points buffered to their reported area (geodesic)."""
    return gp.pa_polygons(pas)


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
        record_versions(session, ["protected_areas"], inputs)
        return _columns(pa_polygons(read_protected_areas(session)), ["id", "name", "status"])
    if name == "field_sites":
        record_versions(session, ["field_sites", "grants"], inputs)
        sites = read_funded_sites(session, as_of or dt.date.today())
        return _columns(sites, ["id", "name", "grant_code", "method"])
    if name == "threats":
        record_versions(session, ["threats"], inputs)
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
    raise InvalidInput(
        en(
            "unknown layer {name}; choose from {layers}",
            name=repr(name),
            layers=", ".join(OVERLAP_LAYERS),
        )
    )


def ecosystem_grid(
    session: Session, run_id: int, inputs: Inputs | None = None
) -> eco.EcosystemGrid:
    """The classified grid of ecosystems run ``run_id`` (its registered raster)."""
    r = session.scalar(
        select(m.RasterDataset).where(m.RasterDataset.name == f"ecosystems_run_{run_id}")
    )
    if r is None or not Path(r.path).is_file():
        raise NotFound(
            en("the raster of ecosystems run {run} is missing; run it again", run=run_id)
        )
    if inputs is not None:
        inputs.rasters[r.name] = {"sha256": r.sha256, "path": r.path}
        inputs.runs["ecosystems"] = run_id
    return eco.EcosystemGrid.read(r.path)

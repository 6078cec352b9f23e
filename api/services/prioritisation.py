"""Prioritisation on the stored layers: planning grids, scenarios and their results.

The store side of ``geo.planning_units`` and ``geo.prioritisation``: it reads the layers from
PostGIS, calls the pure functions, and writes grids and scenarios as records (parameters, the
versions of the inputs from ``layer_versions``, results, solver figures, times). Each grid and
each scenario is written in one transaction: all of it or nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine, Executable, func, insert, select, update
from sqlalchemy.orm import Session

import shapely
from geoalchemy2.shape import from_shape

from api.db import models as m
from api.db.engine import transaction
from api.services.background import (
    ACTIVE_SCENARIO,
    STOPPED,
    RunStopped,
    beating,
    grid_building,
)
from geo import labels as lb
from geo.crs import PROGRAMME_COUNTRIES, STORAGE_EPSG
from geo.errors import Conflict, Infeasible, InvalidInput, IrbisError, NotFound
from geo.lazy import lazy_module
from geo.messages import Message, en, joined
from geo.text import printable_lines
from layers.public import published_threats

if TYPE_CHECKING:
    import pandas as pd

    import geopandas as gpd

    from api.db import store
    from api.services import analyses as an
    from geo import ecosystems, funding, habitat, protected_planet, ranges
    from geo import planning_units as pu
    from geo import prioritisation as pr
    from layers import prioritisation as queries
else:  # pandas, geopandas, scipy, rasterio, HiGHS, folium: not on the start path (geo.lazy)
    gpd = lazy_module("geopandas")
    pd = lazy_module("pandas")
    store = lazy_module("api.db.store")
    an = lazy_module("api.services.analyses")
    ecosystems = lazy_module("geo.ecosystems")
    funding = lazy_module("geo.funding")
    habitat = lazy_module("geo.habitat")
    protected_planet = lazy_module("geo.protected_planet")
    ranges = lazy_module("geo.ranges")
    pu = lazy_module("geo.planning_units")
    pr = lazy_module("geo.prioritisation")
    queries = lazy_module("layers.prioritisation")

Progress = Callable[[str], None]
log = logging.getLogger(__name__)

#: The steps of building a grid and of solving a scenario, in order: the messages given to
#: ``progress`` (pages show them translated, see api/routers/prioritisation.py).
GRID_STEPS = (
    "Reading the layers",
    "Reading the habitat",
    "Laying out the hexagons",
    "Measuring habitat, protection, threats and costs in each unit",
    "Storing the units and naming them by place",
)
SCENARIO_STEPS = (
    "Reading the grid",
    "Solving the plan exactly (HiGHS)",
    "Greedy baseline",
    "Perturbed plans (how often each unit is chosen)",
    "Replacement cost of the top units",
    "Storing the plan",
)

#: Layers a grid is computed from; their versions are recorded with the grid.
GRID_INPUT_TABLES = (
    "countries",
    "protected_areas",
    "threats",
    "field_sites",
    "grants",
    "places",
    "species_ranges",
    "ecosystems",
    "regions",
)
#: The coarsest and finest H3 resolutions a stored grid may use.
MIN_RESOLUTION, MAX_RESOLUTION = 2, 7


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

#: Largest id the database stores (INTEGER).
MAX_ID = 2**31 - 1


_printable = printable_lines


def _printable_all(values: list[str]) -> list[str]:
    return [_printable(v) for v in values]


class CostParams(BaseModel):
    """The cost of a unit (see :class:`geo.planning_units.CostModel`)."""

    model_config = ConfigDict(extra="forbid")

    base: Literal["area", "uniform"] = "area"
    threat_weight: float = Field(0.0, ge=0, le=100)
    town_weight: float = Field(0.0, ge=0, le=100)
    town_scale_km: float = Field(25.0, gt=0, le=1000)
    road_weight: float = Field(0.0, ge=0, le=100)
    road_scale_km: float = Field(10.0, gt=0, le=1000)

    def model(self) -> pu.CostModel:
        return pu.CostModel(**self.model_dump())


class GridParams(BaseModel):
    """How to build a planning grid."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    resolution: int = Field(4, ge=MIN_RESOLUTION, le=MAX_RESOLUTION)
    countries: list[str] = Field(default_factory=lambda: list(PROGRAMME_COUNTRIES))
    by_country: bool = True
    threat_buffer_km: float = Field(2.0, ge=0, le=100)
    cost: CostParams = Field(default_factory=lambda: CostParams())
    habitat: Literal["auto", "analysis", "stored", "modelled", "regions"] = Field(
        "auto",
        description=(
            "Where habitat comes from: the latest habitat analysis run (the figures of "
            "/analyses), stored ranges × ecosystems, the Area of Habitat model on the coarse "
            "DEM, or the named-regions proxy; 'auto' takes the first available."
        ),
    )
    fine_dem: bool = Field(False, description="Model habitat with the 15″ DEM where it reaches.")
    min_feature_km2: float = Field(
        10.0,
        ge=0,
        description="Features with less habitat than this in the grid are left out (slivers).",
    )
    as_of: dt.date | None = Field(
        None,
        description="Grant share counts the field sites of grants under way on this date "
        "(geo.funding); default: the day the grid is built, stored with the grid.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else _printable(v)

    @field_validator("countries")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        codes = [c.strip().upper() for c in v if c.strip()]
        if not codes:
            raise ValueError(en("name at least one country (ISO 3166 alpha-3)"))
        bad = [c for c in codes if not re.fullmatch(r"[A-Z]{3}", c)]
        if bad:
            raise ValueError(en("not ISO 3166 alpha-3 codes: {codes}", codes=", ".join(bad)))
        return sorted(set(codes))


class ScenarioParams(BaseModel):
    """What to solve on a grid."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    grid_id: int = Field(..., ge=1, le=MAX_ID)
    objective: Literal["min_set", "max_coverage"] = "min_set"
    target: float = Field(0.3, ge=0, le=1, description="Share of each feature to reach.")
    targets: dict[str, float] = Field(
        default_factory=dict,
        description="Shares for some features, by name or by prefix (e.g. 'Panthera uncia').",
    )
    features: list[str] | None = Field(None, description="Only these features (or prefixes).")
    budget: float | None = Field(None, ge=0, description="Total cost allowed (max coverage).")
    budget_share: float | None = Field(
        None, gt=0, le=1, description="Budget as a share of the grid's total cost."
    )
    boundary_penalty: float = Field(
        0.0, ge=0, le=1e6, description="Cost per km of the plan's outline (compactness)."
    )
    lock_in_protected: float | None = Field(
        0.5, ge=0, le=1, description="Lock in units at least this share protected (null: none)."
    )
    lock_out_threats: list[str] = Field(default_factory=list, description="Threat names.")
    lock_in_units: list[str] = Field(default_factory=list, description="H3 indexes.")
    lock_out_units: list[str] = Field(default_factory=list, description="H3 indexes.")
    gap: float = Field(0.01, ge=0, le=1, description="Relative optimality gap.")
    time_limit_s: float = Field(60.0, gt=0, le=600)
    portfolio_runs: int = Field(5, ge=0, le=50)
    replacement_units: int = Field(
        5,
        ge=0,
        le=50,
        description="Replacement cost (re-solve without the unit) for this many top units.",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _printable(v)

    @field_validator("lock_out_threats", "lock_in_units", "lock_out_units")
    @classmethod
    def _texts(cls, v: list[str]) -> list[str]:
        return _printable_all(v)

    @field_validator("features")
    @classmethod
    def _features(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _printable_all(v)

    @field_validator("targets")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        _printable_all(list(v))
        bad = [k for k, s in v.items() if not 0 <= s <= 1]
        if bad:
            raise ValueError(
                en("target shares must be between 0 and 1: {features}", features=", ".join(bad))
            )
        return v

    @model_validator(mode="after")
    def _budget(self) -> ScenarioParams:
        if self.objective == "max_coverage" and self.budget is None and self.budget_share is None:
            raise ValueError(en("maximum coverage needs a budget or a budget_share"))
        return self


# --------------------------------------------------------------------------------------------
# Reading inputs
# --------------------------------------------------------------------------------------------


def layer_versions(session: Session, tables: Sequence[str]) -> dict[str, int]:
    """The current data version of each table (0 if never written)."""
    rows = session.execute(
        select(m.LayerVersion.table_name, m.LayerVersion.version).where(
            m.LayerVersion.table_name.in_(list(tables))
        )
    ).all()
    found = {t: int(v) for t, v in rows}
    return {t: found.get(t, 0) for t in tables}


def _layer(session: Session, query: Executable) -> gpd.GeoDataFrame:
    return store.read_gdf(session, query)


def read_inputs(session: Session, countries: Sequence[str]) -> dict[str, gpd.GeoDataFrame]:
    """The layers a grid is computed from, as GeoDataFrames in EPSG:4326 (the threats are
    the published ones: grids and plans are public records)."""
    area = _layer(session, queries.countries_query(countries))
    missing = sorted(set(countries) - set(area["iso3"]))
    if missing:
        raise InvalidInput(
            en(
                "no stored boundary for {countries}: load the countries first (irbis load demo)",
                countries=", ".join(missing),
            )
        )
    return {
        "area": area,
        "protected": _layer(session, queries.protected_areas_query()),
        "threats": _layer(session, queries.threats_query()),
        "field_sites": _layer(session, queries.field_sites_query()),
        "places": _layer(session, queries.places_query()),
        "roads": _layer(session, queries.threats_query(kind="road")),
    }


def read_habitat(
    session: Session,
    area: gpd.GeoDataFrame,
    *,
    source: str = "auto",
    data_dir: Path | None = None,
    fine_dem: bool = False,
) -> tuple[gpd.GeoDataFrame, str]:
    """Habitat polygons per species and ecosystem, and where they came from.

    In order (``source="auto"``): the latest successful habitat analysis run, the same rows
    and numbers as ``/analyses`` (per species, ecosystem and country); stored species ranges (present, native or reintroduced)
    intersected with the stored mountain and arid-lowland ecosystems; else the Area of Habitat
    model (:mod:`geo.habitat`) on the registered DEMs with its cited defaults; else the coarse
    proxy from named physical regions (:func:`geo.planning_units.habitat_from_regions`). The
    source is recorded with the grid.
    """
    tried: list[Message] = []
    if source in ("auto", "analysis"):
        found = _analysis_habitat(session)
        if found is not None:
            run_id, hab = found
            return hab, f"habitat analysis run {run_id} (Area of Habitat, as on /analyses)"
        tried.append(en("no successful habitat analysis run"))
    if source in ("auto", "stored"):
        hab = _stored_habitat(session)
        if hab is not None:
            return hab, "stored species ranges x ecosystems"
        tried.append(en("no stored species ranges with ecosystems"))
    if source in ("auto", "modelled"):
        hab = _modelled_habitat(session, area, data_dir=data_dir, fine_dem=fine_dem)
        if hab is not None:
            label = "Area of Habitat model (geo.habitat defaults), coarse 5' DEM"
            return hab, label + (' + GEBCO 15" DEM' if fine_dem else "")
        tried.append(en("no registered DEM for the habitat model"))
    if source in ("auto", "regions"):
        regions = _layer(session, queries.regions_query())
        if not regions.empty:
            return pu.habitat_from_regions(regions, area), "named-regions proxy (Natural Earth)"
        tried.append(en("no reference regions"))
    raise InvalidInput(
        en(
            "no habitat to plan for ({reasons}): store species ranges and ecosystems, or load "
            "the demo (irbis load demo)",
            reasons=joined(tried),
        )
    )


def _analysis_habitat(session: Session) -> tuple[int, gpd.GeoDataFrame] | None:
    run_id = session.scalar(
        select(m.AnalysisRun.id)
        .where(m.AnalysisRun.kind == "habitat", m.AnalysisRun.status == "succeeded")
        .order_by(m.AnalysisRun.id.desc())
        .limit(1)
    )
    if run_id is None:
        return None
    hab = _layer(session, queries.analysis_habitat_query(run_id))
    hab = hab[hab.geometry.notna() & ~hab.geometry.is_empty]
    return None if hab.empty else (int(run_id), hab)


def _stored_habitat(session: Session) -> gpd.GeoDataFrame | None:
    n_ranges = session.scalar(select(func.count()).select_from(m.SpeciesRange)) or 0
    n_eco = session.scalar(
        select(func.count())
        .select_from(m.Ecosystem)
        .where(m.Ecosystem.kind.in_(queries.PLANNED_ECOSYSTEMS))
    )
    if not (n_ranges and n_eco):
        return None
    hab = _layer(session, queries.stored_habitat_query())
    hab = hab[hab.geometry.notna() & ~hab.geometry.is_empty]
    return None if hab.empty else hab


def _raster_path(session: Session, name: str, data_dir: Path | None) -> Path | None:
    path = session.scalar(select(m.RasterDataset.path).where(m.RasterDataset.name == name))
    if path is None:
        return None
    p = Path(path)
    if not p.is_absolute() and data_dir is not None:
        p = data_dir / p
    return p if p.is_file() else None


def _modelled_habitat(
    session: Session, area: gpd.GeoDataFrame, *, data_dir: Path | None, fine_dem: bool
) -> gpd.GeoDataFrame | None:
    coarse = _raster_path(session, "dem_coarse_region", data_dir)
    if coarse is None or data_dir is None:
        return None
    ref = {
        k: data_dir / f
        for k, f in (
            ("koppen", an.KOPPEN_FILE),
            ("aridity", an.ARIDITY_FILE),
            ("landcover", an.LANDCOVER_FILE),
            ("ecoregions", an.ECOREGIONS_FILE),
        )
    }
    if not all(p.is_file() for p in ref.values()):
        return None
    fine = _raster_path(session, "dem_gebco_tianshan_pamir", data_dir) if fine_dem else None
    countries = area.rename(columns={"iso3": "iso_a3"})
    regions = _layer(session, queries.regions_query())
    eco_regions = gpd.read_file(ref["ecoregions"], engine="pyogrio")
    grid = ecosystems.classify_region(
        countries,
        coarse,
        fine_dem=fine,
        koppen=ref["koppen"],
        aridity=ref["aridity"],
        landcover=ref["landcover"],
        resolution_deg=1 / 30 if fine else 1 / 12,
    )
    range_parts = ranges.part_polygons(
        tuple(q for qs in ranges.RANGES.values() for q in qs), eco_regions, regions
    )
    species = session.scalars(select(m.Species.scientific_name).order_by(m.Species.id)).all()
    parts = []
    for name in species:
        try:
            params = habitat.default_params(name)
        except InvalidInput:
            continue  # no cited defaults for this species
        rng = habitat.default_range(params, countries, regions, parts=range_parts)
        parts.append(habitat.model_habitat(grid, params, rng, regions=range_parts))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return None
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=STORAGE_EPSG)


# --------------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------------


def compute_grid(
    inputs: dict[str, gpd.GeoDataFrame],
    habitat: gpd.GeoDataFrame,
    params: GridParams,
    *,
    progress: Progress | None = None,
) -> gpd.GeoDataFrame:
    """Planning units with their values and costs (pure: no database)."""
    say = progress or (lambda _msg: None)
    say(GRID_STEPS[2])  # hexagons at the chosen H3 resolution
    units = pu.hex_grid(inputs["area"], params.resolution)
    say(GRID_STEPS[3])
    units = pu.unit_values(
        units,
        habitat=habitat,
        protected=inputs.get("protected"),
        threats=inputs.get("threats"),
        field_sites=inputs.get("field_sites"),
        places=inputs.get("places"),
        roads=inputs.get("roads"),
        by_country=params.by_country,
        threat_buffer_km=params.threat_buffer_km,
    )
    units["cost"] = pu.unit_costs(units, params.cost.model())
    return units


def unit_labels(
    units: gpd.GeoDataFrame, inputs: dict[str, gpd.GeoDataFrame]
) -> tuple[list[str], list[list[str]]]:
    """Per unit: the method of its weakest input (:func:`geo.labels.derived_method`) and the
    example protected areas, field sites and threats it touches (protected areas as the
    polygons planning measures: points as circles of their reported area)."""
    layers = {
        "protected area": protected_planet.pa_polygons(inputs["protected"])
        if inputs.get("protected") is not None and not inputs["protected"].empty
        else None,
        "field site": inputs.get("field_sites"),
        "threat": inputs.get("threats"),
    }
    n = len(units)
    methods: list[list[str]] = [[] for _ in range(n)]
    examples: list[set[str]] = [set() for _ in range(n)]
    geoms = units.to_crs(STORAGE_EPSG).geometry.to_numpy()
    for what, layer in layers.items():
        if layer is None or layer.empty or "method" not in layer.columns:
            continue
        lyr = layer.to_crs(STORAGE_EPSG)
        lyr = lyr[lyr.geometry.notna() & ~lyr.geometry.is_empty]
        tree = shapely.STRtree(lyr.geometry.to_numpy())
        ui, li = tree.query(geoms, predicate="intersects")
        names = lyr["name"].to_numpy() if "name" in lyr.columns else lyr.index.to_numpy()
        meth = lyr["method"].to_numpy()
        for u, k in zip(ui, li, strict=True):
            methods[u].append(str(meth[k]))
            if meth[k] == "example":
                examples[u].add(f"{what}: {names[k]}")
    return [lb.derived_method(ms) for ms in methods], [sorted(e) for e in examples]


def _unit_rows(grid_id: int, units: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    feats = pu.feature_columns(units)
    rows = []
    other = ["protected_share", "grant_share", "threat_pressure", "town_km", "road_km"]
    for rec, geom in zip(
        units.assign(_row=units.index)[
            ["_row", "h3", "iso3", "area_km2", "cost", "clipped", *other, *feats]
        ].to_dict("records"),
        units.geometry,
        strict=True,
    ):
        values: dict[str, Any] = {
            k: (None if pd.isna(rec[k]) else round(float(rec[k]), 6)) for k in other
        }
        values["clipped"] = bool(rec["clipped"])
        if "method" in units.columns:
            values["method"] = units.at[rec["_row"], "method"]
            values["example_inputs"] = list(units.at[rec["_row"], "example_inputs"])
        values["features"] = {
            pu.feature_name(f): round(float(rec[f]), 6) for f in feats if rec[f] > 0
        }
        mp = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
        rows.append(
            {
                "grid_id": grid_id,
                "h3": rec["h3"],
                "iso3": rec["iso3"],
                "area_km2": float(rec["area_km2"]),
                "cost": float(rec["cost"]),
                "values": values,
                "geom": from_shape(mp, srid=STORAGE_EPSG),
            }
        )
    return rows


def build_grid(
    engine: Engine,
    params: GridParams,
    *,
    actor: str | None = None,
    habitat: gpd.GeoDataFrame | None = None,
    habitat_source: str | None = None,
    data_dir: Path | None = None,
    progress: Progress | None = None,
    grid_id: int | None = None,
) -> int:
    """Compute a planning grid from the stored layers and store it; returns its id.

    Parameters
    ----------
    habitat : GeoDataFrame, optional
        Habitat polygons (``species``, ``ecosystem``) to use instead of the stored ones.
    grid_id : int, optional
        The record made by :func:`start_grid` to fill in (a build from the form).
    """
    say = progress or (lambda _msg: None)
    say(GRID_STEPS[0])
    with transaction(engine, actor=actor) as s:
        versions = layer_versions(s, GRID_INPUT_TABLES)
        inputs = read_inputs(s, params.countries)
        day = params.as_of or dt.date.today()
        params = params.model_copy(update={"as_of": day})
        inputs["field_sites"] = funding.funded_sites(inputs["field_sites"], day)
        if habitat is None:
            say(GRID_STEPS[1])
            habitat, habitat_source = read_habitat(
                s,
                inputs["area"],
                source=params.habitat,
                data_dir=data_dir,
                fine_dem=params.fine_dem,
            )
    units = compute_grid(inputs, habitat, params, progress=progress)
    units["method"], units["example_inputs"] = unit_labels(units, inputs)
    totals = units[pu.feature_columns(units)].sum()
    dropped = [pu.feature_name(c) for c in totals.index if totals[c] < params.min_feature_km2]
    units = units.drop(columns=[pu.FEATURE_PREFIX + f for f in dropped])
    features = [pu.feature_name(c) for c in pu.feature_columns(units)]
    if not features:
        raise InvalidInput(en("no habitat falls inside the grid: nothing to plan for"))
    say(GRID_STEPS[4])
    meta = {
        "layer_versions": versions,
        "habitat_source": habitat_source or "given",
        "features_left_out": dropped,
        "method": lb.weakest(list(units["method"])) if len(units) else "modelled",
        "example_inputs": sorted({x for xs in units["example_inputs"] for x in xs}),
    }
    return _store_grid(engine, params, units, features, meta, actor=actor, grid_id=grid_id)


def grid_name(params: GridParams) -> str:
    """The grid's name: the one given, or its resolution, countries and the time."""
    return params.name or (
        f"H3 r{params.resolution} {'+'.join(params.countries)} "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S}"
    )


def _store_grid(
    engine: Engine,
    params: GridParams,
    units: gpd.GeoDataFrame,
    features: list[str],
    meta: dict[str, Any],
    *,
    actor: str | None,
    grid_id: int | None,
) -> int:
    """Store a computed grid and its units in one transaction (into the record ``grid_id``
    started by :func:`start_grid`, else a new one), and name its units by place."""
    name = grid_name(params)
    with transaction(engine, actor=actor) as s:
        if grid_id is None:
            if s.scalar(select(m.PlanningGrid.id).where(m.PlanningGrid.name == name)):
                raise Conflict(en("a planning grid named {name} exists already", name=repr(name)))
            grid = m.PlanningGrid(name=name, created_by=actor)
            s.add(grid)
        else:
            grid = get_grid(s, grid_id, for_update=True)
            if grid_status(grid) != "building":
                raise RunStopped(STOPPED)
        grid.resolution = params.resolution
        grid.countries = params.countries
        grid.features = features
        grid.n_units = len(units)
        grid.parameters = params.model_dump(mode="json", exclude={"name"})
        grid.inputs = meta
        s.flush()
        s.execute(insert(m.PlanningUnit), _unit_rows(grid.id, units))
        name_units(s, grid.id)
        return grid.id


def get_grid(session: Session, grid_id: int, *, for_update: bool = False) -> m.PlanningGrid:
    grid = session.get(m.PlanningGrid, grid_id, with_for_update=for_update)
    if grid is None:
        raise NotFound(en("no planning grid {id}", id=grid_id))
    return grid


def list_grids(session: Session) -> list[dict[str, Any]]:
    grids = session.scalars(select(m.PlanningGrid).order_by(m.PlanningGrid.id)).all()
    return [grid_summary(g) for g in grids]


def grid_summary(g: m.PlanningGrid) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "resolution": g.resolution,
        "countries": list(g.countries),
        "features": list(g.features),
        "n_units": g.n_units,
        "status": grid_status(g),
        "parameters": g.parameters,
        "inputs": g.inputs,
        "created_at": g.created_at.isoformat() if g.created_at else None,
    }


def grid_bounds(session: Session, grid_id: int) -> tuple[float, float, float, float] | None:
    """The extent (minx, miny, maxx, maxy) of a grid's units."""
    row = session.execute(queries.grid_extent_query(grid_id)).first()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def read_units(session: Session, grid_id: int) -> gpd.GeoDataFrame:
    """A stored grid's units with their values spread into columns (``habitat:...``)."""
    grid = get_grid(session, grid_id)
    gdf = store.read_gdf(session, queries.grid_units_query(grid_id))
    values = list(gdf.pop("values")) if "values" in gdf.columns else []
    for key in ("protected_share", "grant_share", "threat_pressure", "town_km", "road_km"):
        gdf[key] = [np.nan if v.get(key) is None else float(v[key]) for v in values]
    gdf["clipped"] = [bool(v.get("clipped", False)) for v in values]
    feats = {}
    for f in grid.features:
        feats[pu.FEATURE_PREFIX + f] = [float(v["features"].get(f, 0.0)) for v in values]
    return pd.concat([gdf, pd.DataFrame(feats, index=gdf.index)], axis=1)


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


def _select_features(available: list[str], wanted: list[str] | None) -> list[str]:
    if not wanted:
        return available
    chosen = [f for f in available if any(f == w or f.startswith(w + "|") for w in wanted)]
    unknown = [w for w in wanted if not any(f == w or f.startswith(w + "|") for f in available)]
    if unknown:
        raise InvalidInput(
            en(
                "unknown feature(s) {features}; the grid has {available}",
                features=", ".join(unknown),
                available=", ".join(available),
            )
        )
    return chosen


def _target_shares(features: list[str], params: ScenarioParams) -> dict[str, float]:
    shares = {}
    for f in features:
        share = params.target
        best = -1
        for key, value in params.targets.items():
            if (f == key or f.startswith(key + "|")) and len(key) > best:
                share, best = value, len(key)
        shares[f] = share
    unknown = [
        k for k in params.targets if not any(f == k or f.startswith(k + "|") for f in features)
    ]
    if unknown:
        raise InvalidInput(
            en("targets for unknown feature(s): {features}", features=", ".join(unknown))
        )
    return shares


def _threat_units(session: Session, grid_id: int, names: list[str]) -> np.ndarray:
    if not names:
        return np.zeros(0, dtype=np.int64)
    # an unpublished threat is not named to anyone
    t = published_threats("name", "geom", name="t")
    known = set(session.scalars(select(t.c.name).where(t.c.name.in_(names))))
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidInput(en("no threat named {names}", names=", ".join(repr(u) for u in unknown)))
    u = m.PlanningUnit.__table__
    ids = session.scalars(
        select(u.c.id)
        .distinct()
        .select_from(u.join(t, func.ST_Intersects(u.c.geom, t.c.geom)))
        .where(u.c.grid_id == grid_id, t.c.name.in_(names))
    ).all()
    return np.asarray(ids, dtype=np.int64)


def _h3_mask(units: pd.DataFrame, cells: list[str], what: str) -> np.ndarray:
    unknown = sorted(set(cells) - set(units["h3"]))
    if unknown:
        raise InvalidInput(
            en("{what}: no unit {units} in this grid", what=what, units=", ".join(unknown[:10]))
        )
    return np.array(units["h3"].isin(cells), dtype=bool)


def problem_for(
    units: gpd.GeoDataFrame,
    features: list[str],
    params: ScenarioParams,
    *,
    locked_out_ids: np.ndarray | None = None,
) -> pr.Problem:
    """The optimisation problem a scenario asks, on a grid's units (pure)."""
    shares = _target_shares(features, params)
    lout = _h3_mask(units, params.lock_out_units, "lock_out_units")
    if locked_out_ids is not None and len(locked_out_ids):
        lout |= units["id"].isin(locked_out_ids).to_numpy()
    lin = np.zeros(len(units), dtype=bool)
    if params.lock_in_protected is not None:
        share = units["protected_share"].fillna(0).to_numpy()
        # a protected unit touched by a locked-out threat: the lock-out wins
        lin |= (share >= max(params.lock_in_protected, 1e-9)) & ~lout
    # units named both ways are refused by the problem itself
    lin |= _h3_mask(units, params.lock_in_units, "lock_in_units")
    boundary = pu.unit_boundaries(units)  # always: the plan's outline is reported
    total_cost = float(units["cost"].sum())
    budget = params.budget
    if budget is None and params.budget_share is not None:
        budget = params.budget_share * total_cost
    cols = [pu.FEATURE_PREFIX + f for f in features]
    frame = units[[*cols, "cost", "h3"]].rename(columns=dict(zip(cols, features, strict=True)))
    return pr.Problem.from_units(
        frame,
        features,
        targets=shares,
        id_column="h3",
        locked_in=lin,
        locked_out=lout,
        objective=params.objective,
        budget=budget if params.objective == "max_coverage" else None,
        boundary=boundary,
        boundary_penalty=params.boundary_penalty,
    )


def _ecosystem(feature: str) -> str:
    parts = feature.split("|")
    return parts[1] if len(parts) > 1 else "other"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


def _replacement(
    problem: pr.Problem,
    exact: pr.Solution,
    ranking: pd.DataFrame,
    params: ScenarioParams,
    say: Progress,
) -> list[dict[str, Any]]:
    """Replacement cost of the best-ranked selected units (None where irreplaceable)."""
    if not params.replacement_units:
        return []
    order = ranking[exact.selected & ~problem.locked_in].sort_values("rank")
    top = order.index.to_numpy()[: params.replacement_units]
    say(SCENARIO_STEPS[4])
    rc = pr.replacement_cost(
        problem,
        exact,
        top,
        gap=params.gap,
        time_limit=max(1.0, params.time_limit_s / max(len(top), 1)),
    )
    out = []
    for k in top:
        finite = bool(np.isfinite(rc[k]))
        out.append(
            {
                "unit_id": str(problem.unit_ids[k]),
                "rank": int(ranking["rank"].iloc[k]),
                "replacement_cost": float(rc[k]) if finite else None,
                "irreplaceable": not finite,
            }
        )
    return out


def _summary(
    problem: pr.Problem, exact: pr.Solution, table: pd.DataFrame, area: np.ndarray
) -> dict[str, Any]:
    sel = exact.selected
    return {
        "n_units": problem.n_units,
        "n_selected": exact.n_selected,
        "selected_area_km2": float(area[sel].sum()),
        "selected_share_of_area": float(area[sel].sum() / area.sum()),
        "cost": exact.cost,
        "total_cost": float(problem.cost.sum()),
        "budget": problem.budget,
        "boundary_length_km": exact.boundary_length,
        "n_locked_in": int(problem.locked_in.sum()),
        "n_locked_out": int(problem.locked_out.sum()),
        "targets_met": int(table["met"].sum()),
        "n_features": problem.n_features,
    }


def solve_scenario(
    units: gpd.GeoDataFrame,
    features: list[str],
    params: ScenarioParams,
    *,
    locked_out_ids: np.ndarray | None = None,
    progress: Progress | None = None,
) -> tuple[pr.Problem, pr.Solution, dict[str, Any], pd.DataFrame]:
    """Solve a scenario (pure): the problem, the plan, the results and the unit ranking."""
    say = progress or (lambda _msg: None)
    problem = problem_for(units, features, params, locked_out_ids=locked_out_ids)
    say(SCENARIO_STEPS[1])
    exact = pr.solve(problem, gap=params.gap, time_limit=params.time_limit_s)
    say(SCENARIO_STEPS[2])
    greedy = pr.solve_greedy(problem)
    frequency = None
    if params.portfolio_runs:
        say(SCENARIO_STEPS[3])
        # the whole portfolio shares one more time limit
        frequency = pr.selection_frequency(
            problem,
            runs=params.portfolio_runs,
            seed=params.seed,
            gap=max(params.gap, 0.01),
            time_limit=max(1.0, params.time_limit_s / params.portfolio_runs),
        )
    ranking = pr.rank_units(problem, exact, frequency)
    replacement = _replacement(problem, exact, ranking, params, say)
    table = pr.target_table(problem, exact)
    groups = pr.compare_groups(problem, exact, {f: _ecosystem(f) for f in features})
    area = units["area_km2"].to_numpy()
    sel = exact.selected
    for name, mask in (("selected_area_km2", sel), ("area_km2", np.ones(len(sel), bool))):
        groups[name] = [
            float(area[mask & _dominant(units, features, g)].sum()) for g in groups["group"]
        ]
    covered = units["grant_share"].fillna(0).to_numpy() > 0
    current = problem.locked_in | covered
    grants = pr.grant_opportunities(problem, current, covered, solution=exact, top=20)
    results = {
        "summary": _summary(problem, exact, table, area),
        "targets": _records(table),
        "ecosystems": _records(groups),
        "greedy": greedy.stats(),
        "greedy_vs_exact": (
            greedy.objective / exact.objective - 1.0 if exact.objective > 0 else None
        ),
        "grant_opportunities": _records(grants),
        "replacement": replacement,
    }
    return problem, exact, results, ranking


def _dominant(units: pd.DataFrame, features: list[str], group: str) -> np.ndarray:
    """Units whose largest habitat feature belongs to ``group`` (an ecosystem)."""
    cols = [pu.FEATURE_PREFIX + f for f in features]
    values = units[cols].to_numpy()
    eco = np.array([_ecosystem(f) for f in features])
    top = eco[values.argmax(axis=1)]
    return (top == group) & (values.max(axis=1) > 0)


def _scenario_unit_rows(
    scenario_id: int, units: pd.DataFrame, problem: pr.Problem, ranking: pd.DataFrame
) -> list[dict[str, Any]]:
    """The scenario's units: selected or not, locked in or out, frequency and rank."""
    locked = [
        "in" if li else "out" if lo else None
        for li, lo in zip(problem.locked_in, problem.locked_out, strict=True)
    ]
    return [
        {
            "scenario_id": scenario_id,
            "unit_id": int(uid),
            "selected": bool(sel),
            "locked": lk,
            "frequency": float(fr),
            "rank": int(rk),
        }
        for uid, sel, lk, fr, rk in zip(
            units["id"],
            ranking["selected"],
            locked,
            ranking["frequency"],
            ranking["rank"],
            strict=True,
        )
    ]


def run_scenario(
    engine: Engine,
    params: ScenarioParams,
    *,
    actor: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Solve a scenario on a stored grid and store it with its units; returns its id.

    Raises
    ------
    Infeasible
        The targets cannot be met. The attempt is stored as a scenario with status
        ``infeasible`` and the reasons (no units, no results); ``details`` names the features
        that cannot be met and the scenario's id.
    """
    scenario_id = start_scenario(engine, params, actor=actor)
    with beating(engine, "scenario", scenario_id):
        return solve_started_scenario(engine, scenario_id, params, actor=actor, progress=progress)


def _check_scenario(s: Session, params: ScenarioParams) -> dict[str, Any]:
    """Everything about a scenario that can be refused before solving it (an unknown or
    unfinished grid, feature, target, threat or unit); returns its inputs."""
    grid = get_grid(s, params.grid_id)
    state = grid_status(grid)
    if state != "ready":
        raise InvalidInput(
            en(
                "planning grid {id} is {status}: choose a grid that is ready",
                id=grid.id,
                status=state,
            ),
            details={"field": "grid_id"},
        )
    features = _on_field("features", _select_features, list(grid.features), params.features)
    _on_field("targets", _target_shares, features, params)
    _on_field("lock_out_threats", _threat_units, s, params.grid_id, params.lock_out_threats)
    cells = set(params.lock_in_units) | set(params.lock_out_units)
    if cells:
        known = set(
            s.scalars(
                select(m.PlanningUnit.h3).where(
                    m.PlanningUnit.grid_id == params.grid_id, m.PlanningUnit.h3.in_(cells)
                )
            )
        )
        for what, listed in (
            ("lock_in_units", params.lock_in_units),
            ("lock_out_units", params.lock_out_units),
        ):
            unknown = sorted(set(listed) - known)
            if unknown:
                raise InvalidInput(
                    en(
                        "{what}: no unit {units} in this grid",
                        what=what,
                        units=", ".join(unknown[:10]),
                    ),
                    details={"field": what},
                )
        both = sorted(set(params.lock_in_units) & set(params.lock_out_units))
        if both:
            raise InvalidInput(
                en("units both locked in and locked out: {units}", units=", ".join(both[:10])),
                details={"field": "lock_out_units"},
            )
    versions = layer_versions(s, GRID_INPUT_TABLES)
    grid_inputs = dict(grid.inputs)
    grid_versions = grid_inputs.get("layer_versions", {})
    return {
        "grid_id": params.grid_id,
        "grid_inputs": grid_inputs,
        "layer_versions": versions,
        "stale_layers": sorted(t for t, v in versions.items() if grid_versions.get(t) != v),
        "features": features,
    }


def _on_field(field: str, check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, its refusal naming the parameter it is about (``details.field``)."""
    try:
        return check(*args)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, details={"field": field}) from exc


def start_scenario(engine: Engine, params: ScenarioParams, *, actor: str | None = None) -> int:
    """Check a scenario and record it as ``pending`` (nothing is stored if it is refused);
    :func:`solve_started_scenario` solves it. Returns its id."""
    with transaction(engine, actor=actor) as s:
        inputs = _check_scenario(s, params)
        scenario = m.PrioritisationScenario(
            name=params.name,
            grid_id=params.grid_id,
            objective=params.objective,
            status=m.ScenarioStatus.pending.value,
            parameters=params.model_dump(),
            inputs=inputs,
            results={"progress": _step(SCENARIO_STEPS, None)},
            created_by=actor,
            heartbeat_at=func.now(),
        )
        s.add(scenario)
        s.flush()
        return scenario.id


def _step(steps: Sequence[str], message: str | None) -> dict[str, Any]:
    """A progress record: the message, its place among ``steps`` (0: waiting) and when."""
    return {
        "message": message,
        "step": steps.index(message) + 1 if message in steps else 0,
        "steps": len(steps),
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }


def _scenario_progress(engine: Engine, scenario_id: int, also: Progress | None) -> Progress:
    """A ``progress`` that records each step on the scenario (status ``running``)."""

    def say(message: str) -> None:
        with engine.begin() as conn:
            moved = conn.execute(
                update(m.PrioritisationScenario)
                .where(
                    m.PrioritisationScenario.id == scenario_id,
                    m.PrioritisationScenario.status.in_(ACTIVE_SCENARIO),
                )
                .values(
                    status=m.ScenarioStatus.running.value,
                    results={"progress": _step(SCENARIO_STEPS, message)},
                    heartbeat_at=func.now(),  # a step said is a sign of life too
                )
            )
        if moved.rowcount == 0:
            raise RunStopped(STOPPED)
        if also is not None:
            also(message)

    return say


def solve_started_scenario(
    engine: Engine,
    scenario_id: int,
    params: ScenarioParams,
    *,
    actor: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Solve a scenario recorded by :func:`start_scenario` and store its plan and units;
    an infeasible one is stored as ``infeasible`` and :class:`Infeasible` raised, any other
    error stores it as ``failed`` and is raised again."""
    say = _scenario_progress(engine, scenario_id, progress)
    started = dt.datetime.now(dt.UTC)
    try:
        say(SCENARIO_STEPS[0])
        with transaction(engine, actor=actor) as s:
            units = read_units(s, params.grid_id)
            features = list(get_scenario(s, scenario_id).inputs["features"])
            locked_out_ids = _threat_units(s, params.grid_id, params.lock_out_threats)
        problem, solution, results, ranking = solve_scenario(
            units, features, params, locked_out_ids=locked_out_ids, progress=say
        )
        say(SCENARIO_STEPS[5])
    except RunStopped:
        raise  # recorded as failed by whoever stopped it
    except Infeasible as exc:
        _scenario_ended(engine, scenario_id, "infeasible", started, actor, exc.message, exc.details)
        details = dict(exc.details) if isinstance(exc.details, dict) else {}
        raise Infeasible(exc.message, details={**details, "scenario_id": scenario_id}) from exc
    except IrbisError as exc:
        _scenario_ended(engine, scenario_id, "failed", started, actor, exc.message, exc.details)
        raise
    except Exception:
        _scenario_ended(engine, scenario_id, "failed", started, actor, UNEXPECTED, None)
        raise
    with transaction(engine, actor=actor) as s:
        scenario = get_scenario(s, scenario_id, for_update=True)
        if scenario.status not in ACTIVE_SCENARIO:
            raise RunStopped(STOPPED)
        scenario.status = m.ScenarioStatus.solved.value
        scenario.results = results
        scenario.solver = solution.stats()
        scenario.started_at = started
        scenario.finished_at = dt.datetime.now(dt.UTC)
        rows = _scenario_unit_rows(scenario.id, units, problem, ranking)
        s.execute(insert(m.ScenarioUnit), rows)
        return scenario.id


#: What a page says of a run that failed for a reason not meant for its readers (the
#: exception itself is in the server's log).
UNEXPECTED = "an unexpected error stopped the run; it is in the server's log"


def _scenario_ended(
    engine: Engine,
    scenario_id: int,
    status: str,
    started: dt.datetime,
    actor: str | None,
    message: str,
    details: Any,
) -> None:
    with transaction(engine, actor=actor) as s:
        scenario = get_scenario(s, scenario_id, for_update=True)
        if scenario.status not in ACTIVE_SCENARIO:
            return  # stopped already, with its reason
        scenario.status = status
        scenario.results = None
        scenario.error = {"message": message, "details": details}
        scenario.started_at = started
        scenario.finished_at = dt.datetime.now(dt.UTC)


def get_scenario(
    session: Session, scenario_id: int, *, for_update: bool = False
) -> m.PrioritisationScenario:
    sc = session.get(m.PrioritisationScenario, scenario_id, with_for_update=for_update)
    if sc is None:
        raise NotFound(en("no prioritisation scenario {id}", id=scenario_id))
    return sc


def scenario_summary(sc: m.PrioritisationScenario, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sc.id,
        "name": sc.name,
        "grid_id": sc.grid_id,
        "objective": sc.objective,
        "status": sc.status,
        "parameters": sc.parameters,
        "solver": sc.solver,
        "summary": (sc.results or {}).get("summary"),
        "error": sc.error,
        "started_at": sc.started_at.isoformat() if sc.started_at else None,
        "finished_at": sc.finished_at.isoformat() if sc.finished_at else None,
    }
    if full:
        out["inputs"] = sc.inputs
    return out


def list_scenarios(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(m.PrioritisationScenario).order_by(m.PrioritisationScenario.id)
    ).all()
    return [scenario_summary(r) for r in rows]


def scenario_units_geojson(
    session: Session, scenario_id: int, *, selected_only: bool = True
) -> dict[str, Any]:
    """The scenario's units as a GeoJSON FeatureCollection (a map layer)."""
    get_scenario(session, scenario_id)
    query = queries.scenario_units_query(scenario_id, selected_only=selected_only)
    features = []
    for row in session.execute(query).mappings():
        props = {k: row[k] for k in row if k != "geometry"}
        features.append(
            {
                "type": "Feature",
                "id": row["h3"],
                "properties": props,
                "geometry": json.loads(row["geometry"]),
            }
        )
    return {"type": "FeatureCollection", "numberReturned": len(features), "features": features}


# --------------------------------------------------------------------------------------------
# Units named by place
# --------------------------------------------------------------------------------------------

#: Natural Earth's mountain ranges of the region, in English, Russian and Kazakh.
RANGE_NAMES: dict[str, tuple[str, str, str]] = {
    "TIAN SHAN": ("Tian Shan", "Тянь-Шань", "Тянь-Шань"),
    "PAMIRS": ("Pamirs", "Памир", "Памир"),
    "ALTAY MOUNTAINS": ("Altai", "Алтай", "Алтай"),
    "Alataw Mts.": ("Dzungarian Alatau", "Джунгарский Алатау", "Жетісу Алатауы"),
    "Karatau Range": ("Karatau", "Каратау", "Қаратау"),
    "Tarbagatay Ra.": ("Tarbagatai", "Тарбагатай", "Тарбағатай"),
    "Borohoro Mts.": ("Borohoro", "Борохоро", "Борохоро"),
    "HINDU KUSH": ("Hindu Kush", "Гиндукуш", "Гиндукуш"),
    "KARAKORAM RA.": ("Karakoram", "Каракорум", "Қарақорым"),
    "KUNLUN MOUNTAINS": ("Kunlun", "Куньлунь", "Куньлунь"),
    "Kopet Dag Mts .": ("Kopet Dag", "Копетдаг", "Копетдаг"),
    "URAL MOUNTAINS": ("Urals", "Урал", "Орал таулары"),
    "ALTUN MTS.": ("Altyn-Tagh", "Алтынтаг", "Алтынтаг"),
}
_LANGS = ("en", "ru", "kk")

#: Units named per statement (each statement stays well within the statement timeout).
NAME_BATCH = 100


def name_units(session: Session, grid_id: int) -> None:
    """Name a grid's units by place (see :func:`layers.prioritisation.name_units_statement`),
    inside the caller's transaction, a batch of units per statement."""
    ids = session.scalars(
        select(m.PlanningUnit.id)
        .where(m.PlanningUnit.grid_id == grid_id)
        .order_by(m.PlanningUnit.id)
    ).all()
    for k in range(0, len(ids), NAME_BATCH):
        batch = ids[k : k + NAME_BATCH]
        session.execute(queries.name_units_statement(grid_id, batch[0], batch[-1]))


def _in(names: Any, lang: str) -> str | None:
    if not isinstance(names, dict):
        return None
    for code in (lang, "ru" if lang == "kk" else "en", "en"):
        if names.get(code):
            return str(names[code])
    return None


def range_name(name: str | None, lang: str) -> str | None:
    """A mountain range's name in ``lang`` (Natural Earth's own, tidied, when unknown)."""
    if not name:
        return None
    known = RANGE_NAMES.get(name)
    if known is None:
        return name.rstrip(" .").title()
    return known[_LANGS.index(lang) if lang in _LANGS else 0]


@dataclass(frozen=True)
class PlaceWords:
    """How a page says where a unit is, as ``%(...)s`` formats in its language."""

    near: str = "near %(place)s"
    district: str = "%(name)s district"
    region: str = "%(name)s region"


def _adjectival(place: dict[str, Any], key: str) -> bool:
    """Whether a Kazakh district's or region's Russian name is an adjective (``Таскалинский``
    район, ``Абайская`` область) rather than a city's or a person's name."""
    ru = (place.get(key) or {}).get("ru") or ""
    return bool(re.search(r"(ий|ый|ой|ая)$", ru))


def unit_label(
    place: dict[str, Any] | None, lang: str, *, fallback: str, words: PlaceWords | None = None
) -> str:
    """A unit's name in ``lang``: its district and region, else the nearest settlement, and
    the mountain range; ``fallback`` (its H3 index) when the unit has no name."""
    place = place or {}
    words = words or PlaceWords()
    district = _in(place.get("district"), lang)
    settlement = _in(place.get("settlement"), lang)
    if district:
        label = words.district % {"name": district} if _adjectival(place, "district") else district
        region = _in(place.get("region"), lang)
        if region and _adjectival(place, "region"):
            label = f"{label}, {words.region % {'name': region}}"
    elif settlement:
        label = words.near % {"place": settlement}
    else:
        label = fallback
    mountains = range_name(place.get("range"), lang)
    return f"{label} · {mountains}" if mountains else label


def unit_places(session: Session, scenario_id: int) -> dict[str, dict[str, Any]]:
    """The ``values.place`` of each unit of a scenario's grid, by H3 index."""
    rows = session.execute(queries.unit_places_query(scenario_id)).all()
    return {h3: place or {} for h3, place in rows}


def cost_unit(grid_parameters: dict[str, Any]) -> tuple[str, bool]:
    """What a grid's cost counts: ``("area", weighted)`` (km² of land, raised by threat, town
    or road factors when ``weighted``) or ``("uniform", weighted)`` (1 per unit)."""
    cost = grid_parameters.get("cost") or {}
    weighted = any(
        float(cost.get(k) or 0) > 0 for k in ("threat_weight", "town_weight", "road_weight")
    )
    return str(cost.get("base", "area")), weighted


def grid_status(grid: m.PlanningGrid) -> str:
    """``ready``, or ``building`` / ``failed`` for a grid started from the form."""
    return str((grid.inputs or {}).get("status", "ready"))


def start_grid(engine: Engine, params: GridParams, *, actor: str | None = None) -> int:
    """Check a grid's name and countries and record it as ``building``; returns its id
    (:func:`finish_grid` builds it)."""
    name = grid_name(params)
    with transaction(engine, actor=actor) as s:
        if s.scalar(select(m.PlanningGrid.id).where(m.PlanningGrid.name == name)):
            raise Conflict(
                en("a planning grid named {name} exists already", name=repr(name)),
                details={"field": "name"},
            )
        known = set(
            s.scalars(select(m.Country.iso_a3).where(m.Country.iso_a3.in_(params.countries)))
        )
        missing = sorted(set(params.countries) - known)
        if missing:
            raise InvalidInput(
                en("no stored boundary for {countries}", countries=", ".join(missing)),
                details={"field": "countries"},
            )
        grid = m.PlanningGrid(
            name=name,
            resolution=params.resolution,
            countries=params.countries,
            features=[],
            n_units=0,
            parameters=params.model_dump(mode="json", exclude={"name"}),
            inputs={"status": "building", "progress": _step(GRID_STEPS, None)},
            created_by=actor,
            heartbeat_at=func.now(),
        )
        s.add(grid)
        s.flush()
        return grid.id


def _set_grid_inputs(engine: Engine, grid_id: int, inputs: dict[str, Any]) -> None:
    """Record where a grid's build is, while it is still building (else :class:`RunStopped`:
    it was marked as stopped, and that stays)."""
    with engine.begin() as conn:
        moved = conn.execute(
            update(m.PlanningGrid)
            .where(m.PlanningGrid.id == grid_id, grid_building())
            .values(inputs=inputs, heartbeat_at=func.now())
        )
    if moved.rowcount == 0:
        raise RunStopped(STOPPED)


def finish_grid(
    engine: Engine,
    grid_id: int,
    params: GridParams,
    *,
    actor: str | None = None,
    data_dir: Path | None = None,
) -> None:
    """Build a grid recorded by :func:`start_grid`, recording each step; a grid that cannot
    be built is recorded as ``failed`` with the reason."""

    def say(message: str) -> None:
        _set_grid_inputs(
            engine, grid_id, {"status": "building", "progress": _step(GRID_STEPS, message)}
        )

    def failed(message: str) -> None:
        with suppress(RunStopped):  # marked as stopped already: that stays
            _set_grid_inputs(engine, grid_id, {"status": "failed", "error": {"message": message}})

    try:
        build_grid(
            engine,
            params.model_copy(update={"name": grid_name(params)}),
            actor=actor,
            data_dir=data_dir,
            progress=say,
            grid_id=grid_id,
        )
    except RunStopped:
        log.warning("planning grid %s was stopped before it was built", grid_id)
    except IrbisError as exc:
        failed(exc.message)
    except Exception:
        log.exception("planning grid %s could not be built", grid_id)
        failed(UNEXPECTED)


def solve_in_background(
    engine: Engine, scenario_id: int, params: ScenarioParams, *, actor: str | None = None
) -> None:
    """:func:`solve_started_scenario` for a background thread: the outcome is in the record."""
    try:
        solve_started_scenario(engine, scenario_id, params, actor=actor)
    except RunStopped:
        log.warning("prioritisation scenario %s was stopped before it was solved", scenario_id)
    except IrbisError:
        pass  # recorded as infeasible or failed, with the reason
    except Exception:
        log.exception("prioritisation scenario %s failed", scenario_id)


#: The demo's grid and scenario (``irbis load demo``).
DEMO_GRID = "Demo: H3 resolution 3 over Kazakhstan, Kyrgyzstan, Tajikistan and Uzbekistan"
DEMO_SCENARIO = "Demo: 30% of each species' habitat per ecosystem and country, resort locked out"


def ensure_demo_scenario(
    engine: Engine,
    *,
    lock_out: Sequence[str] = (),
    data_dir: Path | None = None,
    as_of: dt.date | None = None,
) -> int | None:
    """Build the demo's grid (funded sites counted on ``as_of``, the demo's date) and solve its
    scenario once (a solved one is left as it is); returns the new scenario's id, or None when
    there was one already."""
    with Session(engine) as s:
        have = s.scalar(
            select(m.PrioritisationScenario.id).where(
                m.PrioritisationScenario.name == DEMO_SCENARIO,
                m.PrioritisationScenario.status == m.ScenarioStatus.solved.value,
            )
        )
        grid_id = s.scalar(select(m.PlanningGrid.id).where(m.PlanningGrid.name == DEMO_GRID))
        published = set(s.scalars(select(published_threats("name").c.name)))
    if have is not None:
        return None
    if grid_id is None:
        params = GridParams(name=DEMO_GRID, resolution=3, as_of=as_of)
        grid_id = build_grid(engine, params, actor="irbis load demo", data_dir=data_dir)
    scenario = ScenarioParams(
        name=DEMO_SCENARIO,
        grid_id=grid_id,
        target=0.3,
        lock_out_threats=[t for t in lock_out if t in published],
        portfolio_runs=5,
        replacement_units=5,
    )
    return run_scenario(engine, scenario, actor="irbis load demo")


def form_choices(session: Session) -> dict[str, Any]:
    """What the forms offer: the programme countries, the grids that are ready (with their
    features) and the published threats (by name)."""
    countries = session.execute(
        select(m.Country.iso_a3, m.Country.name, m.Country.name_ru)
        .where(m.Country.programme)
        .order_by(m.Country.name)
    ).all()
    grids = [
        g
        for g in session.scalars(select(m.PlanningGrid).order_by(m.PlanningGrid.id.desc()))
        if grid_status(g) == "ready"
    ]
    names = published_threats("name").c.name
    threats = session.scalars(select(names).distinct().order_by(names)).all()
    return {
        "countries": [{"iso3": c, "name": n, "name_ru": r} for c, n, r in countries],
        "grids": [grid_summary(g) for g in grids],
        "threats": list(threats),
    }


def run_progress(record: m.PlanningGrid | m.PrioritisationScenario) -> dict[str, Any]:
    """Where a grid or a scenario is: status, the step it is at, the error if it failed."""
    if isinstance(record, m.PlanningGrid):
        inputs = record.inputs or {}
        return {
            "status": grid_status(record),
            "progress": inputs.get("progress"),
            "error": inputs.get("error"),
        }
    results = record.results or {}
    return {"status": record.status, "progress": results.get("progress"), "error": record.error}


__all__ = [
    "GRID_STEPS",
    "SCENARIO_STEPS",
    "CostParams",
    "GridParams",
    "PlaceWords",
    "ScenarioParams",
    "build_grid",
    "compute_grid",
    "cost_unit",
    "ensure_demo_scenario",
    "finish_grid",
    "form_choices",
    "get_grid",
    "get_scenario",
    "grid_bounds",
    "grid_status",
    "list_grids",
    "list_scenarios",
    "name_units",
    "read_units",
    "run_progress",
    "run_scenario",
    "scenario_summary",
    "scenario_units_geojson",
    "solve_in_background",
    "solve_scenario",
    "solve_started_scenario",
    "start_grid",
    "start_scenario",
    "unit_label",
    "unit_places",
]

"""Habitat: the Area of Habitat of each species on an ecosystems run, and its rasters for a
loss series (the habitat as it is and with a threat's footprint cleared)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

import geopandas as gpd

from api.db import models as m
from api.db.engine import transaction
from api.db.store import read_table, rows_from_gdf
from api.services.analyses.reading import (
    WATER_SOURCE,
    ecosystem_grid,
    latest_run,
    programme_countries,
    read_ecoregions,
    read_threats,
    reader,
)
from api.services.analyses.recorder import (
    ACTOR,
    DERIVED_LICENCE,
    Inputs,
    Progress,
    execute,
    jsonable,
    record_versions,
    records,
    register_raster,
    write_atomic,
)
from api.services.analyses.runs import get_run
from api.settings import Settings
from geo import habitat as hb
from geo import loss as ls
from geo import ranges as rg
from geo.errors import NotFound
from geo.messages import en


def _range_parts(regions: gpd.GeoDataFrame, ecoregions: gpd.GeoDataFrame) -> Any:
    """The named parts of the species' ranges (ecoregions and regions)."""
    return rg.part_polygons(tuple(q for qs in rg.RANGES.values() for q in qs), ecoregions, regions)


def _model(
    s: Session,
    params_by_sp: Mapping[str, hb.HabitatParams],
    grid: Any,
    settings: Settings,
    inputs: Inputs,
    progress: Progress | None,
) -> dict[str, tuple[int, str, gpd.GeoDataFrame]]:
    """Each species' habitat: its id, where its range came from and the habitat pieces."""
    out = {}
    countries = programme_countries(s, inputs)
    record_versions(s, ["regions", "species", "species_ranges"], inputs)
    regions = read_table(s, m.Region)
    parts = _range_parts(regions, read_ecoregions(settings, inputs))
    for sp, p in params_by_sp.items():
        sid = s.scalar(select(m.Species.id).where(m.Species.scientific_name == sp))
        if sid is None:
            raise NotFound(en("species {species} is not loaded", species=repr(sp)))
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
    record: int | None = None,
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
        with reader(engine) as s:
            run = ecosystems_run or latest_run(s, "ecosystems")
            parameters["ecosystems_run"] = run
            grid = ecosystem_grid(s, run, inputs)
            return _model(s, params_by_sp, grid, settings, inputs, progress)

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
                    "params": jsonable(p),
                    "source": f"Irbis analysis run {run_id}: Area of Habitat (Brooks et al. "
                    f"2019); {WATER_SOURCE}",
                    "licence": DERIVED_LICENCE,
                    "method": "modelled",
                },
            )
            s.execute(insert(m.Habitat), rows)
            summary.extend(records(hb.habitat_summary(h).assign(range=range_source)))
        return {"habitat": summary}

    return execute(
        engine, "habitat", parameters, compute, store, actor=actor, title=title, record=record
    )


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
    with reader(engine) as s:
        hrun = latest_run(s, "habitat")
        run = get_run(s, hrun)
        grid = ecosystem_grid(s, int(run.parameters["ecosystems_run"]))
        p = run.parameters["species"].get(species)
        if p is None:
            raise NotFound(
                en("habitat run {run} has no {species}", run=hrun, species=repr(species))
            )
        params = hb.default_params(species).with_changes(
            **{k: v for k, v in p.items() if k in hb.HabitatParams.__dataclass_fields__}
        )
        countries = programme_countries(s, Inputs())
        regions = read_table(s, m.Region)
        parts = _range_parts(regions, read_ecoregions(settings, Inputs()))
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
        before = write_atomic(finals[0], lambda p: hb.habitat_raster(grid, params, rng, p, parts))
        after = write_atomic(finals[1], lambda p: ls.clear_footprints(before, footprint, p))
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
            scenario = epoch == "if_built"
            register_raster(
                s,
                path,
                name=names[epoch],
                title=f"Habitat of {species} ({epoch.replace('_', ' ')})",
                kind="habitat",
                units="1 = habitat",
                source=f"Irbis habitat run {hrun}"
                + (f"; scenario: footprint of {threat} cleared" if scenario else ""),
                run_id=hrun,
                epoch=epoch,
                scenario=scenario,
                colormap={"1": "#8e24aa"},
            )
    return names

"""Gaps: habitat per species × ecosystem × country that no protected area, funded field site
or threat covers, with the ranked gap layer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import geopandas as gpd

from api.services.analyses.reading import (
    latest_run,
    pa_polygons,
    read_funded_sites,
    read_habitat,
    read_protected_areas,
    read_threats,
    reader,
)
from api.services.analyses.recorder import (
    ACTOR,
    Inputs,
    Progress,
    execute,
    record_versions,
    records,
    store_features,
)
from api.settings import Settings
from geo import funding as fd
from geo import gaps as gp
from geo import labels as lb
from geo.crs import STORAGE_EPSG

GAP_KEYS = ["species", "ecosystem", "iso3"]


def _gaps(
    hab: gpd.GeoDataFrame,
    pas: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    threats: gpd.GeoDataFrame,
    day: dt.date,
    min_gap_ha: float,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """The gap table and the ranked gap pieces, each species against its own funded sites."""
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
    record: int | None = None,
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
        with reader(engine) as s:
            run = habitat_run or latest_run(s, "habitat")
            parameters["habitat_run"] = run
            inputs.runs["habitat"] = run
            record_versions(s, ["protected_areas", "field_sites", "grants", "threats"], inputs)
            hab = read_habitat(s, run)
            pas = read_protected_areas(s)
            sites = read_funded_sites(s, day)
            threats = read_threats(s)
        if progress:
            progress("layers read")
        return _gaps(hab, pas, sites, threats, day, min_gap_ha)

    def store(s: Session, run_id: int, computed: Any) -> dict[str, Any]:
        table, gaps = computed
        cols = ["rank", "species", "ecosystem", "iso3", "area_ha", "method", "example_inputs"]
        n = store_features(s, run_id, "gap", gaps, [c for c in cols if c in gaps.columns])
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

    return execute(
        engine, "gaps", parameters, compute, store, actor=actor, title=title, record=record
    )


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
        "protected area": pa_polygons(pas) if not pas.empty else pas,
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

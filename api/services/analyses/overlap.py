"""Overlap: two or more store layers intersected, the pieces stored with areas and shares."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

import geopandas as gpd

from api.services.analyses.reading import read_layer, reader
from api.services.analyses.recorder import ACTOR, Inputs, execute, records, store_features
from api.settings import Settings
from geo import funding as fd
from geo import overlap as ov
from geo.errors import InvalidInput
from geo.messages import en


def run_overlap(
    engine: Engine,
    settings: Settings,
    layers: list[str],
    *,
    as_of: dt.date | None = None,
    actor: str = ACTOR,
    title: str | None = None,
    record: int | None = None,
) -> int:
    """Overlap two or more store layers and store the pieces with areas and shares. The
    field-site layer holds the sites funded on ``as_of`` (default today, stored with the
    run; :mod:`geo.funding`)."""
    if len(layers) < 2:
        raise InvalidInput(en("an overlap needs two or more layers"))
    if len(set(layers)) != len(layers):
        raise InvalidInput(en("name each layer once"))
    day = as_of or dt.date.today()
    parameters: dict[str, Any] = {"layers": layers, "as_of": day.isoformat()}
    if "field_sites" in layers:
        parameters["funded"] = fd.RULE

    def compute(inputs: Inputs) -> gpd.GeoDataFrame:
        with reader(engine) as s:
            data = {n: read_layer(s, n, inputs, day) for n in layers}
        return ov.overlap(data, id_cols=dict.fromkeys(layers, "id"))

    def store(s: Session, run_id: int, res: gpd.GeoDataFrame) -> dict[str, Any]:
        props = [c for c in res.columns if c != "geometry"]
        n = store_features(s, run_id, "overlap", res, props)
        return {
            "pieces": n,
            "total_ha": float(res["area_ha"].sum()) if n else 0.0,
            "table": records(ov.overlap_table(res)) if n else [],
        }

    return execute(
        engine, "overlap", parameters, compute, store, actor=actor, title=title, record=record
    )

"""Loss: habitat, park and ecosystem area inside threat footprints (by status and date) and,
given raster epochs, habitat change per protected area, funded field site and country."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import geopandas as gpd

from api.db import models as m
from api.services.analyses.reading import (
    pa_polygons,
    programme_countries,
    read_funded_sites,
    read_layer,
    read_protected_areas,
    read_threats,
    reader,
)
from api.services.analyses.recorder import (
    ACTOR,
    Inputs,
    execute,
    jsonable,
    record_versions,
    records,
    registered_raster,
    store_features,
)
from api.settings import Settings
from geo import funding as fd
from geo import loss as ls
from geo.errors import InvalidInput, NotFound
from geo.messages import en

_TABLES = ["threats", "threat_status_changes", "protected_areas", "field_sites", "grants"]


def _loss_layers(
    s: Session, inputs: Inputs, extra: Mapping[str, gpd.GeoDataFrame]
) -> dict[str, gpd.GeoDataFrame]:
    """The layers measured inside threat footprints: parks, habitat, ecosystems and extras."""
    layers: dict[str, gpd.GeoDataFrame] = {
        "protected_area": pa_polygons(read_protected_areas(s))[["id", "name", "geometry"]]
    }
    for kind in ("habitat", "ecosystems"):
        with contextlib.suppress(NotFound):
            layers[kind] = read_layer(s, kind, inputs)
    for name, layer in extra.items():
        if name in layers:
            raise InvalidInput(en("layer name {name} is taken; choose another", name=repr(name)))
        layers[name] = layer
    return layers


def _zones(s: Session, inputs: Inputs, day: dt.date) -> gpd.GeoDataFrame:
    """The zones of a raster series: protected areas, sites funded on ``day``, countries."""
    return ls.zones_from(
        {
            "protected_area": pa_polygons(read_protected_areas(s)),
            "field_site": read_funded_sites(s, day),
            "country": programme_countries(s, inputs)
            .rename(columns={"iso_a3": "iso"})
            .assign(id=lambda d: d["iso"]),
        }
    )


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
    record: int | None = None,
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
        with reader(engine) as s:
            record_versions(s, _TABLES, inputs)
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
            paths = {
                label: registered_raster(s, settings, name, inputs)
                for label, name in epochs.items()
            }
            zones = _zones(s, inputs, day) if paths else None
        loss = ls.footprint_loss(threats, layers)
        timeline = ls.loss_timeline(loss, sc)
        series = (
            ls.raster_change(paths, zones, "zone", habitat_values=habitat_values)
            if paths and zones is not None
            else pd.DataFrame()
        )
        if not series.empty and zones is not None:
            series = series.merge(pd.DataFrame(zones.drop(columns="geometry")), on="zone")
        return loss, timeline, series, _reported_figures(threats)

    def store(s: Session, run_id: int, computed: Any) -> dict[str, Any]:
        loss, timeline, series, reported = computed
        props = [c for c in loss.columns if c != "geometry"]
        n = store_features(s, run_id, "loss", loss, props)
        return {
            "footprint": records(loss),
            "timeline": records(timeline),
            "raster_series": records(series),
            "reported": jsonable(reported),
            "pieces": n,
        }

    return execute(
        engine, "loss", parameters, compute, store, actor=actor, title=title, record=record
    )

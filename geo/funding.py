"""Funded means funded then, for that species: the one rule for field sites of grants.

A field site counts as funded on a day when its grant was under way that day: the grant's
status is one of :data:`FUNDING_STATUSES` (``active`` or ``closed``: a proposal never funded
work, a terminated grant is not counted) and ``start_date <= day <= end_date``. For a
species-specific figure (a gap row, a planning feature), only the sites of grants whose
species include that species count. Coverage gaps, overlaps, loss zones, planning units and
the Kok-Jailau case page all apply this rule, and each states the day it was applied on.

Examples
--------
>>> import datetime as dt
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> sites = gpd.GeoDataFrame(
...     {"grant_status": ["active", "closed", "proposal"],
...      "start_date": [dt.date(2020, 1, 1), dt.date(2015, 1, 1), dt.date(2020, 1, 1)],
...      "end_date": [dt.date(2022, 12, 31), dt.date(2017, 12, 31), dt.date(2022, 12, 31)],
...      "species": [["Panthera uncia"], ["Gazella subgutturosa"], ["Panthera uncia"]]},
...     geometry=[Point(77, 43)] * 3, crs=4326)
>>> funded_sites(sites, dt.date(2021, 6, 30)).index.tolist()
[0]
>>> funded_sites(sites, dt.date(2016, 6, 30), species="Panthera uncia").index.tolist()
[]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TypeVar, cast

import numpy as np
import pandas as pd

from geo.errors import InvalidInput

#: Grant statuses whose field sites count as funded while the grant is under way.
FUNDING_STATUSES: tuple[str, ...] = ("active", "closed")

#: The rule in words, stored with every run that applies it.
RULE = (
    "field sites of grants under way on the date (status active or closed, "
    "start_date <= date <= end_date), and for a species' figures only grants whose "
    "species include it"
)

_COLUMNS = ("grant_status", "start_date", "end_date")

Sites = TypeVar("Sites", bound=pd.DataFrame)


def _day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise InvalidInput(f"the funding date must be a date, not {value!r}")


def funding_mask(grants: pd.DataFrame, on: dt.date) -> np.ndarray:
    """Per row of ``grants`` (columns ``grant_status``, ``start_date``, ``end_date``):
    whether the grant was funding work on ``on``."""
    missing = [c for c in _COLUMNS if c not in grants.columns]
    if missing:
        raise InvalidInput(f"the field sites lack grant column(s): {', '.join(missing)}")
    day = pd.Timestamp(_day(on))
    start = pd.to_datetime(grants["start_date"])
    end = pd.to_datetime(grants["end_date"])
    status = grants["grant_status"].astype(str).isin(FUNDING_STATUSES)
    return np.array(status & (start <= day) & (end >= day), dtype=bool)


def _has_species(values: Iterable[object], species: str) -> np.ndarray:
    return np.array(
        [species in list(v) if isinstance(v, list | tuple | np.ndarray) else False for v in values],
        dtype=bool,
    )


def funded_sites(sites: Sites, on: dt.date, *, species: str | None = None) -> Sites:
    """The field sites funded on ``on`` (see the module rule); with ``species``, only those of
    grants whose ``species`` (a list per site) include it."""
    if sites.empty:
        return sites
    keep = funding_mask(sites, on)
    if species is not None:
        if "species" not in sites.columns:
            raise InvalidInput("the field sites lack the grant's species (column species)")
        keep = keep & _has_species(sites["species"], species)
    return cast(Sites, sites[keep])


__all__ = ["FUNDING_STATUSES", "RULE", "funded_sites", "funding_mask"]

"""The funding rule (geo.funding): a site counts on a day when its grant was under way then
(active or closed, start_date <= day <= end_date) and, for a species, only if the grant is for
that species."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import geopandas as gpd
from shapely.geometry import Point

from geo.errors import InvalidInput
from geo.funding import FUNDING_STATUSES, funded_sites, funding_mask

D = dt.date


def _sites() -> gpd.GeoDataFrame:
    rows = [
        # name, status, start, end, species
        ("a", "active", D(2020, 1, 1), D(2022, 12, 31), ["Panthera uncia"]),
        ("b", "closed", D(2015, 1, 1), D(2017, 12, 31), ["Gazella subgutturosa"]),
        ("c", "proposal", D(2020, 1, 1), D(2022, 12, 31), ["Panthera uncia"]),
        ("d", "terminated", D(2020, 1, 1), D(2022, 12, 31), ["Panthera uncia"]),
        ("e", "closed", D(2019, 5, 1), D(2021, 4, 30), ["Gazella subgutturosa", "Panthera uncia"]),
    ]
    df = pd.DataFrame(rows, columns=["name", "grant_status", "start_date", "end_date", "species"])
    return gpd.GeoDataFrame(df, geometry=[Point(77, 43)] * len(df), crs=4326)


def _expected(sites: pd.DataFrame, day: dt.date, species: str | None = None) -> list[str]:
    """The rule written out row by row, independently of the vectorised one."""
    out = []
    for r in sites.itertuples():
        if r.grant_status not in ("active", "closed"):
            continue
        if not (r.start_date <= day <= r.end_date):
            continue
        if species is not None and species not in r.species:
            continue
        out.append(r.name)
    return out


@pytest.mark.parametrize(
    "day",
    [
        D(2014, 12, 31),
        D(2015, 1, 1),
        D(2017, 12, 31),
        D(2018, 1, 1),
        D(2019, 5, 1),
        D(2020, 1, 1),
        D(2021, 4, 30),
        D(2021, 5, 1),
        D(2022, 12, 31),
        D(2023, 1, 1),
    ],
)
def test_a_site_counts_only_while_its_grant_is_under_way(day: dt.date) -> None:
    sites = _sites()
    assert funded_sites(sites, day)["name"].tolist() == _expected(sites, day)
    for sp in ("Panthera uncia", "Gazella subgutturosa"):
        got = funded_sites(sites, day, species=sp)["name"].tolist()
        assert got == _expected(sites, day, sp), (day, sp)


def test_the_first_and_last_day_count_and_proposals_never_do() -> None:
    sites = _sites()
    assert funding_mask(sites, D(2020, 1, 1)).tolist() == [True, False, False, False, True]
    assert funding_mask(sites, D(2022, 12, 31)).tolist() == [True, False, False, False, False]
    assert set(FUNDING_STATUSES) == {"active", "closed"}


def test_a_site_of_a_grant_for_another_species_never_counts() -> None:
    sites = _sites()
    assert funded_sites(sites, D(2016, 6, 1), species="Panthera uncia").empty
    assert funded_sites(sites, D(2016, 6, 1), species="Gazella subgutturosa")["name"].tolist() == [
        "b"
    ]


def test_a_geodataframe_stays_one_with_its_crs() -> None:
    got = funded_sites(_sites(), D(2021, 1, 1))
    assert isinstance(got, gpd.GeoDataFrame) and got.crs is not None and got.crs.to_epsg() == 4326


def test_datetimes_are_read_as_their_day() -> None:
    sites = _sites()
    assert funding_mask(sites, dt.datetime(2022, 12, 31, 23, 59)).tolist()[0]


def test_missing_grant_columns_are_refused_with_a_message() -> None:
    with pytest.raises(InvalidInput, match="grant column"):
        funding_mask(_sites().drop(columns="end_date"), D(2021, 1, 1))
    with pytest.raises(InvalidInput, match="species"):
        funded_sites(_sites().drop(columns="species"), D(2021, 1, 1), species="Panthera uncia")
    with pytest.raises(InvalidInput, match="date"):
        funding_mask(_sites(), "2021-01-01")  # type: ignore[arg-type]

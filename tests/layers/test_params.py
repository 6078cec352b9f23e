"""Query parameters: bbox, datetime, properties, limits, CQL2 parsing (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from geo.errors import InvalidInput
from layers import cql
from layers.params import bbox_parts, check_limit, parse_bbox, parse_datetime, parse_properties

UTC = dt.UTC


def test_bbox_parses_four_or_six_numbers() -> None:
    assert parse_bbox("76.8,43,77.2,43.3") == (76.8, 43.0, 77.2, 43.3)
    assert parse_bbox("76,43,0,77,44,5000") == (76.0, 43.0, 77.0, 44.0)
    assert parse_bbox(None) is None


@pytest.mark.parametrize(
    "bad",
    [
        "1,2,3",
        "a,b,c,d",
        "0,0,200,10",
        "0,-91,1,1",
        "0,10,1,5",
        "nan,0,1,1",
        "1,2,3,4,5",
        "inf,0,1,1",
    ],
)
def test_bad_bbox_is_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_bbox(bad)


def test_bbox_across_the_antimeridian_splits() -> None:
    assert bbox_parts((170.0, -10.0, -170.0, 10.0)) == [
        (170.0, -10.0, 180.0, 10.0),
        (-180.0, -10.0, -170.0, 10.0),
    ]


def test_datetime_instants_dates_and_intervals() -> None:
    d = parse_datetime("2021-06-02")
    assert d is not None and d.start == dt.datetime(2021, 6, 2, tzinfo=UTC)
    assert d.end == dt.datetime(2021, 6, 3, tzinfo=UTC) and not d.end_inclusive
    i = parse_datetime("2020-01-01T00:00:00Z/..")
    assert i is not None and i.end is None and i.start == dt.datetime(2020, 1, 1, tzinfo=UTC)
    j = parse_datetime("../2020-12-31")
    assert j is not None and j.start is None and j.end == dt.datetime(2021, 1, 1, tzinfo=UTC)
    k = parse_datetime("2020-05-05T10:00:00+05:00")
    assert k is not None and k.start == k.end and k.end_inclusive


@pytest.mark.parametrize(
    "bad",
    ["yesterday", "2020-13-01", "../..", "2021-01-01/2020-01-01", "a/b/c", "2020-01-01T25:00:00Z"],
)
def test_bad_datetime_is_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_datetime(bad)


def test_properties_must_be_known() -> None:
    assert parse_properties("b,a", ["a", "b", "c"]) == ["b", "a"]
    assert parse_properties(None, ["a"]) is None
    with pytest.raises(InvalidInput, match="unknown properties 'x'"):
        parse_properties("a,x", ["a", "b"])


def test_limits() -> None:
    assert check_limit(10, 100) == 10
    for bad in (0, -1, 101):
        with pytest.raises(InvalidInput):
            check_limit(bad, 100)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("name = ", None),
        ("name = 'x'; DROP TABLE places", None),
        ("{not json", "cql2-json"),
        ('{"op": "=", "args": [{"property": "name"}, "x"]}', "sql"),
        ("42", None),
    ],
)
def test_bad_filters_are_invalid_input(text: str, lang: str | None) -> None:
    with pytest.raises(InvalidInput):
        cql.parse_filter(text, lang)


def test_json_filter_is_detected_without_filter_lang() -> None:
    node = cql.parse_filter('{"op": "=", "args": [{"property": "name"}, "Almaty"]}')
    assert type(node).__name__ == "Equal"

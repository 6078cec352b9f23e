"""Parsed CQL2 filters are kept by text (layers.cql.parse_filter): the same filter asked again
(the next page of results, or an attacker repeating a refused one) is not parsed again."""

from __future__ import annotations

import uuid

import pytest

from geo.errors import InvalidInput
from layers import cql


def unique(template: str) -> str:
    """A filter text no other test has parsed (the cache is the process's)."""
    return template.format(uuid.uuid4().hex)


def test_the_same_filter_is_parsed_once() -> None:
    text = unique("name = '{}' AND scalerank < 5")
    before = cql._parsed_cached.cache_info()
    first = cql.parse_filter(text)
    second = cql.parse_filter(text)
    after = cql._parsed_cached.cache_info()
    assert second is first
    assert after.misses == before.misses + 1
    assert after.hits == before.hits + 1
    # the language is part of the key once known: naming it finds the same tree
    assert cql.parse_filter(text, "cql2-text") is first


def test_limits_are_part_of_the_key() -> None:
    """A filter kept under generous limits is still refused under tighter ones."""
    text = unique("name = '{}' AND (scalerank < 5 OR (scalerank > 7 AND NOT scalerank = 9))")
    cql.parse_filter(text)
    with pytest.raises(InvalidInput, match="nested 3 levels deep; at most 2 are allowed"):
        cql.parse_filter(text, limits=cql.Limits(max_depth=2))
    assert cql.parse_filter(text) is cql.parse_filter(text)


def test_a_refusal_is_kept_and_raised_anew_each_time() -> None:
    text = unique("S_TOUCHES(geometry, geometry) OR name = '{}'")
    before = cql._parsed_cached.cache_info()
    errors = []
    for _ in range(2):
        with pytest.raises(InvalidInput) as caught:
            cql.parse_filter(text)
        errors.append(caught.value)
    after = cql._parsed_cached.cache_info()
    assert after.misses == before.misses + 1 and after.hits == before.hits + 1
    first, second = errors
    assert first is not second
    assert type(first) is type(second) is InvalidInput
    assert first.message == second.message
    assert "S_TOUCHES must compare the geometry with a literal geometry" in second.message


def test_long_filters_are_not_kept() -> None:
    terms = " OR ".join(f"scalerank = {i % 10}" for i in range(300))
    text = unique("name = '{}' OR ") + terms
    assert len(text) > cql.PARSE_CACHE_MAX_CHARS
    before = cql._parsed_cached.cache_info()
    assert cql.parse_filter(text) is not cql.parse_filter(text)
    assert cql._parsed_cached.cache_info() == before

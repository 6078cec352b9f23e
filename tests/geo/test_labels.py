"""The weakest-input rule for derived records (example < modelled < observed)."""

from __future__ import annotations

import itertools

import pytest

from geo.errors import InvalidInput
from geo.labels import ORDER, derived_method, weakest


def test_weakest_is_the_minimum_in_the_order_for_every_combination():
    for n in (1, 2, 3):
        for combo in itertools.product(ORDER, repeat=n):
            expected = next(m for m in ("example", "modelled", "observed") if m in combo)
            assert weakest(combo) == expected, combo


def test_a_derived_figure_is_at_best_modelled():
    assert derived_method([]) == "modelled"
    assert derived_method(["observed", "observed"]) == "modelled"
    assert derived_method(["observed", "example"]) == "example"


def test_unknown_or_missing_methods_are_refused():
    with pytest.raises(InvalidInput, match="no input method"):
        weakest([])
    with pytest.raises(InvalidInput, match="unknown method"):
        weakest(["observed", "guessed"])

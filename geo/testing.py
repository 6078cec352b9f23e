"""Geometry-aware asserts for tests: compare meaning (normalised, with a tolerance), not text."""

from __future__ import annotations

import shapely
from shapely.geometry.base import BaseGeometry


def assert_geometries_equal(
    left: BaseGeometry, right: BaseGeometry, *, tolerance: float = 1e-9
) -> None:
    """Assert that two geometries are equal up to vertex order and ``tolerance`` (in CRS units)."""
    a, b = shapely.normalize(left), shapely.normalize(right)
    if not shapely.equals_exact(a, b, tolerance=tolerance):
        sym = shapely.symmetric_difference(a, b)
        raise AssertionError(
            f"geometries differ (symmetric difference area {sym.area:.3g}):\n"
            f"  left:  {a.wkt[:200]}\n  right: {b.wkt[:200]}"
        )


def assert_relative_close(actual: float, expected: float, rel: float, what: str = "value") -> None:
    """Assert ``|actual - expected| <= rel * |expected|`` with a readable message."""
    if abs(actual - expected) > rel * abs(expected):
        raise AssertionError(
            f"{what}: {actual:.6g} differs from {expected:.6g} by "
            f"{abs(actual - expected) / abs(expected):.3%} (allowed {rel:.3%})"
        )

"""Property-based testing of the OGC API routes: no generated request gets a 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz import fuzz_operations

COLLECTIONS = ["places", "protected_areas", "occurrences", "threats", "field_sites", "rivers"]


def _prepare(case: Any, n: int) -> None:
    params = case.path_parameters or {}
    if "collectionId" in params and n % 2 == 0:
        params["collectionId"] = COLLECTIONS[n % len(COLLECTIONS)]  # half real layers
    if "tileMatrixSetId" in params and n % 3 == 0:
        params["tileMatrixSetId"] = "WebMercatorQuad"
    if "name" in params and n % 2 == 0:
        params["name"] = "relief"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ogc_operations_never_answer_5xx(live_server) -> None:  # type: ignore[no-untyped-def]
    r = fuzz_operations(
        live_server,
        r"^/(collections|tileMatrixSets|rasters|conformance)",
        examples=20,
        prepare=_prepare,
    )
    assert r.operations >= 12 and r.statuses[200] > 0
    assert r.failures == []

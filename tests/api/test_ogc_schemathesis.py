"""Property-based testing of the OGC API routes: every generated request gets a response the
OpenAPI description (``/api``) documents (its status, its media type, a body valid against
its schema), and none a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz import fuzz_operations

pytestmark = pytest.mark.cleaned_up  # the fuzzed app commits

COLLECTIONS = ["places", "protected_areas", "monitoring_points", "threats", "field_sites", "rivers"]
#: The landing page, conformance, collections and everything under them (queryables, items,
#: tilesets, TileJSON, styles, tiles, downloads), tile matrix sets, dataset tiles, rasters.
OGC_PATHS = r"^/($|conformance|collections|tileMatrixSets|tiles|rasters)"
#: A WebMercatorQuad tile over the region (Kyrgyzstan, zoom 6), so valid tile requests draw
#: real features.
TILE = {"tileMatrix": 6, "tileRow": 24, "tileCol": 44}


def _first_ids(base_url: str) -> dict[str, str]:
    ids = {}
    for cid in COLLECTIONS:
        r = httpx.get(f"{base_url}/collections/{cid}/items?limit=1", timeout=60)
        assert r.status_code == 200 and r.json()["features"], (cid, r.status_code)
        ids[cid] = str(r.json()["features"][0]["id"])
    return ids


def _preparer(ids: dict[str, str]) -> Any:
    def prepare(case: Any, n: int) -> dict[str, str] | None:
        """Every other request names real resources (a collection, its first feature, a tile
        over the region, the relief raster), and one in four of those drops the generated
        query too, so documents, features and tiles are checked, not only refusals; one in
        five asks for HTML, as a browser would."""
        params = case.path_parameters or {}
        if n % 2 == 0:
            cid = COLLECTIONS[(n // 2) % len(COLLECTIONS)]
            real = {
                "collectionId": cid,
                "featureId": ids[cid],
                "tileMatrixSetId": "WebMercatorQuad",
                "name": "relief",
                **TILE,
            }
            for key in params:
                params[key] = real.get(key, params[key])
            if n % 4 == 0:
                case.query = {}
        return {"Accept": "text/html"} if n % 5 == 0 else None

    return prepare


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ogc_responses_are_the_documented_ones(live_server: str) -> None:
    r = fuzz_operations(
        live_server,
        OGC_PATHS,
        examples=12,
        prepare=_preparer(_first_ids(live_server)),
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
        derandomize=True,
    )
    assert r.operations >= 20 and r.statuses[400] > 0 and r.statuses[404] > 0
    # every operation's documents, features, tiles or files were checked, not only refusals
    assert [op for op in r.by_operation if not r.by_operation[op][200]] == []
    assert r.failures == []

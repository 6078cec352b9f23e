"""Property-based testing of the OGC API routes: no generated request gets a 5xx."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

OURS = r"^/(collections|tileMatrixSets|rasters|conformance)"
EXAMPLES = 30
COLLECTIONS = ["places", "protected_areas", "occurrences", "threats", "field_sites", "rivers"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ogc_operations_never_answer_5xx(live_server) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_url(f"{live_server}/api").include(path_regex=OURS)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            n = sum(statuses.values())
            params = case.path_parameters or {}
            if "collectionId" in params and n % 2 == 0:
                params["collectionId"] = COLLECTIONS[n % len(COLLECTIONS)]  # half real layers
            if "tileMatrixSetId" in params and n % 3 == 0:
                params["tileMatrixSetId"] = "WebMercatorQuad"
            if "name" in params and n % 2 == 0:
                params["name"] = "relief"
            response = case.call(timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query}: {response.status_code}"
                )

        run()
    print(f"{operations} operations, responses by status: {dict(statuses)}")
    assert operations >= 12 and statuses[200] > 0
    assert failures == []

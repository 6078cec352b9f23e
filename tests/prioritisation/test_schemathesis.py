"""Property-based API testing of /prioritisation: no generated request gets a 5xx.

Writes are sent with an analyst's API token, so they get past authorisation to validation,
the store and the solver.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from api.auth.testing import make_token, make_user

OURS = r"^/prioritisation"
EXAMPLES = 12


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_prioritisation_operations_never_answer_5xx(live_server, engine, grid_id) -> None:  # type: ignore[no-untyped-def]
    token = make_token(engine, make_user(engine, roles=["analyst"]))
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
            if (
                isinstance(case.body, dict)
                and "grid_id" in case.body
                and sum(statuses.values()) % 2
            ):
                case.body["grid_id"] = grid_id  # half the time, a grid that exists
                case.body["time_limit_s"] = min(float(case.body.get("time_limit_s", 5) or 5), 5.0)
                case.body["portfolio_runs"] = 0
            if isinstance(case.body, dict) and isinstance(case.body.get("resolution"), int):
                case.body["resolution"] = min(case.body["resolution"], 4)  # keep grids small
            if case.path_parameters and sum(statuses.values()) % 3 == 0:
                for key in case.path_parameters:
                    case.path_parameters[key] = 1
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r}: {response.status_code}"
                )

        run()
    print(f"{operations} operations, responses by status: {dict(statuses)}")
    assert operations >= 8 and sum(statuses.values()) >= operations
    assert failures == []

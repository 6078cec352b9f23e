"""Property-based API testing: schemathesis over the OpenAPI schema (/api) finds no 5xx.

The accounts and field-site operations are exercised with a grantee's API token (so writes
get past authorisation and reach the parsers). The other grant routes have their own runs
(tests/grants, tests/monitoring); a bounded number of examples per operation keeps this short.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.auth.testing import make_token, make_user
from tests.fuzz import fuzz_operations

pytestmark = pytest.mark.cleaned_up  # the fuzzed app commits

GRANT = "SOS-CA-EX-07"
#: the account and its tokens, a grant's field sites and their versions
ROUTES = r"^/api/(account(/.*)?|grants/\{code\}/sites(/.*)?)$"


@pytest.mark.timeout(180)
def test_sites_and_account_operations_never_answer_5xx(live_server, engine) -> None:  # type: ignore[no-untyped-def]
    user = make_user(engine, roles=["grantee"], grants=[GRANT])

    def prepare(case: Any, n: int) -> dict[str, str]:
        if case.path_parameters and "code" in case.path_parameters and n % 2:
            case.path_parameters["code"] = GRANT  # half the time, a grant the user holds
        # a fresh token each time: a generated DELETE may revoke the previous one
        return {"Authorization": f"Bearer {make_token(engine, user)}"}

    r = fuzz_operations(live_server, ROUTES, examples=15, prepare=prepare, timeout=30)
    assert r.operations == 10 and sum(r.statuses.values()) >= r.operations
    assert r.failures == []

"""schemathesis over the grant routes (/api/grants, /api/portfolio): no generated request
gets a 5xx, as an analyst (writes reach the checks) and as a grantee (narrative edits only)."""

from __future__ import annotations

from typing import Any

import pytest

from api.auth.testing import make_token, make_user
from tests.fuzz import fuzz_operations

pytestmark = pytest.mark.cleaned_up  # the fuzzed app commits

GRANT = "SOS-CA-EX-08"
ROUTES = r"^/(api/(portfolio(\.\{fmt\})?|grants(/import|/\{code\}(/close|/history|/page)?)?)|grants/\{code\}/feed\.atom)$"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("role", "grants"), [("analyst", []), ("grantee", [GRANT])])
def test_grant_operations_never_answer_5xx(live_server, engine, role, grants) -> None:  # type: ignore[no-untyped-def]
    user = make_user(engine, roles=[role], grants=grants)
    token = make_token(engine, user)

    def prepare(case: Any, n: int) -> dict[str, str]:
        if case.path_parameters and "code" in case.path_parameters and n % 2:
            case.path_parameters["code"] = GRANT  # half the time, a grant that exists
        return {"Authorization": f"Bearer {token}"}

    r = fuzz_operations(live_server, ROUTES, examples=15, prepare=prepare, timeout=30)
    assert r.operations == 11
    assert r.statuses[200] + r.statuses[201] > 0
    assert r.failures == []

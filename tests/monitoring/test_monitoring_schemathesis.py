"""schemathesis over the monitoring routes: no generated request gets a 5xx, as a grantee of
the grant (submissions reach the checks), as an analyst (reviews) and as an admin (the
catalogue)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from api.auth.testing import make_token, make_user
from tests.fuzz import fuzz_operations
from tests.monitoring.conftest import GRANT

pytestmark = pytest.mark.cleaned_up  # the fuzzed app commits

ROUTES = r"^/(api/(monitoring/.*|grants/\{code\}/monitoring(/csv)?)|monitoring/evidence/.*)$"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("role", "grants"), [("grantee", [GRANT]), ("analyst", []), ("admin", [])])
def test_monitoring_operations_never_answer_5xx(live_server, engine, role, grants) -> None:  # type: ignore[no-untyped-def]
    user = make_user(engine, roles=[role], grants=grants)
    token = make_token(engine, user)

    def prepare(case: Any, n: int) -> dict[str, str]:
        if case.path_parameters and "code" in case.path_parameters and n % 2:
            case.path_parameters["code"] = GRANT  # half the time, a grant that exists
        return {"Authorization": f"Bearer {token}"}

    try:
        r = fuzz_operations(live_server, ROUTES, examples=15, prepare=prepare, timeout=30)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM monitoring_records WHERE method <> 'example'"))
            conn.execute(
                text(
                    "DELETE FROM monitoring_indicators i WHERE i.created_at > now() - "
                    "interval '1 hour' AND NOT EXISTS (SELECT FROM monitoring_records r "
                    "WHERE r.indicator_id = i.id)"
                )
            )
    assert r.operations == 11  # with the resubmission of a returned record
    assert r.statuses[200] + r.statuses[201] > 0
    assert r.failures == []

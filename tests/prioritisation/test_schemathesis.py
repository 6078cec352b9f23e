"""Property-based API testing of /prioritisation: no generated request gets a 5xx.

Writes are sent with an analyst's API token, so they get past authorisation to validation,
the store and the solver.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.auth.testing import make_token, make_user
from tests.fuzz import fuzz_operations

#: The live server's app commits; the runs it starts are waited for (:func:`_runs_ended`).
pytestmark = pytest.mark.cleaned_up

LATEST = text(
    "SELECT (SELECT coalesce(max(id), 0) FROM planning_grids),"
    " (SELECT coalesce(max(id), 0) FROM prioritisation_scenarios)"
)
AT_WORK = text(
    "SELECT (SELECT count(*) FROM planning_grids WHERE id > :g"
    " AND inputs->>'status' = 'building')"
    " + (SELECT count(*) FROM prioritisation_scenarios WHERE id > :s"
    " AND status IN ('pending', 'running'))"
)


def _runs_ended(engine: Engine, since: tuple[int, int], timeout: float) -> bool:
    """Whether the grids and plans made after ``since`` (:data:`LATEST`), built and solved on
    the server's background runner, have all ended within ``timeout`` seconds: what they
    write is then written before the module's end, and deleted with the rest."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            if not conn.execute(AT_WORK, {"g": since[0], "s": since[1]}).scalar_one():
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_prioritisation_operations_never_answer_5xx(live_server, engine, grid_id) -> None:  # type: ignore[no-untyped-def]
    token = make_token(engine, make_user(engine, roles=["analyst"]))
    with engine.connect() as conn:
        since = tuple(conn.execute(LATEST).one())

    def prepare(case: Any, n: int) -> dict[str, str]:
        body = case.body
        if isinstance(body, dict) and "grid_id" in body:
            if n % 2:
                body["grid_id"] = grid_id  # half the time, a grid that exists
            # each plan small, whether the value was generated or left to its default: a
            # bounded solver time, few re-solves
            for key, most in (("time_limit_s", 5), ("portfolio_runs", 1), ("replacement_units", 2)):
                value = body.get(key, most)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    body[key] = min(value, most)
        if (
            isinstance(body, dict)
            and case.method == "POST"
            and case.path == "/prioritisation/grids"
        ):
            # the coarsest grid (the build is the same code), unless out of range below it;
            # 6.0 is a resolution too (a finer grid takes minutes: see test_async_runs.py)
            value = body.get("resolution", 2)
            if isinstance(value, int | float) and not isinstance(value, bool):
                body["resolution"] = min(value, 2)
        if case.path_parameters and n % 3 == 0:
            for key in case.path_parameters:
                case.path_parameters[key] = 1
        return {"Authorization": f"Bearer {token}"}

    r = fuzz_operations(live_server, r"^/prioritisation", examples=8, prepare=prepare)
    assert r.operations >= 8 and sum(r.statuses.values()) >= r.operations
    assert r.failures == []
    assert _runs_ended(engine, since, timeout=120), "the runs started by the requests did not end"

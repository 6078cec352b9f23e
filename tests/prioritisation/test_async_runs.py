"""The JSON API's long runs: with ``Prefer: respond-async`` (RFC 7240), and for a grid fine
enough to take minutes, a grid or a scenario is answered at once with 202 and its Location,
and built or solved on the app's background thread, whose status any client can poll. What can
be refused at once is still refused before anything is stored.

These tests commit (the work runs on a thread with connections of its own) and delete what they
made after (``cleaned_up``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import csrf_from, make_token, make_user
from api.respond_async import prefers_async
from api.routers import prioritisation as router
from tests.prioritisation.runs import accepted, count_rows, wait_until_ended

pytestmark = pytest.mark.usefixtures("cleaned_up")


def _bearer(engine: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(engine, make_user(engine, roles=['analyst']))}"}


def _grid(resolution: int) -> dict[str, Any]:
    return {
        "name": f"async grid {uuid.uuid4().hex[:8]}",
        "resolution": resolution,
        "countries": ["KGZ"],
        "habitat": "regions",
    }


@pytest.mark.parametrize(
    ("prefer", "asked"),
    [
        ("respond-async", True),
        ("RESPOND-ASYNC", True),
        ("wait=10, respond-async", True),
        ("respond-async; foo=bar", True),
        (' return=minimal , respond-async="1"', True),
        (None, False),
        ("", False),
        ("wait=10", False),
        ("respond-asynchronously", False),
        ("return=respond-async", False),
    ],
)
def test_the_prefer_header_is_read_as_rfc_7240_says(prefer: str | None, asked: bool) -> None:
    assert prefers_async(prefer) is asked


def test_a_grid_asked_asynchronously_is_answered_at_once_and_built_in_the_background(
    client: Any, engine: Engine
) -> None:
    headers = _bearer(engine)
    body = _grid(2)
    r = client.post(
        "/prioritisation/grids", json=body, headers={**headers, "Prefer": "respond-async"}
    )
    started = accepted(r, "/prioritisation/grids/{id}", "/prioritisation/grids/{id}/status")
    assert started["status"] == "building" and started["n_units"] == 0
    done = wait_until_ended(client, started["status_url"])
    assert done["status"] == "ready" and done["succeeded"], done
    assert done["message"] == "" and done["error"] is None  # not "Waiting to start"
    grid = client.get(r.headers["location"]).json()
    assert grid["name"] == body["name"] and grid["n_units"] > 0 and grid["countries"] == ["KGZ"]
    assert grid["inputs"]["habitat_source"].startswith("named-regions")
    # the same name again is refused at once, asynchronously or not, and nothing is stored
    before = count_rows(engine, "planning_grids")
    for prefer in ("respond-async", None):
        extra = {"Prefer": prefer} if prefer else {}
        again = client.post("/prioritisation/grids", json=body, headers={**headers, **extra})
        assert again.status_code == 409 and "exists already" in again.json()["description"]
    assert count_rows(engine, "planning_grids") == before


def test_a_fine_grid_is_built_in_the_background_unasked(client: Any, engine: Engine) -> None:
    """A resolution 5 grid (minutes over the four countries) is never held in a request."""
    headers = _bearer(engine)
    r = client.post(
        "/prioritisation/grids", json=_grid(router.ASYNC_FROM_RESOLUTION), headers=headers
    )
    # not asked for: the server chose it (no Preference-Applied)
    started = accepted(
        r, "/prioritisation/grids/{id}", "/prioritisation/grids/{id}/status", asked=False
    )
    assert started["status"] == "building" and started["resolution"] == 5
    done = wait_until_ended(client, started["status_url"])
    assert done["status"] == "ready", done
    assert client.get(r.headers["location"]).json()["n_units"] > 0
    # a coarser grid is still answered when it is built
    small = client.post("/prioritisation/grids", json=_grid(2), headers=headers)
    assert small.status_code == 201 and small.json()["status"] == "ready"


def test_unknown_countries_are_refused_before_anything_is_started(
    client: Any, engine: Engine
) -> None:
    before = count_rows(engine, "planning_grids")
    r = client.post(
        "/prioritisation/grids",
        json={**_grid(6), "countries": ["XXX"]},
        headers={**_bearer(engine), "Prefer": "respond-async"},
    )
    assert r.status_code == 400 and "XXX" in r.json()["description"]
    assert count_rows(engine, "planning_grids") == before


def test_only_analysts_start_runs_asynchronously(client: Any, engine: Engine) -> None:
    grantee = make_token(engine, make_user(engine, roles=["grantee"]))
    before = count_rows(engine, "planning_grids")
    for headers in ({}, {"Authorization": f"Bearer {grantee}"}):
        r = client.post(
            "/prioritisation/grids", json=_grid(6), headers={**headers, "Prefer": "respond-async"}
        )
        assert r.status_code in (401, 403)
    assert count_rows(engine, "planning_grids") == before


def test_a_scenario_asked_asynchronously_is_solved_in_the_background(
    client: Any, engine: Engine, grid_id: int, resort: str
) -> None:
    headers = {**_bearer(engine), "Prefer": "respond-async"}
    body = {"name": "async plan", "grid_id": grid_id, "portfolio_runs": 1, "replacement_units": 1}
    body["lock_out_threats"] = [resort]
    r = client.post("/prioritisation/scenarios", json=body, headers=headers)
    started = accepted(r, "/prioritisation/scenarios/{id}", "/prioritisation/scenarios/{id}/status")
    assert started["status"] in ("pending", "running")
    done = wait_until_ended(client, started["status_url"])
    assert done["status"] == "solved" and done["succeeded"], done
    solved = client.get(r.headers["location"]).json()
    assert solved["parameters"]["lock_out_threats"] == [resort] and solved["summary"]
    assert client.get(f"/prioritisation/scenarios/{started['id']}/results").status_code == 200


def test_an_infeasible_scenario_asked_asynchronously_ends_naming_the_features(
    client: Any, engine: Engine, grid_id: int, resort: str
) -> None:
    headers = {**_bearer(engine), "Prefer": "respond-async"}
    body = {
        "name": "async infeasible",
        "grid_id": grid_id,
        "target": 1.0,
        "lock_out_threats": [resort],
        "portfolio_runs": 0,
    }
    r = client.post("/prioritisation/scenarios", json=body, headers=headers)
    assert r.status_code == 202, r.text
    done = wait_until_ended(client, r.json()["status_url"])
    assert done["status"] == "infeasible" and not done["succeeded"]
    assert done["error"]
    failed = client.get(r.headers["location"]).json()
    assert failed["status"] == "infeasible" and failed["error"]["details"]["features"]
    # what can be refused at once still is, with nothing stored
    before = count_rows(engine, "prioritisation_scenarios")
    unknown = client.post(
        "/prioritisation/scenarios", json={**body, "grid_id": 999999}, headers=headers
    )
    assert unknown.status_code == 404
    bad = client.post(
        "/prioritisation/scenarios",
        json={**body, "lock_out_threats": ["No such threat"]},
        headers=headers,
    )
    assert bad.status_code == 400 and "No such threat" in bad.json()["description"]
    assert count_rows(engine, "prioritisation_scenarios") == before


def test_the_openapi_document_tells_of_the_202_and_the_prefer_header(client: Any) -> None:
    paths = client.get("/api", headers={"Accept": "application/json"}).json()["paths"]
    for path in ("/prioritisation/grids", "/prioritisation/scenarios"):
        post = paths[path]["post"]
        assert {"201", "202"} <= set(post["responses"])
        assert "Prefer" in [p["name"] for p in post["parameters"] if p["in"] == "header"]


def test_while_the_server_stops_a_run_is_refused_to_send_again_with_nothing_stored(
    login_as: Any, app: Any, engine: Engine, grid_id: int
) -> None:
    analyst = login_as("analyst")
    form_token = csrf_from(analyst.get("/prioritisation/grids/new").text)
    app.state.runner.shutdown(wait_s=0)  # as the lifespan does at exit
    grids = count_rows(engine, "planning_grids")
    scenarios = count_rows(engine, "prioritisation_scenarios")
    headers = {**_bearer(engine), "Prefer": "respond-async"}
    for path, body in (
        ("/prioritisation/grids", _grid(2)),
        ("/prioritisation/grids", _grid(6)),
        ("/prioritisation/scenarios", {"name": "late", "grid_id": grid_id}),
    ):
        r = analyst.post(path, json=body, headers=headers)
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
        assert r.json()["code"] == "service_unavailable"
        assert "send the request again" in r.json()["description"]
    page = analyst.post(
        "/prioritisation/grids/new?lang=ru",
        data={"csrf_token": form_token, "name": "late", "countries": "KGZ"},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 503 and "отправьте запрос ещё раз" in page.text
    assert count_rows(engine, "planning_grids") == grids
    assert count_rows(engine, "prioritisation_scenarios") == scenarios

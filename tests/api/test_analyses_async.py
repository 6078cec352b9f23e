"""Analyses off the request: with ``Prefer: respond-async`` (RFC 7240), and for an ecosystem
classification fine enough to take minutes, ``POST /analyses`` records the run as ``running``
and answers 202 at once; the run is computed on the app's background thread, keeps a heartbeat
while it works, and its record tells how it ended. A run whose server went away is marked
stopped before it is shown; a run marked stopped is never written over; while the server stops,
a run is refused (503) with nothing stored.

These tests commit (the work runs on a thread with connections of its own) and delete what they
made after (``cleaned_up``)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, text, update

from api.auth.testing import make_token, make_user
from api.db import models as m
from api.routers import analyses as router
from api.services import analyses as an
from api.services import background as bg
from api.settings import Settings
from geo.errors import NotFound
from tests.prioritisation.runs import accepted, count_rows

pytestmark = pytest.mark.usefixtures("cleaned_up")

ASYNC = {"Prefer": "respond-async"}
#: Protected areas against field sites, while the example grants were under way: seconds.
OVERLAP = {
    "kind": "overlap",
    "parameters": {"layers": ["protected_areas", "field_sites"], "as_of": "2021-06-30"},
}


def _bearer(engine: Engine, role: str = "analyst") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(engine, make_user(engine, roles=[role]))}"}


def _until_ended(
    client: Any, run_id: int, headers: dict[str, str] | None = None, timeout: float = 180
) -> dict[str, Any]:
    """Poll a run's record as a client of the API does, until it is no longer running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/analyses/{run_id}?f=json", headers=headers).json()
        if body["status"] != "running":
            return body
        time.sleep(0.3)
    raise AssertionError(f"analysis run {run_id} did not end in {timeout} s")


def _row(engine: Engine, run_id: int) -> m.AnalysisRun:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        run = s.get(m.AnalysisRun, run_id)
        assert run is not None
        s.expunge(run)
        return run


def _started(engine: Engine, *, beat_ago_s: float = 0) -> int:
    """A run recorded as ``running`` whose heartbeat was ``beat_ago_s`` seconds ago."""
    rid = an.start_run(engine, "overlap", {"layers": ["a", "b"]}, actor="tests", title=None)
    with engine.begin() as conn:
        conn.execute(
            update(m.AnalysisRun)
            .where(m.AnalysisRun.id == rid)
            .values(heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=beat_ago_s))
        )
    return rid


def test_an_analysis_asked_asynchronously_is_answered_at_once_and_computed_behind(
    client: Any, engine: Engine
) -> None:
    headers = _bearer(engine)
    r = client.post("/analyses", json=OVERLAP | {"title": "async"}, headers=headers | ASYNC)
    started = accepted(r, "/analyses/{id}", "/analyses/{id}?f=json")
    rid = started["id"]
    assert started["kind"] == "overlap" and started["title"] == "async"
    assert started["finished_at"] is None and started["created_by"]
    ended = _until_ended(client, rid)
    assert ended["status"] == "succeeded", ended
    assert ended["finished_at"] and ended["inputs"]["tables"]
    assert (
        ended["title"] == "async"
        and ended["parameters"]["layers"] == OVERLAP["parameters"]["layers"]
    )
    # the same analysis inside the request gives the same numbers
    r = client.post("/analyses", json=OVERLAP, headers=headers)
    assert r.status_code == 201, r.text
    now = r.json()
    assert ended["results"]["table"] == now["results"]["table"] and now["results"]["table"]
    assert (
        client.get(f"/analyses/{rid}/features").json()["features"]
        and client.get(f"/analyses/{rid}/table.csv").status_code == 200
    )
    heartbeat = _row(engine, rid).heartbeat_at
    assert heartbeat is not None  # kept while it worked (written at its start at the least)


def test_a_fine_ecosystem_classification_goes_behind_unasked(
    client: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the threshold is 0.5' (two minutes of work at the finest); here a coarse classification
    # is made "fine" so that the test takes seconds
    monkeypatch.setattr(router, "ASYNC_FINER_THAN_ARCMIN", 3.0)
    body = {"kind": "ecosystems", "parameters": {"resolution_arcmin": 2.5, "fine": None}}
    r = client.post("/analyses", json=body, headers=_bearer(engine))
    # not asked for: the server chose it (no Preference-Applied)
    started = accepted(r, "/analyses/{id}", "/analyses/{id}?f=json", asked=False)
    ended = _until_ended(client, started["id"])
    assert ended["status"] == "succeeded", ended
    assert ended["parameters"]["resolution_deg"] == pytest.approx(2.5 / 60)
    assert ended["results"]["areas"]
    assert any(d["rel"] == "raster" for d in ended["downloads"])
    assert router.ASYNC_FINER_THAN_ARCMIN > 0.5 and body["parameters"]["resolution_arcmin"] >= 1
    # above the threshold, and not asked for: inside the request, as before
    r = client.post(
        "/analyses",
        json={"kind": "ecosystems", "parameters": {"resolution_arcmin": 5, "fine": None}},
        headers=_bearer(engine),
    )
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text


def test_a_run_that_fails_behind_is_recorded_failed_with_its_reason(
    client: Any, engine: Engine
) -> None:
    headers = _bearer(engine)
    before = count_rows(engine, "analysis_runs")
    for body, said in (
        # refused by the analysis itself before it computes
        ({"kind": "overlap", "parameters": {"layers": ["threats", "threats"]}}, "name each layer"),
        ({"kind": "habitat", "parameters": {"species": ["Panthera leo"]}}, "no default habitat"),
        # refused while it reads its inputs, inside the recorder
        ({"kind": "habitat", "parameters": {"ecosystems_run": 987654}}, "987654"),
    ):
        r = client.post("/analyses", json=body, headers=headers | ASYNC)
        assert r.status_code == 202, r.text
        ended = _until_ended(client, r.json()["id"], headers)
        assert ended["status"] == "failed" and said in ended["error"], ended
        assert ended["finished_at"] and ended["results"] is None
        assert ended["error_detail"] is None  # a refusal, not an unexpected error
        ru = client.get(f"/analyses/{ended['id']}?f=json&lang=ru").json()
        assert ru["local_error"] and ru["local_error"] != ru["error"]
    assert count_rows(engine, "analysis_runs") == before + 3  # one record each, no more


def test_what_can_be_refused_at_once_is_refused_before_anything_is_stored(
    client: Any, engine: Engine
) -> None:
    before = count_rows(engine, "analysis_runs")
    assert client.post("/analyses", json=OVERLAP, headers=ASYNC).status_code == 401
    r = client.post("/analyses", json=OVERLAP, headers=_bearer(engine, "grantee") | ASYNC)
    assert r.status_code == 403
    headers = _bearer(engine) | ASYNC
    for body in (
        {"kind": "gaps", "parameters": {"min_gap_ha": -1}},
        {"kind": "overlap", "parameters": {"layers": ["threats"]}},
        {"kind": "ecosystems", "parameters": {"resolution_arcmin": 0.05}},
        {"kind": "ecosystems", "parameters": {"colour": "red"}},
        {"kind": "poaching", "parameters": {}},
    ):
        r = client.post("/analyses", json=body, headers=headers)
        assert 400 <= r.status_code < 500 and r.json().get("code"), (body, r.text)
    assert count_rows(engine, "analysis_runs") == before


def test_while_the_server_stops_an_analysis_is_refused_to_send_again_with_nothing_stored(
    client: Any, app: Any, engine: Engine
) -> None:
    app.state.runner.shutdown(wait_s=0)  # as the lifespan does at exit
    before = count_rows(engine, "analysis_runs")
    fine = {"kind": "ecosystems", "parameters": {"resolution_arcmin": 0.2}}
    for body, headers in ((OVERLAP, ASYNC), (fine, {})):
        r = client.post("/analyses", json=body, headers=_bearer(engine) | headers)
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, r.text
        assert r.json()["code"] == "service_unavailable"
    assert count_rows(engine, "analysis_runs") == before


def test_a_run_whose_server_went_away_is_marked_stopped_before_it_is_shown(
    client: Any, engine: Engine
) -> None:
    stale = _started(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    alive = _started(engine, beat_ago_s=1)
    body = client.get(f"/analyses/{stale}?f=json").json()
    assert body["status"] == "failed" and body["finished_at"]
    assert body["error"] == "The server stopped while this ran; run it again."
    page = client.get(f"/analyses/{stale}?lang=ru", headers={"Accept": "text/html"}).text
    assert "Сервер остановился, пока шёл этот расчёт" in page
    # a run that still beats is left at work, and its page says so and follows its record
    assert client.get(f"/analyses/{alive}?f=json").json()["status"] == "running"
    listed = {r["id"]: r["status"] for r in client.get("/analyses?f=json").json()["runs"]}
    assert listed[alive] == "running" and listed[stale] == "failed"
    page = client.get(f"/analyses/{alive}?lang=kk", headers={"Accept": "text/html"}).text
    assert "Бұл талдау серверде әлі орындалып жатыр" in page
    assert f'data-poll="/analyses/{alive}?f=json"' in page and "/static/analyses.js" in page
    assert 'http-equiv="refresh"' not in page  # no timed reload (WCAG 2.2.1)
    downloads = client.get(f"/analyses/{alive}?f=json").json()["downloads"]
    assert [d["rel"] for d in downloads] == ["results"]  # nothing to download yet
    ended = client.get(f"/analyses/{stale}", headers={"Accept": "text/html"}).text
    assert "data-poll" not in ended and "/static/analyses.js" not in ended


def test_the_list_marks_stale_runs_too(client: Any, engine: Engine) -> None:
    stale = _started(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    listed = {r["id"]: r for r in client.get("/analyses?f=json").json()["runs"]}
    assert listed[stale]["status"] == "failed"
    assert _row(engine, stale).error_values == {
        "template": "The server stopped while this ran; run it again.",
        "values": {},
    }


def test_a_run_marked_stopped_is_not_written_over(engine: Engine, settings: Settings) -> None:
    rid = _started(engine)
    assert bg.mark_stopped(engine, {"analysis": {rid}}) == 1
    with pytest.raises(bg.RunStopped):
        an.run_overlap(
            engine, settings, ["protected_areas", "field_sites"], actor="tests", record=rid
        )
    run = _row(engine, rid)
    assert run.status == "failed" and run.error.startswith("The server stopped")
    with engine.connect() as conn:
        pieces = conn.execute(
            text("SELECT count(*) FROM analysis_features WHERE run_id = :r"), {"r": rid}
        ).scalar_one()
    assert pieces == 0
    # its steps are refused too: the work ends at the next one
    with pytest.raises(bg.RunStopped):
        an.progress_recorder(engine, rid)("reading")


def test_a_run_that_fails_inside_the_recorder_ends_its_own_record(
    engine: Engine, settings: Settings
) -> None:
    before = count_rows(engine, "analysis_runs")
    rid = an.start_run(engine, "habitat", {}, actor="tests", title="x")
    with pytest.raises(NotFound):
        an.run_habitat(engine, settings, ecosystems_run=987654, actor="tests", record=rid)
    run = _row(engine, rid)
    assert run.status == "failed" and "987654" in run.error and run.finished_at
    assert run.parameters["ecosystems_run"] == 987654  # what it was asked, in full
    assert count_rows(engine, "analysis_runs") == before + 1  # that record, no other
    # a later word on an ended run changes nothing
    an.fail_started_run(engine, rid, "habitat", RuntimeError("late"), "tests")
    assert _row(engine, rid).error == run.error


def test_steps_and_heartbeat_are_written_while_a_run_works(engine: Engine) -> None:
    rid = _started(engine, beat_ago_s=bg.STALE_AFTER_S - 1)
    an.progress_recorder(engine, rid)("habitat of Panthera uncia")
    run = _row(engine, rid)
    assert run.results == {"progress": "habitat of Panthera uncia"}
    assert run.heartbeat_at is not None and run.heartbeat_at > dt.datetime.now(
        dt.UTC
    ) - dt.timedelta(seconds=30)
    # the runner's heartbeat keeps a run that says nothing alive
    _ = _started(engine, beat_ago_s=bg.STALE_AFTER_S - 1)
    held = _started(engine, beat_ago_s=bg.STALE_AFTER_S - 1)
    heart = bg.Heartbeat(engine, interval=0.05)
    heart.hold("analysis", held)
    try:
        time.sleep(0.6)
        bg.expire_stale_runs(engine, stale_after_s=0.5)
    finally:
        heart.stop()
    assert _row(engine, held).status == "running"
    bg.mark_stopped(engine, {"analysis": {held, rid}})


def test_the_openapi_document_tells_of_the_202_and_the_prefer_header(client: Any) -> None:
    post = client.get("/api", headers={"Accept": "application/json"}).json()["paths"]["/analyses"][
        "post"
    ]
    assert {"201", "202"} <= set(post["responses"])
    assert "Prefer" in [p["name"] for p in post["parameters"] if p["in"] == "header"]


def test_the_command_line_marks_stale_runs_before_it_lists_or_shows_them(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli import app as cli

    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("COLUMNS", "250")
    listed_stale = _started(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    shown_stale = _started(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    r = CliRunner().invoke(cli, ["analyse", "list", "--kind", "overlap"])
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if f" {listed_stale} " in line)
    assert "failed" in row and "running" not in row
    with engine.begin() as conn:  # as if the listing had not come first
        conn.execute(
            update(m.AnalysisRun)
            .where(m.AnalysisRun.id == shown_stale)
            .values(status="running", error=None, error_values=None, finished_at=None)
        )
    r = CliRunner().invoke(cli, ["analyse", "show", str(shown_stale)])
    assert r.exit_code == 0 and '"status": "failed"' in r.output, r.output


def test_a_process_with_as_many_runs_as_it_takes_refuses_more_with_nothing_stored(
    client: Any, app: Any, engine: Engine
) -> None:
    runner = app.state.runner
    assert runner.capacity == 1 + 16  # IRBIS_SERVER_BACKGROUND_RUNS and _QUEUE by default
    gate = threading.Event()
    held = [_started(engine) for _ in range(runner.capacity)]
    try:
        for rid in held:  # one at work, the rest waiting behind it
            runner.submit("analysis", rid, gate.wait)
        assert runner.full
        before = count_rows(engine, "analysis_runs"), count_rows(engine, "planning_grids")
        grid = {"name": "one too many", "resolution": 2, "countries": ["KGZ"]}
        for path, body in (("/analyses", OVERLAP), ("/prioritisation/grids", grid)):
            r = client.post(path, json=body, headers=_bearer(engine) | ASYNC)
            assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, r.text
            assert "send the request again in a few minutes" in r.json()["description"]
        page = client.post("/analyses?lang=kk", json=OVERLAP, headers=_bearer(engine) | ASYNC)
        assert "бірнеше минуттан кейін" in page.json()["message"]  # the English in "description"
        after = count_rows(engine, "analysis_runs"), count_rows(engine, "planning_grids")
        assert after == before
    finally:
        gate.set()
    deadline = time.monotonic() + 30
    while runner.full and time.monotonic() < deadline:
        time.sleep(0.05)
    r = client.post("/analyses", json=OVERLAP, headers=_bearer(engine) | ASYNC)
    assert r.status_code == 202, r.text
    assert _until_ended(client, r.json()["id"])["status"] == "succeeded"
    bg.mark_stopped(engine, {"analysis": set(held)})  # their work said nothing: ended here


def test_the_runs_a_process_takes_are_set_by_the_settings(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    server = settings.server.model_copy(update={"background_runs": 2, "background_queue": 0})
    app = create_app(settings.model_copy(update={"server": server}))
    with TestClient(app):
        assert app.state.runner.capacity == 2
        assert app.state.runner._pool._max_workers == 2
    for thread in threading.enumerate():  # its start-up check ends before the test's cleanup
        if thread.name == "irbis-after-start":
            thread.join(timeout=60)


def _versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT table_name, version FROM layer_versions WHERE table_name IN "
                    "('analysis_runs', 'planning_grids', 'prioritisation_scenarios')"
                )
            ).all()
        )


def test_a_heartbeat_or_a_step_leaves_the_published_layers_versions_alone(
    client: Any, engine: Engine, settings: Settings
) -> None:
    """While a run works, the result layers (views of the latest successful run) keep their
    version, so their cached tiles and versioned URLs stay; the run's end moves it."""
    from tests.prioritisation.test_stopped_runs import _grid, _scenario

    grid = _grid(engine, beat_ago_s=1)
    scenario = _scenario(engine, grid, beat_ago_s=1)
    tile = "/collections/habitat/tiles/WebMercatorQuad/tilejson.json"
    before, template = _versions(engine), client.get(tile).json()["tiles"][0]
    rid = _started(engine)  # recorded as running before its work: not a change of data either
    audited = count_rows(engine, "audit_log")
    bg._beat(engine, {"analysis": {rid}, "grid": {grid}, "scenario": {scenario}})
    an.progress_recorder(engine, rid)("habitat of Panthera uncia")
    assert _row(engine, rid).results == {"progress": "habitat of Panthera uncia"}
    assert _versions(engine) == before
    assert client.get(tile).json()["tiles"][0] == template
    # nor is a heartbeat a change the audit log keeps (a grid's and a scenario's are audited)
    assert count_rows(engine, "audit_log") == audited
    bg.mark_stopped(engine, {"analysis": {rid}, "grid": {grid}, "scenario": {scenario}})
    after = _versions(engine)
    assert all(after[t] > before[t] for t in before), (before, after)
    assert client.get(tile).json()["tiles"][0] != template
    assert count_rows(engine, "audit_log") == audited + 2  # the grid and the scenario stopped
    # a run computed inside the call is written whole, and moves the version once
    moved = _versions(engine)["analysis_runs"]
    an.run_overlap(engine, settings, ["protected_areas", "field_sites"], actor="tests")
    assert _versions(engine)["analysis_runs"] == moved + 1


def test_a_check_for_stale_runs_that_finds_none_waits_for_no_writer(engine: Engine) -> None:
    """Pages check for stale runs at every request. A check that finds none writes nothing:
    it neither waits for a writer that holds a table's version (a long import, a cleanup)
    nor holds one itself, where it could deadlock with such a writer."""
    done = threading.Event()
    with engine.connect() as writer:
        writer.execute(
            text(
                "UPDATE layer_versions SET version = version WHERE table_name IN "
                "('analysis_runs', 'planning_grids', 'prioritisation_scenarios')"
            )
        )  # held, uncommitted, as a writer of those tables holds them

        def check() -> None:
            bg.expire_stale_runs(engine)
            done.set()

        threading.Thread(target=check, daemon=True).start()
        finished = done.wait(10)
        writer.rollback()
    assert finished, "the check waited for the writer's lock on the tables' versions"


def test_a_check_for_stale_runs_that_meets_a_deadlock_leaves_them_for_the_next(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL ends one of two transactions that wait for each other: here a stale-run
    check (which marks a grid, then an analysis, and so takes the grids' version, then the
    analyses') and a writer that takes the same two versions the other way round. The check
    waits first, so it is the one ended; the page that ran it is still answered, nothing is
    marked, and the next check marks the runs."""
    from tests.prioritisation.test_stopped_runs import _grid

    grid = _grid(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    stale = _started(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    result: list[int] = []
    bump = "UPDATE layer_versions SET version = version WHERE table_name = :t"
    with engine.connect() as writer:
        writer.execute(text(bump), {"t": "analysis_runs"})
        check = threading.Thread(target=lambda: result.append(bg.expire_stale_runs(engine)))
        check.start()
        time.sleep(0.4)  # the check holds the grids' version and waits for the analyses'
        writer.execute(text(bump), {"t": "planning_grids"})  # the cycle: one of us is ended
        writer.rollback()
    check.join(timeout=30)
    assert result == [0] and "deadlock" in caplog.text
    assert _row(engine, stale).status == "running"
    assert bg.expire_stale_runs(engine) == 2  # the next check marks both
    assert _row(engine, stale).status == "failed"
    with engine.connect() as conn:
        status = conn.execute(
            text("SELECT inputs->>'status' FROM planning_grids WHERE id = :g"), {"g": grid}
        ).scalar_one()
    assert status == "failed"


def test_a_check_for_stale_runs_raises_any_other_database_error(engine: Engine) -> None:
    """Only a deadlock is left for later: a check that cannot take a lock in time (here the
    writer's, under a 200 ms lock timeout) fails loudly."""
    from sqlalchemy.exc import OperationalError

    from api.db.engine import make_engine

    stale = _started(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    impatient = make_engine(
        engine.url.render_as_string(hide_password=False),
        connect_args={"options": "-c lock_timeout=200"},
    )
    try:
        with engine.connect() as writer:
            writer.execute(
                text("UPDATE layer_versions SET version = version WHERE table_name = :t"),
                {"t": "analysis_runs"},
            )
            with pytest.raises(OperationalError, match="lock timeout"):
                bg.expire_stale_runs(impatient)
            writer.rollback()
    finally:
        impatient.dispose()
    assert _row(engine, stale).status == "running"
    assert bg.expire_stale_runs(engine) >= 1

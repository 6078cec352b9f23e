"""Runs whose server stopped: a grid or a scenario left at work by a process that is gone is
shown failed with a reason a person can act on (in three languages); a live one is not; the
background pool is shut down with the app, marking the runs it could not finish."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select

from api.db import models as m
from api.services import background as bg
from api.services import prioritisation as prio
from geo.errors import Unavailable

HTML = {"Accept": "text/html"}
STOPPED = {
    "en": "The server stopped while this ran; run it again.",
    "ru": "Сервер остановился, пока шёл этот расчёт; запустите его снова.",
    "kk": "Бұл есеп жүріп жатқанда сервер тоқтады; оны қайта іске қосыңыз.",
}


def _grid(engine: Engine, *, beat_ago_s: float | None, status: str = "building") -> int:
    """A grid record started from the form, its last heartbeat ``beat_ago_s`` seconds before
    the transaction's time (None: never)."""
    values: dict[str, Any] = {
        "name": f"stopped {uuid.uuid4().hex[:8]}",
        "resolution": 3,
        "countries": ["KGZ"],
        "features": [],
        "n_units": 0,
        "parameters": {},
        "inputs": {"status": status, "progress": {"message": prio.GRID_STEPS[2], "step": 3}},
        "heartbeat_at": None
        if beat_ago_s is None
        else func.now() - dt.timedelta(seconds=beat_ago_s),
    }
    with engine.begin() as conn:
        return int(conn.execute(insert(m.PlanningGrid).values(values)).inserted_primary_key[0])


def _scenario(engine: Engine, grid_id: int, *, beat_ago_s: float, status: str = "running") -> int:
    values = {
        "name": "stopped",
        "grid_id": grid_id,
        "objective": "min_set",
        "status": status,
        "parameters": {},
        "inputs": {},
        "results": {"progress": {"message": prio.SCENARIO_STEPS[1], "step": 2, "steps": 6}},
        "heartbeat_at": func.now() - dt.timedelta(seconds=beat_ago_s),
    }
    with engine.begin() as conn:
        return int(
            conn.execute(insert(m.PrioritisationScenario).values(values)).inserted_primary_key[0]
        )


def _row(engine: Engine, model: Any, record_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(model).where(model.id == record_id)).one()


def test_a_stale_run_is_shown_failed_and_a_live_one_is_not(db_tx, tx_client) -> None:  # type: ignore[no-untyped-def]
    engine = db_tx.engine
    ready = _grid(engine, beat_ago_s=None, status="ready")
    stale_grid = _grid(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    live_grid = _grid(engine, beat_ago_s=5)
    stale = _scenario(engine, ready, beat_ago_s=bg.STALE_AFTER_S + 60)
    live = _scenario(engine, ready, beat_ago_s=5)
    waiting = _scenario(engine, ready, beat_ago_s=bg.STALE_AFTER_S + 1, status="pending")

    body = tx_client.get(f"/prioritisation/scenarios/{stale}/status").json()
    assert body["status"] == "failed" and body["finished"] and not body["succeeded"]
    assert body["error"] == STOPPED["en"]
    row = _row(engine, m.PrioritisationScenario, stale)
    assert row.error["message"] == bg.STOPPED and row.finished_at is not None
    assert row.results is None
    # a run still waiting for the worker whose server went away is stopped too
    assert tx_client.get(f"/prioritisation/scenarios/{waiting}/status").json()["error"]

    body = tx_client.get(f"/prioritisation/scenarios/{live}/status").json()
    assert body["status"] == "running" and not body["finished"] and body["error"] is None
    body = tx_client.get(f"/prioritisation/grids/{live_grid}/status").json()
    assert body["status"] == "building" and not body["finished"]

    for lang, said in STOPPED.items():
        body = tx_client.get(f"/prioritisation/grids/{stale_grid}/status?lang={lang}").json()
        assert body["status"] == "failed" and body["error"] == said
    page = tx_client.get(f"/prioritisation/scenarios/{stale}/progress?lang=kk")
    assert page.status_code == 200 and STOPPED["kk"] in page.text
    assert _row(engine, m.PlanningGrid, stale_grid).inputs["error"]["message"] == bg.STOPPED
    listed = tx_client.get("/prioritisation?lang=ru", headers=HTML).text
    assert listed.count(STOPPED["ru"]) >= 3  # the grid and both scenarios
    assert _row(engine, m.PrioritisationScenario, live).status == "running"
    assert _row(engine, m.PlanningGrid, ready).inputs["status"] == "ready"


def test_the_server_start_marks_what_a_stopped_server_left(db_tx) -> None:  # type: ignore[no-untyped-def]
    engine = db_tx.engine
    left = _grid(engine, beat_ago_s=None)  # from before runs had a heartbeat
    live = _grid(engine, beat_ago_s=1)
    runner = bg.start_runner(engine)
    runner.shutdown()
    assert _row(engine, m.PlanningGrid, left).inputs == {
        "status": "failed",
        "error": {"message": bg.STOPPED},
    }
    assert _row(engine, m.PlanningGrid, live).inputs["status"] == "building"


def test_the_heartbeat_keeps_a_run_alive(db_tx) -> None:  # type: ignore[no-untyped-def]
    engine = db_tx.engine
    grid = _grid(engine, beat_ago_s=None, status="ready")
    sid = _scenario(engine, grid, beat_ago_s=bg.STALE_AFTER_S - 1)
    heart = bg.Heartbeat(engine, interval=0.05)
    heart.hold("scenario", sid)
    time.sleep(0.5)
    heart.stop()
    # beaten: its heartbeat is the transaction's time, no longer STALE_AFTER_S - 1 before it
    bg.expire_stale_runs(engine, stale_after_s=0.5)
    assert _row(engine, m.PrioritisationScenario, sid).status == "running"
    # one left alone is not
    other = _scenario(engine, grid, beat_ago_s=bg.STALE_AFTER_S - 1)
    bg.expire_stale_runs(engine, stale_after_s=0.5)
    assert _row(engine, m.PrioritisationScenario, other).status == "failed"


def test_shutdown_marks_the_runs_it_could_not_finish(db_tx) -> None:  # type: ignore[no-untyped-def]
    engine = db_tx.engine
    ready = _grid(engine, beat_ago_s=None, status="ready")
    at_work = _scenario(engine, ready, beat_ago_s=0)
    queued = _grid(engine, beat_ago_s=0)
    runner = bg.Runner(engine)
    release = threading.Event()
    started = threading.Event()

    def block() -> None:
        started.set()
        release.wait(10)

    first = runner.submit("scenario", at_work, block)
    second = runner.submit("grid", queued, lambda: None)
    assert started.wait(5)
    assert runner.shutdown(wait_s=0.2) == 2
    release.set()
    assert second.cancelled() and first.result(timeout=5) is None
    assert _row(engine, m.PrioritisationScenario, at_work).error["message"] == bg.STOPPED
    assert _row(engine, m.PlanningGrid, queued).inputs["status"] == "failed"
    # the work that comes back later does not write over it
    with pytest.raises(bg.RunStopped):
        prio._set_grid_inputs(engine, queued, {"status": "building"})
    assert _row(engine, m.PlanningGrid, queued).inputs["status"] == "failed"
    # work handed to it now is refused as the server stopping (503), and its run marked so
    late = _grid(engine, beat_ago_s=0)
    with pytest.raises(Unavailable) as refused:
        runner.submit("grid", late, lambda: None)
    assert refused.value.message == bg.STOPPING
    assert _row(engine, m.PlanningGrid, late).inputs["error"]["message"] == bg.STOPPED
    assert late not in runner.held()["grid"]


def test_the_pool_is_shut_down_at_app_exit(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app):
        runner = app.state.runner
        assert not runner.closed
        # ids no record has: the jobs touch nothing
        first = runner.submit("scenario", prio.MAX_ID, lambda: time.sleep(0.3) or "done")
        second = runner.submit("grid", prio.MAX_ID, lambda: "never")
    assert runner.closed
    assert first.result(timeout=0) == "done"  # the run at work was given time to end
    assert second.cancelled()  # the one waiting was not started
    with pytest.raises(Unavailable):
        runner.submit("grid", prio.MAX_ID, lambda: None)


@pytest.mark.usefixtures("cleaned_up")  # a lock held by another connection: commits needed
def test_a_run_whose_record_is_being_written_is_not_waited_for(engine: Engine) -> None:
    """A record locked by a transaction (its worker storing the result) is alive: skipped at
    once, neither marked nor waited for. The grid is committed (the lock must be another
    connection's) and deleted with its audit rows after the test (``cleaned_up``)."""
    gid = _grid(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    with engine.connect() as worker:
        worker.execute(select(m.PlanningGrid.id).where(m.PlanningGrid.id == gid).with_for_update())
        began = time.monotonic()
        bg.expire_stale_runs(engine)
        assert time.monotonic() - began < 5
        worker.rollback()
    assert _row(engine, m.PlanningGrid, gid).inputs["status"] == "building"
    bg.expire_stale_runs(engine)  # once the lock is gone, it is stale
    assert _row(engine, m.PlanningGrid, gid).inputs["status"] == "failed"


def test_a_step_said_is_a_sign_of_life(db_tx) -> None:  # type: ignore[no-untyped-def]
    engine = db_tx.engine
    ready = _grid(engine, beat_ago_s=None, status="ready")
    sid = _scenario(engine, ready, beat_ago_s=bg.STALE_AFTER_S + 60)
    gid = _grid(engine, beat_ago_s=bg.STALE_AFTER_S + 60)
    prio._scenario_progress(engine, sid, None)(prio.SCENARIO_STEPS[1])
    prio._set_grid_inputs(engine, gid, {"status": "building", "progress": {"step": 4}})
    bg.expire_stale_runs(engine)
    assert _row(engine, m.PrioritisationScenario, sid).status == "running"
    assert _row(engine, m.PlanningGrid, gid).inputs["status"] == "building"


def test_a_check_that_finds_nothing_commits_nothing(engine: Engine, demo: dict[str, int]) -> None:
    """Every start looks for stale runs; finding none, it rolls back: a commit would make the
    process read the data versions again at its next request (:mod:`api.versions`)."""
    commits: list[object] = []

    def on(conn: object) -> None:
        commits.append(conn)

    event.listen(engine, "commit", on)
    try:
        assert bg.expire_stale_runs(engine, stale_after_s=10**9) == 0
    finally:
        event.remove(engine, "commit", on)
    assert commits == []

"""Runs whose server stopped, read as JSON and from the command line: the same rule as the
pages (a run at work whose heartbeat is older than ``STALE_AFTER_S`` is marked failed with a
reason before it is answered); a live run stays as it is."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from typer.testing import CliRunner

from api.cli import app as cli
from api.db import models as m
from api.services import background as bg
from tests.prioritisation.test_stopped_runs import _grid, _row, _scenario

OLD = bg.STALE_AFTER_S + 60


def _runs(engine: Engine) -> dict[str, int]:
    ready = _grid(engine, beat_ago_s=None, status="ready")
    return {
        "ready": ready,
        "stale_grid": _grid(engine, beat_ago_s=OLD),
        "live_grid": _grid(engine, beat_ago_s=5),
        "stale": _scenario(engine, ready, beat_ago_s=OLD),
        "live": _scenario(engine, ready, beat_ago_s=5),
    }


def test_the_json_answers_mark_a_stopped_run_failed(db_tx: Any, tx_client: Any) -> None:
    engine = db_tx.engine
    runs = _runs(engine)
    body = tx_client.get(f"/prioritisation/scenarios/{runs['stale']}").json()
    assert body["status"] == "failed"
    assert body["error"]["message"] == bg.STOPPED
    assert _row(engine, m.PrioritisationScenario, runs["stale"]).finished_at is not None
    assert tx_client.get(f"/prioritisation/scenarios/{runs['live']}").json()["status"] == "running"

    grid = tx_client.get(f"/prioritisation/grids/{runs['stale_grid']}").json()
    assert grid["status"] == "failed"
    assert tx_client.get(f"/prioritisation/grids/{runs['live_grid']}").json()["status"] == (
        "building"
    )


def test_the_json_lists_and_results_mark_stopped_runs_failed(db_tx: Any, tx_client: Any) -> None:
    engine = db_tx.engine
    runs = _runs(engine)
    scenarios = {s["id"]: s for s in tx_client.get("/prioritisation/scenarios").json()["scenarios"]}
    assert scenarios[runs["stale"]]["status"] == "failed"
    assert scenarios[runs["live"]]["status"] == "running"
    grids = {g["id"]: g["status"] for g in tx_client.get("/prioritisation/grids").json()["grids"]}
    assert grids[runs["stale_grid"]] == "failed" and grids[runs["live_grid"]] == "building"

    other = _scenario(engine, runs["ready"], beat_ago_s=OLD)
    results = tx_client.get(f"/prioritisation/scenarios/{other}/results").json()
    assert results["status"] == "failed"


def test_irbis_prioritise_list_marks_stopped_runs_failed(
    db_tx: Any, settings: Any, monkeypatch: Any
) -> None:
    """The command reads through the test's engine (rolled back afterwards)."""
    engine = db_tx.engine
    runs = _runs(engine)
    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setattr("api.cli.prioritisation.make_engine", lambda *a, **k: engine)
    r = CliRunner().invoke(cli, ["prioritise", "list", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.output)
    scenarios = {s["id"]: s for s in listed["scenarios"]}
    assert scenarios[runs["stale"]]["status"] == "failed"
    assert scenarios[runs["stale"]]["error"]["message"] == bg.STOPPED
    assert scenarios[runs["live"]]["status"] == "running"
    grids = {g["id"]: g["status"] for g in listed["grids"]}
    assert grids[runs["stale_grid"]] == "failed" and grids[runs["live_grid"]] == "building"
    assert _row(engine, m.PlanningGrid, runs["stale_grid"]).inputs["error"] == {
        "message": bg.STOPPED
    }

"""Prioritisation on the demo data: grids and scenarios as records, the API and the CLI.

The planning grid is the run's shared one (``grid_id``); every scenario or grid a test makes,
through the service, the API or the command line, is made in the test's transaction and
rolled back at its end (``tx_engine``, ``tx_client``, ``tx_cli``)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from api.auth.testing import make_token, make_user
from api.cli import app as cli
from api.services import prioritisation as prio
from geo.errors import Infeasible, InvalidInput


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _params(grid_id: int, **kw: object) -> prio.ScenarioParams:
    base: dict[str, object] = {"name": "test", "grid_id": grid_id, "portfolio_runs": 2}
    return prio.ScenarioParams(**{**base, **kw})


def test_grid_is_a_record_with_input_versions(tx_engine: Engine, grid_id: int) -> None:
    with tx_engine.connect() as conn:
        g = (
            conn.execute(text("SELECT * FROM planning_grids WHERE id = :g"), {"g": grid_id})
            .mappings()
            .one()
        )
        n = conn.execute(
            text("SELECT count(*) FROM planning_units WHERE grid_id = :g"), {"g": grid_id}
        ).scalar()
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE table_name = 'planning_grids' AND row_id = :g"
            ),
            {"g": str(grid_id)},
        ).scalar()
    assert g["n_units"] == n > 100
    assert set(g["inputs"]["layer_versions"]) >= {
        "protected_areas",
        "threats",
        "field_sites",
        "places",
    }
    assert g["inputs"]["habitat_source"]
    assert any(f.startswith("Panthera uncia|mountain") for f in g["features"])
    assert any(f.startswith("Gazella subgutturosa|arid_lowland") for f in g["features"])
    assert audited == 1


def test_unit_areas_agree_with_postgis_geography(tx_engine: Engine, grid_id: int) -> None:
    with tx_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT area_km2, ST_Area(geom::geography) / 1e6 AS geog FROM planning_units "
                "WHERE grid_id = :g"
            ),
            {"g": grid_id},
        ).all()
    for km2, geog in rows:
        assert km2 == pytest.approx(geog, rel=5e-3)
    assert sum(r[0] for r in rows) == pytest.approx(sum(r[1] for r in rows), rel=1e-3)


def test_the_resort_unit_is_protected_and_under_pressure(
    tx_engine: Engine, grid_id: int, resort: str
) -> None:
    with tx_engine.connect() as conn:
        values = (
            conn.execute(
                text(
                    'SELECT u."values" FROM planning_units u JOIN threats t ON ST_Intersects(u.geom, t.geom) '
                    "WHERE u.grid_id = :g AND t.name = :n"
                ),
                {"g": grid_id, "n": resort},
            )
            .scalars()
            .all()
        )
    assert values
    assert max(v["threat_pressure"] for v in values) > 0
    assert max(v["protected_share"] for v in values) > 0


def test_scenario_locks_out_the_resort_and_meets_targets(
    tx_engine: Engine, grid_id: int, resort: str
) -> None:
    sid = prio.run_scenario(tx_engine, _params(grid_id, lock_out_threats=[resort]), actor="tests")
    with tx_engine.connect() as conn:
        sc = (
            conn.execute(text("SELECT * FROM prioritisation_scenarios WHERE id = :s"), {"s": sid})
            .mappings()
            .one()
        )
        locked = conn.execute(
            text(
                "SELECT su.selected, su.locked FROM scenario_units su JOIN planning_units u ON u.id = su.unit_id "
                "JOIN threats t ON ST_Intersects(u.geom, t.geom) WHERE su.scenario_id = :s AND t.name = :n"
            ),
            {"s": sid, "n": resort},
        ).all()
        n_units = conn.execute(
            text("SELECT count(*) FROM scenario_units WHERE scenario_id = :s"), {"s": sid}
        ).scalar()
        ranks = (
            conn.execute(text("SELECT rank FROM scenario_units WHERE scenario_id = :s"), {"s": sid})
            .scalars()
            .all()
        )
    assert sc["status"] == "solved" and sc["started_at"] <= sc["finished_at"]
    assert locked and all(not sel and lk == "out" for sel, lk in locked)
    results = sc["results"]
    assert all(row["met"] for row in results["targets"])
    assert results["summary"]["n_locked_out"] >= 1
    assert sc["solver"]["gap"] <= 0.01 + 1e-9
    assert results["greedy"]["cost"] >= sc["solver"]["cost"] * (1 - 0.01) - 1e-6
    assert {r["group"] for r in results["ecosystems"]} >= {"mountain", "arid_lowland"}
    assert n_units == sc["results"]["summary"]["n_units"]
    assert sorted(ranks) == list(range(1, n_units + 1))
    assert sc["inputs"]["layer_versions"]["threats"] >= 1
    for opp in results["grant_opportunities"]:
        assert opp["contribution"] > 0
    assert 1 <= len(results["replacement"]) <= 5
    for r in results["replacement"]:
        assert r["irreplaceable"] or r["replacement_cost"] >= 0


def test_infeasible_targets_are_named_and_recorded(
    tx_engine: Engine, grid_id: int, resort: str
) -> None:
    with pytest.raises(Infeasible) as err:
        prio.run_scenario(tx_engine, _params(grid_id, target=1.0, lock_out_threats=[resort]))
    details = err.value.details
    features = [r["feature"] for r in details["features"]]  # type: ignore[index]
    assert features and all(f.startswith(("Panthera", "Gazella")) for f in features)
    for row in details["features"]:  # type: ignore[index]
        assert row["max_achievable"] < row["target"] <= row["total"] + 1e-6
    sid = details["scenario_id"]  # type: ignore[index]
    with tx_engine.connect() as conn:
        sc = (
            conn.execute(text("SELECT * FROM prioritisation_scenarios WHERE id = :s"), {"s": sid})
            .mappings()
            .one()
        )
        n = conn.execute(
            text("SELECT count(*) FROM scenario_units WHERE scenario_id = :s"), {"s": sid}
        ).scalar()
    assert sc["status"] == "infeasible" and sc["results"] is None and n == 0
    assert [r["feature"] for r in sc["error"]["details"]["features"]] == features


def test_budgeted_coverage_stays_within_budget(tx_engine: Engine, grid_id: int) -> None:
    sid = prio.run_scenario(
        tx_engine,
        _params(
            grid_id,
            objective="max_coverage",
            budget_share=0.05,
            boundary_penalty=1.0,
            portfolio_runs=0,
        ),
    )
    with tx_engine.connect() as conn:
        sc = (
            conn.execute(text("SELECT * FROM prioritisation_scenarios WHERE id = :s"), {"s": sid})
            .mappings()
            .one()
        )
    s = sc["results"]["summary"]
    assert s["cost"] <= s["budget"] * (1 + 1e-9)
    assert s["budget"] == pytest.approx(0.05 * s["total_cost"])


# -- the API ---------------------------------------------------------------------------------


def _bearer(engine: Engine, role: str) -> dict[str, str]:
    user = make_user(engine, roles=[role])
    return {"Authorization": f"Bearer {make_token(engine, user)}"}


def test_only_analysts_may_solve(tx_client, tx_engine: Engine, grid_id: int) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "api", "grid_id": grid_id, "portfolio_runs": 0}
    assert tx_client.post("/prioritisation/scenarios", json=body).status_code == 401
    r = tx_client.post(
        "/prioritisation/scenarios", json=body, headers=_bearer(tx_engine, "grantee")
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_api_scenario_round_trip(tx_client, tx_engine: Engine, grid_id: int, resort: str) -> None:  # type: ignore[no-untyped-def]
    headers = _bearer(tx_engine, "analyst")
    body = {
        "name": "api plan",
        "grid_id": grid_id,
        "lock_out_threats": [resort],
        "portfolio_runs": 0,
    }
    r = tx_client.post("/prioritisation/scenarios", json=body, headers=headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.headers["location"] == f"/prioritisation/scenarios/{sid}"
    assert sid in [s["id"] for s in tx_client.get("/prioritisation/scenarios").json()["scenarios"]]
    one = tx_client.get(f"/prioritisation/scenarios/{sid}").json()
    assert one["parameters"]["lock_out_threats"] == [resort] and one["inputs"]["features"]
    results = tx_client.get(f"/prioritisation/scenarios/{sid}/results").json()
    assert all(t["met"] for t in results["targets"])
    units = tx_client.get(f"/prioritisation/scenarios/{sid}/units")
    assert units.headers["content-type"].startswith("application/geo+json")
    fc = units.json()
    assert fc["features"] and all(f["properties"]["selected"] for f in fc["features"])
    assert len(fc["features"]) == results["summary"]["n_selected"]
    assert {f["geometry"]["type"] for f in fc["features"]} <= {"MultiPolygon"}
    every = tx_client.get(
        f"/prioritisation/scenarios/{sid}/units", params={"selected": "false"}
    ).json()
    assert len(every["features"]) == results["summary"]["n_units"]
    assert (
        tx_client.get(f"/prioritisation/grids/{grid_id}").json()["n_units"]
        == results["summary"]["n_units"]
    )


def test_api_errors_are_clear(tx_client, tx_engine: Engine, grid_id: int, resort: str) -> None:  # type: ignore[no-untyped-def]
    headers = _bearer(tx_engine, "analyst")
    r = tx_client.post(
        "/prioritisation/scenarios",
        json={"name": "x", "grid_id": grid_id, "target": 2},
        headers=headers,
    )
    assert r.status_code == 400 and "target" in r.json()["description"]
    r = tx_client.post(
        "/prioritisation/scenarios", json={"name": "x", "grid_id": 999999}, headers=headers
    )
    assert r.status_code == 404
    r = tx_client.post(
        "/prioritisation/scenarios",
        json={"name": "x", "grid_id": grid_id, "lock_out_threats": ["No such threat"]},
        headers=headers,
    )
    assert r.status_code == 400 and "No such threat" in r.json()["description"]
    r = tx_client.post(
        "/prioritisation/scenarios",
        json={
            "name": "x",
            "grid_id": grid_id,
            "target": 1.0,
            "lock_out_threats": [resort],
            "portfolio_runs": 0,
        },
        headers=headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "infeasible"
    assert r.json()["details"]["features"]
    failed = tx_client.get(f"/prioritisation/scenarios/{r.json()['details']['scenario_id']}").json()
    assert failed["status"] == "infeasible" and failed["error"]["details"]["features"]
    assert tx_client.get("/prioritisation/scenarios/999999").status_code == 404


# -- the command line ------------------------------------------------------------------------


def test_cli_solve_and_list(tx_cli, grid_id: int, resort: str) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    r = runner.invoke(
        cli,
        [
            "prioritise",
            "solve",
            "--grid",
            str(grid_id),
            "--name",
            "cli",
            "--runs",
            "0",
            "-q",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["solver"]["method"] == "exact" and all(t["met"] for t in out["targets"])
    r = runner.invoke(cli, ["prioritise", "list", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.output)
    assert grid_id in [g["id"] for g in listed["grids"]]
    assert out["id"] in [s["id"] for s in listed["scenarios"]]
    r = runner.invoke(
        cli,
        [
            "prioritise",
            "solve",
            "--grid",
            str(grid_id),
            "--target",
            "1",
            "--lock-out-threat",
            resort,
            "-q",
        ],
    )
    assert r.exit_code == 1 and "infeasible" in r.output
    r = runner.invoke(cli, ["prioritise", "solve", "--grid", str(grid_id), "--target", "3", "-q"])
    assert r.exit_code == 1 and "target" in r.output


def test_api_grid_creation_is_for_analysts(tx_client, tx_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    body = {
        "name": f"api grid {uuid.uuid4().hex[:8]}",
        "resolution": 2,
        "countries": ["KGZ"],
        "habitat": "regions",
    }
    assert tx_client.post("/prioritisation/grids", json=body).status_code == 401
    headers = _bearer(tx_engine, "analyst")
    r = tx_client.post("/prioritisation/grids", json={**body, "resolution": 9}, headers=headers)
    assert r.status_code == 400 and "resolution" in r.json()["description"]
    r = tx_client.post(
        "/prioritisation/grids", json={**body, "countries": ["XXX"]}, headers=headers
    )
    assert r.status_code == 400 and "XXX" in r.json()["description"]
    r = tx_client.post("/prioritisation/grids", json=body, headers=headers)
    assert r.status_code == 201, r.text
    grid = r.json()
    assert grid["countries"] == ["KGZ"] and grid["n_units"] > 0
    assert grid["inputs"]["habitat_source"].startswith("named-regions")
    assert tx_client.get("/prioritisation/grids").json()["grids"][-1]["id"] == grid["id"]
    r = tx_client.post("/prioritisation/grids", json=body, headers=headers)
    assert r.status_code == 409


def test_cli_grid_from_a_habitat_file(tx_cli, tx_engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "habitat.geojson"
    gpd.GeoDataFrame(
        {"species": ["Panthera uncia"], "ecosystem": ["mountain"]},
        geometry=[box(74, 41, 76, 42.5)],
        crs=4326,
    ).to_file(path)
    name = f"cli grid {uuid.uuid4().hex[:8]}"
    r = CliRunner().invoke(
        cli,
        [
            "prioritise",
            "grid",
            "--resolution",
            "3",
            "-c",
            "KGZ",
            "--habitat",
            str(path),
            "--name",
            name,
            "--as-of",
            "2020-06-30",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["prioritise", "list", "--json"])
    grid = next(g for g in json.loads(r.output)["grids"] if g["name"] == name)
    assert grid["features"] == ["Panthera uncia|mountain|KGZ"]
    assert grid["inputs"]["habitat_source"] == str(path)
    # --as-of: stored with the grid, and the demo's Kyrgyz grants (closed by 2022, so none
    # would count today) were under way then
    assert grid["parameters"]["as_of"] == "2020-06-30"
    shares = _scalar(
        tx_engine,
        "SELECT count(*) FROM planning_units WHERE grid_id = :g "
        "AND coalesce((\"values\" ->> 'grant_share')::float, 0) > 0",
        g=grid["id"],
    )
    assert shares > 0
    r = CliRunner().invoke(
        cli, ["prioritise", "grid", "--habitat", str(tmp_path / "missing.gpkg"), "-q"]
    )
    assert r.exit_code == 1 and "no such file" in r.output


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("2024-02-30", "day value is outside expected range"),
        ("30.06.2024", "invalid character in year"),
        ("tomorrow", "input is too short"),
    ],
)
def test_cli_grid_refuses_a_bad_as_of(day: str, why: str) -> None:
    r = CliRunner().invoke(cli, ["prioritise", "grid", "-c", "KGZ", "--as-of", day, "-q"])
    assert r.exit_code == 1
    assert f"--as-of wants a date as YYYY-MM-DD, got {day!r}" in r.output
    assert why in r.output and "Traceback" not in r.output


def test_units_locked_by_h3_index(tx_engine: Engine, grid_id: int) -> None:
    with tx_engine.connect() as conn:
        cells = (
            conn.execute(
                text("SELECT h3 FROM planning_units WHERE grid_id = :g ORDER BY cost DESC LIMIT 2"),
                {"g": grid_id},
            )
            .scalars()
            .all()
        )
    dear, other = cells
    sid = prio.run_scenario(
        tx_engine, _params(grid_id, lock_in_units=[dear], lock_out_units=[other], portfolio_runs=0)
    )
    with tx_engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT u.h3, su.selected FROM scenario_units su JOIN planning_units u ON u.id = su.unit_id "
                    "WHERE su.scenario_id = :s AND u.h3 = ANY(:c)"
                ),
                {"s": sid, "c": [dear, other]},
            ).all()
        )
    assert rows == {dear: True, other: False}
    with pytest.raises(InvalidInput):
        prio.run_scenario(tx_engine, _params(grid_id, lock_in_units=[dear], lock_out_units=[dear]))
    with pytest.raises(InvalidInput):
        prio.run_scenario(tx_engine, _params(grid_id, lock_in_units=["8f2830828052d25"]))


def test_feature_choice_and_per_feature_targets(tx_engine: Engine, grid_id: int) -> None:
    from sqlalchemy.orm import Session

    with Session(tx_engine) as s:
        units = prio.read_units(s, grid_id)
        features = list(prio.get_grid(s, grid_id).features)
    leopard = prio._select_features(features, ["Panthera uncia"])
    assert leopard and all(f.startswith("Panthera uncia|") for f in leopard)
    params = _params(
        grid_id, targets={"Gazella subgutturosa": 0.1, "Panthera uncia|mountain|KGZ": 0.5}
    )
    *_, results, _ranking = prio.solve_scenario(units, features, params)
    shares = {r["feature"]: r["target_share"] for r in results["targets"]}
    for f, share in shares.items():
        expected = (
            0.5 if f == "Panthera uncia|mountain|KGZ" else 0.1 if f.startswith("Gazella") else 0.3
        )
        assert share == pytest.approx(expected)
    assert all(r["met"] for r in results["targets"])
    with pytest.raises(InvalidInput):
        prio._select_features(features, ["Ursus arctos"])
    with pytest.raises(InvalidInput):
        prio.solve_scenario(units, features, _params(grid_id, targets={"Ursus arctos": 0.3}))


@pytest.mark.parametrize(
    "change",
    [
        {"name": "bad\x00name"},
        {"grid_id": 2**40},
        {"seed": -1},
        {"lock_out_threats": ["\x00"]},
        {"targets": {"\x00": 0.3}},
        {"objective": "max_coverage"},
        {"gap": -0.1},
        {"unexpected": 1},
    ],
)
def test_api_refuses_bad_parameters(
    tx_client, tx_engine: Engine, grid_id: int, change: dict
) -> None:  # type: ignore[no-untyped-def]
    headers = _bearer(tx_engine, "analyst")
    body = {"name": "x", "grid_id": grid_id, "portfolio_runs": 0, **change}
    r = tx_client.post("/prioritisation/scenarios", json=body, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_parameter"


def test_api_ids_out_of_range_are_refused(tx_client) -> None:  # type: ignore[no-untyped-def]
    for path in (
        "/prioritisation/scenarios/99999999999",
        "/prioritisation/grids/0",
        "/prioritisation/scenarios/-1/units",
    ):
        assert tx_client.get(path).status_code == 400


def test_cli_help_names_the_commands() -> None:
    r = CliRunner().invoke(cli, ["prioritise", "--help"])
    assert r.exit_code == 0
    for command in ("grid", "solve", "list"):
        assert command in r.output

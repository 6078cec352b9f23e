"""Prioritisation from the browser's forms: who may use them, errors beside their fields, the
work on a background thread with its progress, units named by place, costs with their unit,
the pages in Russian and Kazakh, and the demo's solved scenario.

The tests write in a transaction rolled back at their end (``tx_login_as``, ``tx_engine``),
except those whose work runs on the app's background thread: that thread takes connections of
its own while the test polls the run's status, so they commit, and delete what they made
after (``cleaned_up``)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

import geopandas as gpd
import shapely

from api.auth.testing import csrf_from
from api.i18n import translations
from api.routers import prioritisation as router
from api.services import prioritisation as prio
from tests.prioritisation.runs import count_rows, wait_until_ended

HTML = {"Accept": "text/html"}


def _field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="error-(\w+)" role="alert">([^<]*)<', html))


# -- who may plan ----------------------------------------------------------------------------


def test_only_analysts_see_and_open_the_forms(tx_login_as: Any) -> None:
    anonymous = tx_login_as("anonymous")
    page = anonymous.get("/prioritisation", headers=HTML).text
    assert "/prioritisation/grids/new" not in page and "/prioritisation/scenarios/new" not in page
    r = anonymous.get("/prioritisation/scenarios/new", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    grantee = tx_login_as("grantee")
    assert "/prioritisation/scenarios/new" not in grantee.get("/prioritisation").text
    assert grantee.get("/prioritisation/grids/new", headers=HTML).status_code == 403
    analyst = tx_login_as("analyst")
    page = analyst.get("/prioritisation", headers=HTML).text
    assert 'href="/prioritisation/grids/new"' in page
    assert 'href="/prioritisation/scenarios/new"' in page
    assert analyst.get("/prioritisation/grids/new").status_code == 200


def test_a_grantee_cannot_post_the_form(tx_login_as: Any, tx_engine: Engine, grid_id: int) -> None:
    grantee = tx_login_as("grantee")
    token = csrf_from(grantee.get("/account/tokens").text)
    before = count_rows(tx_engine, "prioritisation_scenarios")
    r = grantee.post(
        "/prioritisation/scenarios/new",
        data={"csrf_token": token, "name": "not mine", "grid_id": str(grid_id)},
    )
    assert r.status_code == 403
    assert count_rows(tx_engine, "prioritisation_scenarios") == before


def test_the_form_needs_its_csrf_token(tx_login_as: Any, tx_engine: Engine, grid_id: int) -> None:
    analyst = tx_login_as("analyst")
    before = count_rows(tx_engine, "prioritisation_scenarios")
    r = analyst.post(
        "/prioritisation/scenarios/new", data={"name": "no token", "grid_id": str(grid_id)}
    )
    assert r.status_code == 403
    assert count_rows(tx_engine, "prioritisation_scenarios") == before


# -- errors beside their fields --------------------------------------------------------------


def test_scenario_form_errors_stand_beside_their_fields(
    tx_login_as: Any, tx_engine: Engine, grid_id: int
) -> None:
    analyst = tx_login_as("analyst")
    form = analyst.get(f"/prioritisation/scenarios/new?grid={grid_id}").text
    token = csrf_from(form)
    before = count_rows(tx_engine, "prioritisation_scenarios")
    r = analyst.post(
        "/prioritisation/scenarios/new",
        data={
            "csrf_token": token,
            "name": "",
            "grid_id": str(grid_id),
            "target": "300",
            "lock_out_units": "8f2830828052d25",
        },
    )
    assert r.status_code == 400
    errors = _field_errors(r.text)
    assert errors["name"] == "Fill in this field."
    assert errors["target"] == "Enter a percentage between 0 and 100."
    # the form is shown again with what was typed
    assert 'id="target" name="target" inputmode="decimal" value="300"' in r.text
    r = analyst.post(
        "/prioritisation/scenarios/new",
        data={
            "csrf_token": token,
            "name": "bad units",
            "grid_id": str(grid_id),
            "lock_out_units": "8f2830828052d25",
            "lock_out_threats": "No such threat",
        },
    )
    assert r.status_code == 400
    assert "No such threat" in _field_errors(r.text)["lock_out_threats"]
    r = analyst.post(
        "/prioritisation/scenarios/new",
        data={"csrf_token": token, "name": "bad", "grid_id": str(grid_id), "target": "a lot"},
    )
    assert r.status_code == 400 and _field_errors(r.text)["target"] == "Enter a number."
    assert count_rows(tx_engine, "prioritisation_scenarios") == before  # nothing half-stored


def test_grid_form_errors_in_russian(tx_login_as: Any) -> None:
    analyst = tx_login_as("analyst")
    token = csrf_from(analyst.get("/prioritisation/grids/new").text)
    r = analyst.post(
        "/prioritisation/grids/new?lang=ru",
        data={"csrf_token": token, "resolution": "9", "cost_base": "area"},
    )
    assert r.status_code == 400
    errors = _field_errors(r.text)
    assert errors["resolution"] == "Не больше 7."
    assert "countries" in errors


# -- the work off the request, with progress ------------------------------------------------


@pytest.mark.usefixtures("cleaned_up")  # the work runs on a thread with its own connections
def test_grid_form_builds_in_the_background(login_as: Any, engine: Engine) -> None:
    analyst = login_as("analyst")
    token = csrf_from(analyst.get("/prioritisation/grids/new").text)
    name = f"form grid {uuid.uuid4().hex[:8]}"
    r = analyst.post(
        "/prioritisation/grids/new",
        data={
            "csrf_token": token,
            "name": name,
            "resolution": "2",
            "countries": "KGZ",
            "habitat": "regions",
            "cost_base": "area",
            "by_country": "on",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, _field_errors(r.text)
    progress = r.headers["location"]
    grid_id = int(progress.split("/")[3])
    page = analyst.get(progress)
    assert page.status_code == 200 and 'data-poll="/prioritisation/grids/' in page.text
    done = wait_until_ended(analyst, f"/prioritisation/grids/{grid_id}/status")
    assert done["status"] == "ready" and done["succeeded"], done
    assert done["next"] == f"/prioritisation/scenarios/new?grid={grid_id}"
    grid = analyst.get(f"/prioritisation/grids/{grid_id}").json()
    assert grid["name"] == name and grid["n_units"] > 0 and grid["countries"] == ["KGZ"]
    # the same name again is refused beside the name
    r = analyst.post(
        "/prioritisation/grids/new",
        data={"csrf_token": token, "name": name, "countries": "KGZ", "habitat": "regions"},
    )
    assert r.status_code == 400 and "exists already" in _field_errors(r.text)["name"]
    # a scenario form on it offers its features
    form = analyst.get(done["next"]).text
    assert all(f'name="target:{f}"' in form for f in grid["features"])


@pytest.mark.usefixtures("cleaned_up")  # the work runs on a thread with its own connections
def test_scenario_form_solves_in_the_background_and_shows_the_map(
    login_as: Any, engine: Engine, grid_id: int, resort: str
) -> None:
    analyst = login_as("analyst")
    form = analyst.get(f"/prioritisation/scenarios/new?grid={grid_id}").text
    assert f'value="{resort}"' in form  # a published threat to lock out
    feature = re.findall(r'name="target:([^"]+)"', form)[0]
    r = analyst.post(
        "/prioritisation/scenarios/new",
        data={
            "csrf_token": csrf_from(form),
            "name": "Form plan",
            "grid_id": str(grid_id),
            "objective": "min_set",
            "target": "30",
            f"target:{feature}": "40",
            "lock_in_protected": "50",
            "lock_out_threats": resort,
            "portfolio_runs": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, _field_errors(r.text)
    sid = int(r.headers["location"].split("/")[3])
    with engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM prioritisation_scenarios WHERE id = :s"), {"s": sid}
        ).scalar_one()
    assert status in ("pending", "running", "solved")
    done = wait_until_ended(analyst, f"/prioritisation/scenarios/{sid}/status")
    assert done["status"] == "solved", done
    one = analyst.get(f"/prioritisation/scenarios/{sid}").json()
    assert one["parameters"]["targets"] == {feature: 0.4}
    assert one["parameters"]["lock_out_threats"] == [resort]
    assert one["parameters"]["lock_in_protected"] == 0.5
    page = analyst.get(done["next"])
    assert page.status_code == 200 and "Form plan" in page.text


def test_progress_is_recorded_step_by_step(tx_engine: Engine, grid_id: int) -> None:
    params = prio.ScenarioParams(name="steps", grid_id=grid_id, portfolio_runs=1)
    sid = prio.start_scenario(tx_engine, params, actor="tests")
    seen: list[str] = []
    with tx_engine.connect() as conn:
        first = conn.execute(
            text("SELECT status, results FROM prioritisation_scenarios WHERE id = :s"),
            {"s": sid},
        ).one()
    assert first.status == "pending" and first.results["progress"]["step"] == 0

    def spy(message: str) -> None:
        with tx_engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, results FROM prioritisation_scenarios WHERE id = :s"),
                {"s": sid},
            ).one()
        assert row.status == "running" and row.results["progress"]["message"] == message
        seen.append(message)

    prio.solve_started_scenario(tx_engine, sid, params, actor="tests", progress=spy)
    assert seen == [
        prio.SCENARIO_STEPS[0],
        prio.SCENARIO_STEPS[1],
        prio.SCENARIO_STEPS[2],
        prio.SCENARIO_STEPS[3],
        prio.SCENARIO_STEPS[4],
        prio.SCENARIO_STEPS[5],
    ]


@pytest.mark.usefixtures("cleaned_up")  # the work runs on a thread with its own connections
def test_an_infeasible_scenario_from_the_form_says_why(
    login_as: Any, grid_id: int, resort: str
) -> None:
    analyst = login_as("analyst")
    form = analyst.get(f"/prioritisation/scenarios/new?grid={grid_id}").text
    r = analyst.post(
        "/prioritisation/scenarios/new?lang=kk",
        data={
            "csrf_token": csrf_from(form),
            "name": "Too much",
            "grid_id": str(grid_id),
            "target": "100",
            "lock_out_threats": resort,
            "portfolio_runs": "0",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    sid = int(r.headers["location"].split("/")[3])
    done = wait_until_ended(analyst, f"/prioritisation/scenarios/{sid}/status")
    assert done["status"] == "infeasible" and not done["succeeded"]
    assert "cannot be met" in done["error"]
    assert done["status_text"] == "орындалмайды"
    page = analyst.get(f"/prioritisation/scenarios/{sid}/progress").text
    assert "cannot be met" in page and 'id="run-error"' in page


# -- units named by place, costs with their unit --------------------------------------------


def test_units_are_named_by_the_district_they_mostly_lie_in(engine: Engine, grid_id: int) -> None:
    """Checked against the stored districts with shapely (geodesic shares are not needed:
    a ratio of areas within one hexagon)."""
    with engine.connect() as conn:
        units = gpd.read_postgis(
            text(
                "SELECT h3, iso3, \"values\" -> 'place' AS place, geom FROM planning_units "
                "WHERE grid_id = :g"
            ),
            conn,
            params={"g": grid_id},
            geom_col="geom",
        )
        districts = gpd.read_postgis(
            "SELECT name_en, name_ru, name_kk, geom FROM districts", conn, geom_col="geom"
        )
    places = [p if isinstance(p, dict) else json.loads(p) for p in units.place]
    assert len(units) and all(p.get("settlement") for p in places)
    tree = shapely.STRtree(districts.geometry.to_numpy())
    named = 0
    for geom, place in zip(units.geometry, places, strict=True):
        shares = {
            districts.name_en.iloc[k]: shapely.intersection(geom, districts.geometry.iloc[k]).area
            / geom.area
            for k in tree.query(geom, predicate="intersects")
        }
        best = max(shares, key=shares.__getitem__) if shares else None
        if best is not None and shares[best] >= 0.5 + 1e-6:
            assert place["district"]["en"] == best
            named += 1
        elif best is None or shares[best] < 0.5 - 1e-6:
            assert "district" not in place
    assert named > 20  # the grid covers much of Kazakhstan


def test_labels_in_three_languages() -> None:
    place = {
        "district": {"en": "Raiymbek", "ru": "Райымбекский", "kk": "Райымбек"},
        "region": {"en": "Almaty", "ru": "Алматинская", "kk": "Алматы"},
        "settlement": {"en": "Narynkol", "ru": "Нарынкол", "kk": "Нарынқол"},
        "range": "TIAN SHAN",
    }
    words = prio.PlaceWords(
        near="близ %(place)s", district="%(name)s район", region="%(name)s область"
    )
    assert (
        prio.unit_label(place, "ru", fallback="x", words=words)
        == "Райымбекский район, Алматинская область · Тянь-Шань"
    )
    assert (
        prio.unit_label(place, "en", fallback="x") == "Raiymbek district, Almaty region · Tian Shan"
    )
    away = {"settlement": {"en": "Naryn", "ru": "Нарын", "kk": "Нарын"}, "range": "PAMIRS"}
    assert prio.unit_label(away, "kk", fallback="x", words=words) == "близ Нарын · Памир"
    # a city district keeps its name alone; an unnamed unit keeps its H3 index
    city = {"district": {"en": "Semey", "ru": "Семей", "kk": "Семей"}}
    assert prio.unit_label(city, "ru", fallback="x", words=words) == "Семей"
    assert prio.unit_label({}, "ru", fallback="831082fffffffff") == "831082fffffffff"


def test_plan_page_names_units_and_links_them_to_the_map(
    client: Any, engine: Engine, solved_scenario: int
) -> None:
    r = client.get(f"/prioritisation/scenarios/{solved_scenario}/map?lang=ru", headers=HTML)
    assert r.status_code == 200
    links = re.findall(
        r'<a href="(/prioritisation/scenarios/\d+/map\?unit=([0-9a-f]{15})#mapbox)" '
        r'class="unit"[^>]*>([^<]+)</a>',
        r.text,
    )
    assert links, "no unit linked to the map"
    with engine.connect() as conn:
        places: dict[str, Any] = dict(
            conn.execute(
                text(
                    "SELECT u.h3, u.\"values\" -> 'place' FROM scenario_units su "
                    "JOIN planning_units u ON u.id = su.unit_id WHERE su.scenario_id = :s"
                ),
                {"s": solved_scenario},
            ).all()
        )
    for _href, h3, name in links:
        place = places[h3]
        if "district" in place:  # in Russian, with the district's Russian name
            assert name.startswith(place["district"]["ru"]), (name, place)
        else:
            assert name.startswith("около н. п. " + place["settlement"]["ru"]), (name, place)
    href, h3, name = links[0]
    one = client.get(href.split("#")[0], headers=HTML)
    assert one.status_code == 200
    focus = re.search(r'id="focus">(.*?)</p>', one.text, re.S)
    assert focus and h3 in focus.group(1)
    assert (
        client.get(
            f"/prioritisation/scenarios/{solved_scenario}/map?unit=830000fffffffff"
        ).status_code
        == 404
    )


def test_costs_say_their_unit(client: Any, solved_scenario: int) -> None:
    page = client.get(f"/prioritisation/scenarios/{solved_scenario}/map?lang=en", headers=HTML).text
    assert "A unit&#39;s cost is its land area in km²." in page
    lead = re.search(r'<div class="case scenario">\s*<h1>[^<]*</h1>\s*<p>(.*?)</p>', page, re.S)
    assert lead and re.search(r"cost [\d,]+ km²", lead.group(1))
    ru = client.get(f"/prioritisation/scenarios/{solved_scenario}/map?lang=ru", headers=HTML).text
    assert "Стоимость единицы — её площадь в км²." in ru


def test_unit_geojson_carries_the_place(client: Any, solved_scenario: int) -> None:
    fc = client.get(f"/prioritisation/scenarios/{solved_scenario}/units").json()
    assert all(f["properties"]["place"]["settlement"]["en"] for f in fc["features"])


# -- three languages -------------------------------------------------------------------------


def test_every_step_of_a_run_is_said_in_three_languages() -> None:
    steps = {None, *prio.GRID_STEPS, *prio.SCENARIO_STEPS}
    assert set(router.STEP_TEXT) == steps
    for lang in ("ru", "kk"):
        for step in steps - {None}:
            said = translations(lang).gettext(str(step))
            assert said != step, f"{step!r} has no {lang} translation"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("ru", ["Приоритизация", "Сценарии", "Планировочные сетки"]),
        ("kk", ["Басымдықтарды анықтау", "Сценарийлер", "Жоспарлау торлары"]),
        ("en", ["Prioritisation", "Scenarios", "Planning grids"]),
    ],
)
def test_list_page_in_three_languages(
    client: Any, solved_scenario: int, lang: str, words: list[str]
) -> None:
    page = client.get(f"/prioritisation?lang={lang}", headers=HTML).text
    for w in words:
        assert w in page, w


def test_plan_page_in_kazakh(client: Any, solved_scenario: int) -> None:
    page = client.get(f"/prioritisation/scenarios/{solved_scenario}/map?lang=kk", headers=HTML).text
    for w in ("Мақсаттар", "Дәл шешуші және ашкөз базалық шешім"):
        assert w in page, w
    # the map's layer names are in its script, as JSON
    assert json.dumps("Жоспар: таңдалған бірліктер")[1:-1] in page


# -- the demo --------------------------------------------------------------------------------


def test_the_demo_ships_one_solved_scenario(tx_client: Any, tx_engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    from api.db import models as m
    from api.demo import data as dd
    from api.demo.loader import DEMO_AS_OF

    # solved here, or already by the demo's load (``irbis load demo`` runs the same step)
    prio.ensure_demo_scenario(
        tx_engine, lock_out=[dd.KOK_JAILAU["name"]], data_dir=settings.data_dir, as_of=DEMO_AS_OF
    )
    with Session(tx_engine) as s:
        solved = s.scalars(
            select(m.PrioritisationScenario.id).where(
                m.PrioritisationScenario.name == prio.DEMO_SCENARIO,
                m.PrioritisationScenario.status == m.ScenarioStatus.solved.value,
            )
        ).all()
        assert len(solved) == 1
        sid = solved[0]
        # funded sites counted on the demo's date, as its gaps are
        grid = s.scalars(select(m.PlanningGrid).where(m.PlanningGrid.name == prio.DEMO_GRID)).one()
        assert grid.parameters["as_of"] == DEMO_AS_OF.isoformat()
    again = prio.ensure_demo_scenario(tx_engine, lock_out=[dd.KOK_JAILAU["name"]])
    assert again is None  # once
    page = tx_client.get("/prioritisation", headers=HTML).text
    row = re.search(rf"<tr><td>{sid}</td>(.*?)</tr>", page, re.S)
    assert row and str(escape(prio.DEMO_SCENARIO)) in row.group(1) and "/map" in row.group(1)
    assert tx_client.get(f"/prioritisation/scenarios/{sid}/map").status_code == 200


def test_cli_lists_grids_with_their_status(settings, grid_id: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from api.cli import app as cli

    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("COLUMNS", "250")
    r = CliRunner().invoke(cli, ["prioritise", "list"])
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if f"│ {grid_id} " in line)
    assert row.rstrip(" │").endswith("ready")


def test_an_empty_list_says_how_to_get_a_scenario(db_tx, tx_client) -> None:  # type: ignore[no-untyped-def]
    # a scenario committed meanwhile (a run another test left on a worker thread) would show:
    # keep others from adding one until this test's transaction is rolled back. The grids
    # are locked first, as every writer of both writes them (the heartbeat, the check for
    # stopped runs that the page and each app's start make): holding the scenarios alone, the
    # page's check for stopped runs deadlocked with such a check begun elsewhere (each waited
    # for the other, on the scenarios and on the grids' data version)
    db_tx.connection.execute(text("SET LOCAL lock_timeout = '60s'"))
    db_tx.connection.execute(
        text("LOCK TABLE planning_grids, prioritisation_scenarios IN SHARE MODE")
    )
    db_tx.connection.execute(text("DELETE FROM prioritisation_scenarios"))
    page = tx_client.get("/prioritisation?lang=ru", headers=HTML).text
    assert 'id="no-scenarios"' in page and "irbis load demo" in page
    assert 'table class="data scenarios"' not in page

"""One funding rule everywhere (geo.funding): overlaps, loss zones, planning units and the
Kok-Jailau case page count only the field sites of grants under way on the stated day (and, on
the case page, grants for snow leopards), and say which day; checked against PostGIS."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.services import analyses as an
from api.services import prioritisation as prio
from api.settings import Settings
from geo.errors import NotFound
from layers.cases import kok_jailau

pytestmark = pytest.mark.cleaned_up  # its analysis runs are shared by its tests (module-scoped)

FUNDED_DAY = dt.date(2021, 6, 30)  # half-way through the example programme
LATER_DAY = dt.date(2024, 1, 1)  # after every example grant ended

FUNDED_SQL = (
    "SELECT f.id FROM field_sites f JOIN grants g ON g.id = f.grant_id "
    "WHERE g.status IN ('active', 'closed') AND g.start_date <= :d AND g.end_date >= :d"
)


@pytest.fixture(scope="module")
def runs(engine: Engine, settings: Settings, demo: dict[str, int]) -> dict[str, Any]:
    layers = ["field_sites", "countries"]
    return {
        "overlap_then": an.run_overlap(engine, settings, layers, as_of=FUNDED_DAY),
        "overlap_later": an.run_overlap(engine, settings, layers, as_of=LATER_DAY),
    }


@pytest.fixture(scope="module")
def losses(engine: Engine, settings: Settings, demo: dict[str, int]) -> dict[str, int]:
    """Loss runs with a raster series (the Kok-Jailau scenario epochs) on the two days."""
    with Session(engine) as s:
        for kind, run in (("ecosystems", an.run_ecosystems), ("habitat", an.run_habitat)):
            try:
                an.latest_run(s, kind)
            except NotFound:
                run(engine, settings)
    epochs = an.register_habitat_scenario(engine, settings)
    return {
        "then": an.run_loss(engine, settings, epochs=epochs, as_of=FUNDED_DAY),
        "later": an.run_loss(engine, settings, epochs=epochs, as_of=LATER_DAY),
    }


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def _funded_ids(session: Session, day: dt.date, extra: str = "") -> set[int]:
    return set(session.execute(text(FUNDED_SQL + extra), {"d": day}).scalars())


def test_overlap_takes_the_sites_funded_on_its_day(runs, session, client) -> None:  # type: ignore[no-untyped-def]
    then = an.get_run(session, runs["overlap_then"])
    later = an.get_run(session, runs["overlap_later"])
    assert then.status == later.status == "succeeded", (then.error, later.error)
    assert then.parameters["as_of"] == FUNDED_DAY.isoformat()
    assert "start_date <= date <= end_date" in then.parameters["funded"]
    inside = _funded_ids(
        session,
        FUNDED_DAY,
        " AND EXISTS (SELECT 1 FROM countries c WHERE c.iso_a3 IN ('KAZ', 'KGZ', 'TJK', 'UZB') "
        "AND ST_Intersects(c.geom, f.geom))",
    )
    assert inside, "the demo has field sites of grants under way half-way through the programme"
    got = {int(r["field_sites_id"]) for r in then.results["table"]}
    assert got == inside
    all_sites = set(session.execute(text("SELECT id FROM field_sites")).scalars())
    assert all_sites - inside, "some demo sites are not funded that day: the rule is tested"
    assert later.results["pieces"] == 0
    # the day is on the run's page and in its JSON
    page = client.get(f"/analyses/{then.id}?f=html").text
    assert f"Funded: field sites of grants under way on {FUNDED_DAY.isoformat()}." in page
    body = client.get(f"/analyses/{then.id}?f=json").json()
    assert body["parameters"]["as_of"] == FUNDED_DAY.isoformat()


def test_loss_zones_are_the_sites_funded_on_its_day(losses, session) -> None:  # type: ignore[no-untyped-def]
    def site_zones(run_id: int) -> set[int]:
        run = an.get_run(session, run_id)
        assert run.status == "succeeded", run.error
        series = run.results["raster_series"]
        assert series, "the scenario epochs give a raster series"
        return {
            int(s["zone"].split(":", 1)[1]) for s in series if s["zone"].startswith("field_site:")
        }

    then = site_zones(losses["then"])
    assert then and then <= _funded_ids(session, FUNDED_DAY)
    assert site_zones(losses["later"]) == set()
    run = an.get_run(session, losses["then"])
    assert run.parameters["as_of"] == FUNDED_DAY.isoformat()
    assert run.inputs["tables"]["grants"] >= 0


def _case_sites_by_sql(session: Session, day: dt.date) -> int:
    return int(
        session.execute(
            text(
                "SELECT count(*) FROM field_sites f JOIN grants g ON g.id = f.grant_id, threats t "
                "WHERE t.published AND t.name ILIKE 'Kok-%ailau%' "
                "AND ST_DWithin(f.geom::geography, t.geom::geography, 50000) "
                "AND g.status IN ('active', 'closed') AND g.start_date <= :d AND g.end_date >= :d "
                "AND EXISTS (SELECT 1 FROM grant_species gs JOIN species s ON s.id = gs.species_id "
                "WHERE gs.grant_id = g.id AND s.scientific_name = 'Panthera uncia')"
            ),
            {"d": day},
        ).scalar_one()
    )


def test_case_page_counts_snow_leopard_sites_funded_on_the_day(
    engine: Engine, session: Session, client: Any, demo: dict[str, int]
) -> None:
    with engine.connect() as conn:
        then = kok_jailau(conn, FUNDED_DAY)
        later = kok_jailau(conn, LATER_DAY)
        today = kok_jailau(conn)
    assert then is not None and later is not None and today is not None
    expected = _case_sites_by_sql(session, FUNDED_DAY)
    assert expected > 0, "a snow leopard grant's sites lie within 50 km of Kok-Jailau in 2021"
    assert then["sites_within_50km"] == expected
    assert then["funded_on"] == FUNDED_DAY
    assert later["sites_within_50km"] == _case_sites_by_sql(session, LATER_DAY) == 0
    assert today["funded_on"] == dt.date.today()
    page = client.get("/cases/kok-jailau").text
    row = re.search(
        r"<td>Field sites within 50 km of snow leopard grants under way on "
        r"(\d{4}-\d{2}-\d{2})</td><td>(\d+)</td>",
        page,
    )
    assert row is not None, "the case page states the day its funded count is for"
    day = dt.date.fromisoformat(row.group(1))
    assert int(row.group(2)) == _case_sites_by_sql(session, day)


def test_planning_units_count_grants_under_way_on_the_grid_day(
    engine: Engine, settings: Settings, session: Session, demo: dict[str, int]
) -> None:
    shares = {}
    for day in (FUNDED_DAY, LATER_DAY):
        params = prio.GridParams(name=f"funding {uuid.uuid4().hex[:8]}", resolution=3, as_of=day)
        grid_id = prio.build_grid(engine, params, actor="tests", data_dir=settings.data_dir)
        grid = prio.get_grid(session, grid_id)
        assert grid.parameters["as_of"] == day.isoformat()
        rows = session.execute(
            text(
                "SELECT u.id, (u.\"values\"->>'grant_share')::float, EXISTS (SELECT 1 FROM "
                "field_sites f JOIN grants g ON g.id = f.grant_id WHERE ST_Intersects(u.geom, "
                "f.geom) AND g.status IN ('active', 'closed') AND g.start_date <= :d "
                "AND g.end_date >= :d) FROM planning_units u WHERE u.grid_id = :g"
            ),
            {"g": grid_id, "d": day},
        ).all()
        shares[day] = sum(share for _, share, _ in rows)
        for uid, share, touches_funded in rows:
            assert (share > 0) <= touches_funded, uid  # a share only where a funded site is
    assert shares[FUNDED_DAY] > 0
    assert shares[LATER_DAY] == 0

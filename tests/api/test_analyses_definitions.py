"""On the demo: ecosystems by their definitions, the modelled ranges, funded-by-date and
by-species, and the weakest-input labels of gap rows, against independent PostGIS queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.services import analyses as an
from api.settings import Settings

pytestmark = pytest.mark.cleaned_up  # its analysis runs are shared by its tests (module-scoped)

FUNDED_DAY = dt.date(2020, 6, 1)  # inside most example grants
LATER_DAY = dt.date(2024, 1, 1)  # after every example grant ended


@pytest.fixture(scope="module")
def runs(engine: Engine, settings: Settings, demo: dict[str, int]) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    ids["ecosystems"] = an.run_ecosystems(engine, settings)
    ids["habitat"] = an.run_habitat(engine, settings)
    ids["gaps_then"] = an.run_gaps(engine, settings, as_of=FUNDED_DAY)
    ids["gaps_later"] = an.run_gaps(engine, settings, as_of=LATER_DAY)
    return ids


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def test_ecosystem_run_records_dems_climate_files_and_its_bias(runs, session):
    run = an.get_run(session, runs["ecosystems"])
    assert run.status == "succeeded", run.error
    files = run.inputs["files"]
    assert {an.KOPPEN_FILE, an.ARIDITY_FILE, an.LANDCOVER_FILE, an.ECOREGIONS_FILE} <= set(files)
    assert all(len(f["sha256"]) == 64 for f in files.values())
    by = run.results["by_country"]
    assert set(by) == {"KAZ", "KGZ", "TJK", "UZB"}
    for iso, c in by.items():
        # the land of each country is split between the two DEMs, nothing lost
        assert sum(c["ha_by_dem"].values()) == pytest.approx(c["land_ha"], rel=1e-6), iso
        assert c["glaciated_mountain_ha"] <= c["mountain_ha"]
    # Kyrgyzstan and Tajikistan are mountain countries (GRID-Arendal 2016: 90.7 %, 91.9 %)
    for iso in ("KGZ", "TJK"):
        assert by[iso]["mountain_ha"] / by[iso]["land_ha"] > 0.85
    # Kazakhstan, by the figures read at their source (docs/analyses.md): mountain 7 % of the
    # country (CBD Secretariat's profile), within the 0.67-1.5 band; "more than three-quarters
    # of the country is desert or semi-desert" (Library of Congress 2006), a lower bound
    kaz = by["KAZ"]
    assert 0.67 * 0.07 <= kaz["mountain_ha"] / kaz["land_ha"] <= 1.5 * 0.07
    assert kaz["arid_koppen_ha"] / kaz["land_ha"] > 0.75
    # the coarse DEM finds less mountain than the fine one where both exist
    bias = by["KAZ"]["fine_window_mountain_ha"]
    assert bias["coarse_dem"] < bias["fine_dem"]
    kinds = dict(
        session.execute(
            text(
                "SELECT properties->>'label', sum((properties->>'area_ha')::float) FROM ecosystems "
                "WHERE analysis_run_id = :r GROUP BY 1"
            ),
            {"r": runs["ecosystems"]},
        ).all()
    )
    assert kinds["arid lowland: desert (Köppen BW)"] > 0
    assert kinds["arid lowland: semi-desert and steppe (Köppen BS)"] > 0
    assert kinds["other lowland (not arid)"] > 0
    assert "glacier (older grids)" not in kinds


def test_modelled_ranges_reach_the_published_places(runs, session):
    def habitat_near(species: str, lon: float, lat: float, km: float) -> float:
        return float(
            session.execute(
                text(
                    "SELECT coalesce(sum(ST_Area(ST_Intersection(h.geom, ST_Buffer("
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :m)::geometry)"
                    "::geography)), 0) / 1e4 FROM habitat h JOIN species s ON s.id = h.species_id "
                    "WHERE h.analysis_run_id = :r AND s.scientific_name = :sp"
                ),
                {"x": lon, "y": lat, "m": km * 1000, "r": runs["habitat"], "sp": species},
            ).scalar_one()
        )

    # snow leopard: the Kazakh Altai (Katon-Karagay) and the Western Tien Shan (Ugam range)
    assert habitat_near("Panthera uncia", 86.0, 49.2, 40) > 1000
    assert habitat_near("Panthera uncia", 70.3, 42.1, 30) > 1000
    # goitered gazelle: Altyn-Emel (Ili-Balkhash) and Tajikistan's south-western lowlands
    assert habitat_near("Gazella subgutturosa", 78.6, 44.0, 40) > 1000
    assert habitat_near("Gazella subgutturosa", 68.5, 37.4, 40) > 1000


def _funded_by_sql(
    session: Session, run_id: int, day: dt.date
) -> dict[tuple[str, str, str], float]:
    rows = session.execute(
        text(
            "WITH h AS (SELECT s.scientific_name AS sp, h.ecosystem, h.iso3, "
            "ST_Union(h.geom) AS geom FROM habitat h JOIN species s ON s.id = h.species_id "
            "WHERE h.analysis_run_id = :r GROUP BY 1, 2, 3), "
            "f AS (SELECT s.scientific_name AS sp, ST_Union(fs.geom) AS geom FROM field_sites fs "
            "JOIN grants g ON g.id = fs.grant_id JOIN grant_species gs ON gs.grant_id = g.id "
            "JOIN species s ON s.id = gs.species_id WHERE g.status IN ('active', 'closed') "
            "AND g.start_date <= :d AND g.end_date >= :d GROUP BY 1) "
            "SELECT h.sp, h.ecosystem, h.iso3, coalesce(ST_Area(ST_Intersection(h.geom, f.geom)"
            "::geography), 0) / 1e4 FROM h LEFT JOIN f ON f.sp = h.sp"
        ),
        {"r": run_id, "d": day},
    ).all()
    return {(sp, e, iso): float(a or 0) for sp, e, iso, a in rows}


def test_funded_means_funded_then_and_for_that_species(runs, session):
    then = an.get_run(session, runs["gaps_then"])
    later = an.get_run(session, runs["gaps_later"])
    assert then.parameters["as_of"] == FUNDED_DAY.isoformat()
    expected = _funded_by_sql(session, runs["habitat"], FUNDED_DAY)
    got = {(r["species"], r["ecosystem"], r["iso3"]): r["funded_ha"] for r in then.results["table"]}
    assert set(got) == set(expected)
    assert sum(got.values()) > 0
    for k, v in got.items():
        assert v == pytest.approx(expected[k], rel=5e-3, abs=1.0), k
    # every example grant had ended by 2024: nothing is funded then
    assert all(r["funded_ha"] == 0 for r in later.results["table"])
    # a site of a grant for one species never counts for the other
    for_leopard_only = session.execute(
        text(
            "SELECT count(*) FROM grants g WHERE NOT EXISTS (SELECT 1 FROM grant_species gs "
            "JOIN species s ON s.id = gs.species_id WHERE gs.grant_id = g.id "
            "AND s.scientific_name = 'Gazella subgutturosa')"
        )
    ).scalar_one()
    assert for_leopard_only > 0


def test_gap_rows_carry_the_weakest_input_and_name_the_examples(runs, session):
    run = an.get_run(session, runs["gaps_then"])
    table = run.results["table"]
    assert {r["method"] for r in table} <= {"example", "modelled"}
    for r in table:
        assert (r["method"] == "example") == bool(r["example_inputs"]), r
    # the field sites each row rests on, by an independent query
    for r in table:
        sites = session.execute(
            text(
                "SELECT DISTINCT fs.name FROM field_sites fs JOIN grants g ON g.id = fs.grant_id "
                "JOIN grant_species gs ON gs.grant_id = g.id JOIN species s ON s.id = "
                "gs.species_id JOIN habitat h ON h.species_id = s.id AND h.analysis_run_id = :r "
                "AND h.ecosystem = :e AND h.iso3 = :i WHERE s.scientific_name = :sp "
                "AND fs.method = 'example' AND g.status IN ('active', 'closed') "
                "AND g.start_date <= :d AND g.end_date >= :d AND ST_Intersects(fs.geom, h.geom)"
            ),
            {
                "r": runs["habitat"],
                "e": r["ecosystem"],
                "i": r["iso3"],
                "sp": r["species"],
                "d": FUNDED_DAY,
            },
        ).scalars()
        named = {
            x.removeprefix("field site: ")
            for x in r["example_inputs"]
            if x.startswith("field site: ")
        }
        assert named == set(sites), r
    pieces = (
        session.execute(
            text("SELECT properties FROM analysis_features WHERE run_id = :r AND kind = 'gap'"),
            {"r": runs["gaps_then"]},
        )
        .scalars()
        .all()
    )
    assert pieces and all(p["method"] in ("example", "modelled") for p in pieces)
    assert sorted(p["rank"] for p in pieces) == list(range(1, len(pieces) + 1))


def test_labels_are_shown_on_the_page_and_in_the_downloads(runs, client, session):
    rid = runs["gaps_then"]
    table = an.get_run(session, rid).results["table"]
    labelled = [r for r in table if r["example_inputs"]]
    assert labelled, "the demo's gap rows rest on example records"
    rows = list(csv.DictReader(io.StringIO(client.get(f"/analyses/{rid}/table.csv").text)))
    assert {"method", "example_inputs"} <= set(rows[0])
    by_key = {(r["species"], r["ecosystem"], r["iso3"]): r for r in rows}
    for r in labelled:
        got = by_key[(r["species"], r["ecosystem"], r["iso3"])]
        assert got["method"] == "example"
        assert all(name in got["example_inputs"] for name in r["example_inputs"])
    page = client.get(f"/analyses/{rid}", headers={"Accept": "text/html"}).text
    assert "example_inputs" in page and labelled[0]["example_inputs"][0] in page
    features = client.get(f"/analyses/{rid}/features").json()["features"]
    assert features and all(f["properties"]["method"] in ("example", "modelled") for f in features)

"""Prioritisation plans on the stored habitat run by default: the same numbers as /analyses,
border hexagons counted for each country by intersection.

The analyses and grids are made in the test's transaction and rolled back (``tx_engine``)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import Engine, text

from api.services import analyses as an
from api.services import prioritisation as prio


def test_grid_features_are_the_habitat_run_by_country(tx_engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    an.run_ecosystems(tx_engine, settings)
    habitat_run = an.run_habitat(tx_engine, settings)
    params = prio.GridParams(name=f"stored {uuid.uuid4().hex[:8]}", resolution=3)
    grid_id = prio.build_grid(tx_engine, params, actor="tests", data_dir=settings.data_dir)
    with tx_engine.connect() as conn:
        source = conn.execute(
            text("SELECT inputs->>'habitat_source' FROM planning_grids WHERE id = :g"),
            {"g": grid_id},
        ).scalar_one()
        assert source.startswith(f"habitat analysis run {habitat_run} ")
        expected = {
            f"{sp}|{eco}|{iso}": km2
            for sp, eco, iso, km2 in conn.execute(
                text(
                    "SELECT s.scientific_name, h.ecosystem, h.iso3, sum(h.area_ha) / 100 "
                    "FROM habitat h JOIN species s ON s.id = h.species_id "
                    "WHERE h.analysis_run_id = :r AND h.ecosystem IN ('mountain', 'arid_lowland') "
                    "GROUP BY 1, 2, 3"
                ),
                {"r": habitat_run},
            ).all()
        }
        got = dict(
            conn.execute(
                text(
                    "SELECT key, sum(value::float) FROM planning_units, "
                    "jsonb_each_text(\"values\"->'features') WHERE grid_id = :g "
                    "GROUP BY key"
                ),
                {"g": grid_id},
            ).all()
        )
    assert got, "no habitat feature in the grid"
    # every feature of the grid is a habitat row of the run, with the same area (the hexagons
    # cover the countries; equal-area against geodesic areas)
    for feature, km2 in got.items():
        assert feature in expected, feature
        assert km2 == pytest.approx(float(expected[feature]), rel=1e-2), feature
    # the snow leopard in all four countries, each its own feature
    assert {f for f in got if f.startswith("Panthera uncia|mountain|")} == {
        f"Panthera uncia|mountain|{iso}" for iso in ("KAZ", "KGZ", "TJK", "UZB")
    }


def test_planning_rows_carry_the_weakest_input_and_name_the_examples(
    tx_engine: Engine, settings
) -> None:  # type: ignore[no-untyped-def]
    # half-way through the example programme, when the example grants were under way
    day = dt.date(2021, 6, 30)
    params = prio.GridParams(name=f"labels {uuid.uuid4().hex[:8]}", resolution=3, as_of=day)
    grid_id = prio.build_grid(tx_engine, params, actor="tests", data_dir=settings.data_dir)
    with tx_engine.connect() as conn:
        units = conn.execute(
            text('SELECT id, "values" FROM planning_units WHERE grid_id = :g'), {"g": grid_id}
        ).all()
        # independent: the example field sites and threats each unit touches, in SQL
        touched: dict[int, set[str]] = {}
        for uid, name in conn.execute(
            text(
                "SELECT u.id, 'field site: ' || f.name FROM planning_units u JOIN field_sites f "
                "ON ST_Intersects(u.geom, f.geom) JOIN grants gr ON gr.id = f.grant_id "
                "WHERE u.grid_id = :g AND f.method = 'example' AND gr.status IN "
                "('active', 'closed') AND gr.start_date <= :d AND gr.end_date >= :d "
                "UNION SELECT u.id, 'threat: ' || t.name FROM planning_units u JOIN threats t "
                "ON ST_Intersects(u.geom, t.geom) WHERE u.grid_id = :g AND t.method = 'example' "
                "AND t.published"
            ),
            {"g": grid_id, "d": day},
        ).all():
            touched.setdefault(uid, set()).add(name)
        grid_inputs = conn.execute(
            text("SELECT inputs FROM planning_grids WHERE id = :g"), {"g": grid_id}
        ).scalar_one()
    assert touched, "the demo has example field sites inside the grid"
    for uid, values in units:
        named = {x for x in values["example_inputs"] if not x.startswith("protected area: ")}
        assert named == touched.get(uid, set()), uid
        assert values["method"] == ("example" if values["example_inputs"] else "modelled")
    assert grid_inputs["method"] == "example"
    assert set(grid_inputs["example_inputs"]) >= set().union(*touched.values())

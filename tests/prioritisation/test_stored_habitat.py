"""Prioritisation plans on the stored habitat run by default: the same numbers as /analyses,
border hexagons counted for each country by intersection."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text

from api.services import analyses as an
from api.services import prioritisation as prio


def test_grid_features_are_the_habitat_run_by_country(engine: Engine, settings, demo) -> None:  # type: ignore[no-untyped-def]
    an.run_ecosystems(engine, settings)
    habitat_run = an.run_habitat(engine, settings)
    params = prio.GridParams(name=f"stored {uuid.uuid4().hex[:8]}", resolution=3)
    grid_id = prio.build_grid(engine, params, actor="tests", data_dir=settings.data_dir)
    with engine.connect() as conn:
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

"""Kok-Jailau as documented: the schematic footprint on the plateau between the gorges, long
axis west-east, inside the real Ile-Alatau polygon, at the elevation the demo's DEM gives
there; the land's boundary history deciding whether it is inside the park on a date; the
park's snow leopard figure quoted as its source says it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import rasterio
import shapely
from pyproj import Geod
from shapely.geometry.polygon import orient

from api.demo import data as dd
from api.demo.loader import RASTERS, load_kok_jailau
from api.services import analyses as an
from api.settings import Settings
from geo.protected_planet import inside_on, protected_on
from geo.shapes import ellipse_with_area

GEOD = Geod(ellps="WGS84")


def ha(g: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(orient(g))[0]) / 1e4 if not g.is_empty else 0.0


def _footprint_and_park(engine: Engine) -> tuple[shapely.Geometry, shapely.Geometry, dict]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        t = conn.execute(
            text("SELECT ST_AsBinary(geom) AS g, properties FROM threats WHERE name = :n"),
            {"n": dd.KOK_JAILAU["name"]},
        ).one()
        park = conn.execute(
            text("SELECT ST_AsBinary(geom) FROM protected_areas WHERE osm_id = :o"),
            {"o": dd.ILE_ALATAU["osm_id"]},
        ).scalar_one()
    return shapely.from_wkb(bytes(t.g)), shapely.from_wkb(bytes(park)), t.properties


def test_footprint_is_inside_the_real_park_polygon(engine: Engine, demo: dict[str, int]) -> None:
    footprint, park, _ = _footprint_and_park(engine)
    assert park.contains(footprint)
    assert ha(footprint) == pytest.approx(dd.KOK_JAILAU["area_ha"], rel=1e-3)


def test_footprint_long_axis_runs_west_east(engine: Engine, demo: dict[str, int]) -> None:
    footprint, _, _ = _footprint_and_park(engine)
    rect = shapely.minimum_rotated_rectangle(footprint)
    (x0, y0), (x1, y1), (x2, y2) = list(rect.exterior.coords)[:3]
    sides = [GEOD.inv(x0, y0, x1, y1), GEOD.inv(x1, y1, x2, y2)]
    azimuth, _, length = max(sides, key=lambda s: s[2])
    _, _, width = min(sides, key=lambda s: s[2])
    assert length / width == pytest.approx(dd.KOK_JAILAU["aspect"], rel=0.05)
    assert abs(azimuth % 180 - 90) < 5  # west-east


def test_footprint_elevation_is_what_the_dem_gives(
    engine: Engine, demo: dict[str, int], settings: Settings
) -> None:
    """The stored elevation is checked against DEM values sampled independently at points
    inside the footprint, and lies on the plateau the sources describe."""
    footprint, _, props = _footprint_and_park(engine)
    stored = props["dem_elevation_m"]
    info = next(r for r in RASTERS if r["name"] == stored["dem"])
    minx, miny, maxx, maxy = footprint.bounds
    xs, ys = np.meshgrid(np.linspace(minx, maxx, 60), np.linspace(miny, maxy, 60))
    inside = shapely.contains_xy(footprint, xs.ravel(), ys.ravel())
    pts = list(zip(xs.ravel()[inside], ys.ravel()[inside], strict=True))
    with rasterio.open(settings.data_dir / info["path"]) as r:
        values = np.array([v[0] for v in r.sample(pts)], dtype=float)
    assert abs(np.median(values) - stored["median"]) < 40
    assert stored["min"] <= np.percentile(values, 5) and np.percentile(values, 95) <= stored["max"]
    # on the plateau: 1,450-1,740 m by one source, 1,600-2,200 m by others
    assert 1450 <= stored["median"] <= 2200
    # the old footprint (76.98 E, 43.14 N) sat well above what its own record stated
    with rasterio.open(settings.data_dir / info["path"]) as r:
        old = float(next(r.sample([(76.98, 43.14)]))[0])
    assert old > 1950 > stored["median"]


def test_the_land_is_outside_the_park_while_excised(engine: Engine, demo: dict[str, int]) -> None:
    footprint, park, _ = _footprint_and_park(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.changed_on, c.kind, ST_AsBinary(c.geom) AS g, c.method "
                "FROM protected_area_changes c JOIN protected_areas p "
                "ON p.id = c.protected_area_id JOIN threats t ON t.id = c.threat_id "
                "WHERE p.osm_id = :o AND t.name = :n ORDER BY c.changed_on"
            ),
            {"o": dd.ILE_ALATAU["osm_id"], "n": dd.KOK_JAILAU["name"]},
        ).all()
    assert [(r.changed_on, r.kind) for r in rows] == [
        (dt.date(2014, 1, 1), "excised"),
        (dt.date(2022, 2, 1), "returned"),
    ]
    assert {r.method for r in rows} == {"example"}
    changes = [(r.changed_on, r.kind, shapely.from_wkb(bytes(r.g))) for r in rows]
    whole = ha(footprint)
    expected = {
        dt.date(2013, 6, 1): whole,  # before the excision
        dt.date(2015, 6, 1): 0.0,  # excised
        dt.date(2019, 11, 1): 0.0,  # construction banned, land still out of the park
        dt.date(2022, 1, 31): 0.0,
        dt.date(2022, 2, 1): whole,  # returned by decree
        dt.date(2025, 6, 1): whole,  # the plan revived does not take it out again
    }
    for day, want in expected.items():
        inside = ha(shapely.intersection(footprint, protected_on(park, changes, day)))
        assert inside == pytest.approx(want, abs=1.0), day
        assert inside_on([(d, k) for d, k, _ in changes], day) == (want > 0)


def test_inside_on_refuses_an_unknown_change() -> None:
    with pytest.raises(ValueError, match="unknown boundary change"):
        inside_on([(dt.date(2014, 1, 1), "moved")], dt.date(2015, 1, 1))


def test_an_older_demo_footprint_is_moved(db_tx, settings: Settings) -> None:
    old = ellipse_with_area(76.98, 43.14, area_ha=1002.0, aspect=1.8, rotation_deg=20)
    with db_tx.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE threats SET geom = ST_GeomFromText(:w, 4326), properties = '{}' "
                "WHERE name = :n"
            ),
            {"w": old.wkt, "n": dd.KOK_JAILAU["name"]},
        )
    assert load_kok_jailau(db_tx.engine, settings) == 1
    assert load_kok_jailau(db_tx.engine, settings) == 0
    footprint, park, props = _footprint_and_park(db_tx.engine)
    assert park.contains(footprint) and not footprint.equals(old)
    assert props["dem_elevation_m"]["median"] < 2000
    with db_tx.engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM protected_area_changes c JOIN threats t "
                "ON t.id = c.threat_id WHERE t.name = :n"
            ),
            {"n": dd.KOK_JAILAU["name"]},
        ).scalar_one()
    assert n == 2


def test_the_case_page_quotes_the_parks_snow_leopard_figure(client) -> None:  # type: ignore[no-untyped-def]
    quote = dd.ILE_ALATAU["snow_leopards"]
    assert quote == (
        "Experts estimate that around 40 snow leopards inhabit the territory of the "
        "Ile-Alatau National Park and its adjacent areas."
    )
    page = client.get("/cases/kok-jailau")
    assert page.status_code == 200
    flat = " ".join(page.text.split())
    assert quote in flat
    assert "via Qazinform, 23 December 2025" in flat
    assert "about 200 are said to remain" not in flat
    assert "schematic outline" not in flat


def test_loss_rows_carry_the_example_label(tx_engine: Engine, settings: Settings) -> None:
    """The run is made in the test's transaction and rolled back after it."""
    run_id = an.run_loss(tx_engine, settings, threat=dd.KOK_JAILAU["name"])
    with Session(tx_engine) as s:
        run = an.get_run(s, run_id)
    assert run.status == "succeeded", run.error
    rows = run.results["footprint"]
    assert {r["layer"] for r in rows} >= {"protected_area"}
    for r in rows:
        assert r["method"] == "example"
        assert f"threat: {dd.KOK_JAILAU['name']}" in r["example_inputs"]
    park = [r for r in rows if r["layer"] == "protected_area"]
    assert [r["feature_label"] for r in park] == [dd.ILE_ALATAU["name"]]

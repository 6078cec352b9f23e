"""``irbis import protected_areas`` reads the OSM protected-area file of the demo data (a
Nominatim lookup: osm_id R…/W…, designation, name_en/name_kk/name_ru) like an Overpass
extract, and updates the records in place by their OSM id."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

import shapely
from shapely.geometry import shape

from api.cli import app as cli
from api.demo import data as dd
from api.settings import Settings
from geo.crs import geodesic_area_m2
from tests.rollback import RolledBack


@pytest.fixture
def irbis(tx_cli: RolledBack) -> Callable[..., Result]:
    """Run the real ``irbis`` command in the test's transaction (rolled back at its end)."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def _lookup_file(settings: Settings, path: Path, ids: dict[str, str]) -> Path:
    """Features of the real OSM file, given test OSM ids (so the demo's rows stay as they are)."""
    data = json.loads((settings.data_dir / dd.OSM_PA_PATH).read_text(encoding="utf-8"))
    feats = [f for f in data["features"] if f["properties"]["id"] in ids]
    for f in feats:
        f["properties"]["osm_id"] = ids[f["properties"]["id"]]
        f["properties"]["name_en"] += " (test copy)"
    path.write_text(json.dumps({**data, "features": feats}), encoding="utf-8")
    return path


def test_import_reads_the_osm_lookup_file(
    irbis, tx_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    f = _lookup_file(
        settings, tmp_path / "pas.geojson", {"charyn": "W9901901", "almaty_reserve": "R9901902"}
    )
    r = irbis("import", "protected_areas", str(f))
    assert r.exit_code == 0, r.output
    assert "imported 2 of 2 osm" in r.output
    with tx_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT osm_id, name, original_name, designation, status, licence, source, method, "
                "ST_AsBinary(geom) AS wkb FROM protected_areas WHERE osm_id LIKE '%/99019%' "
                "ORDER BY osm_id"
            )
        ).all()
    assert [row.osm_id for row in rows] == ["relation/9901902", "way/9901901"]
    reserve, charyn = rows
    assert reserve.name == "Almaty Nature Reserve (test copy)"
    assert reserve.original_name == "Алматы қорығы"
    assert reserve.designation == "Nature Reserve (zapovednik)"
    assert (reserve.status, reserve.method) == ("Designated", "observed")
    assert "ODbL" in reserve.licence and "© OpenStreetMap contributors" in reserve.licence
    # the boundary is the file's, measured independently of the database
    raw = json.loads(f.read_text(encoding="utf-8"))["features"]
    src = {x["properties"]["osm_id"]: shape(x["geometry"]) for x in raw}
    stored = shapely.from_wkb(bytes(charyn.wkb))
    assert geodesic_area_m2(stored) == pytest.approx(geodesic_area_m2(src["W9901901"]), rel=1e-6)

    # the same file again updates in place: no duplicate
    assert irbis("import", "protected_areas", str(f)).exit_code == 0
    with tx_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM protected_areas WHERE osm_id LIKE '%/99019%'")
        ).scalar_one()
    assert n == 2


def test_a_lookup_file_without_ids_is_refused(irbis, settings: Settings, tmp_path: Path) -> None:
    data = json.loads((settings.data_dir / dd.OSM_PA_PATH).read_text(encoding="utf-8"))
    feats = data["features"][:1]
    feats[0]["properties"]["osm_id"] = None
    bad = tmp_path / "no_ids.geojson"
    bad.write_text(json.dumps({**data, "features": feats}), encoding="utf-8")
    r = irbis("import", "protected_areas", str(bad))
    assert r.exit_code == 2, r.output
    assert "have no id" in r.output
    assert "nothing was stored" in r.output

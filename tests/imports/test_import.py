"""``irbis import``: each authoritative format, and each kind of broken file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from api.cli import app as cli
from tests.imports import fixtures as fx
from tests.rollback import RolledBack

TABLES = ("protected_areas", "species_ranges", "occurrences")


@pytest.fixture
def irbis(tx_cli: RolledBack) -> Callable[..., Result]:
    """Run the real ``irbis`` command in the test's transaction (rolled back at its end)."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def test_wdpa_polygons_and_points(irbis, tx_engine, tmp_path: Path) -> None:
    before = counts(tx_engine)
    r = irbis("import", "protected_areas", str(fx.wdpa_polygons(tmp_path / "wdpa.gpkg")))
    assert r.exit_code == 0, r.output
    assert "imported 2 of 2 wdpa" in r.output
    r = irbis("import", "protected_areas", str(fx.wdpa_points(tmp_path / "wdpa_points.geojson")))
    assert r.exit_code == 0, r.output
    with tx_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT wdpa_id, name, status, reported_area_km2, iso3, GeometryType(geom), method, "
                "licence FROM protected_areas WHERE wdpa_pid LIKE '99000%' ORDER BY wdpa_id"
            )
        ).all()
    assert [(r[0], r[2], r[5]) for r in rows] == [
        (990001, "Designated", "MULTIPOLYGON"),
        (990002, "Proposed", "MULTIPOLYGON"),
        (990003, "Designated", "POINT"),
    ]
    assert rows[2].reported_area_km2 == 25.0 and rows[0].method == "observed"
    assert "WDPA" in rows[0].licence
    assert counts(tx_engine)["protected_areas"] == before["protected_areas"] + 3


def test_reimport_updates_in_place(irbis, tx_engine, tmp_path: Path) -> None:
    path = fx.wdpa_polygons(tmp_path / "wdpa.gpkg")
    assert irbis("import", "protected_areas", str(path)).exit_code == 0
    first = counts(tx_engine)
    assert irbis("import", "protected_areas", str(path)).exit_code == 0
    assert counts(tx_engine) == first


def test_iucn_ranges_from_zipped_shapefile(irbis, tx_engine, tmp_path: Path) -> None:
    r = irbis("import", "species_ranges", str(fx.iucn_ranges(tmp_path / "redlist.zip")))
    assert r.exit_code == 0, r.output
    with tx_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.scientific_name, r.presence, r.year FROM species_ranges r "
                "JOIN species s ON s.id = r.species_id ORDER BY r.presence"
            )
        ).all()
    assert [tuple(x) for x in rows] == [("Panthera uncia", 1, 2016), ("Panthera uncia", 3, 2016)]


def test_gbif_darwin_core(irbis, tx_engine, tmp_path: Path) -> None:
    r = irbis("import", "occurrences", str(fx.gbif_occurrences(tmp_path / "occurrence.txt")))
    assert r.exit_code == 0, r.output
    assert "imported 2 of 2 gbif" in r.output  # the row with no coordinates is left out
    with tx_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT gbif_id, ST_X(geom), ST_Y(geom), event_date::text, recorded_by "
                "FROM occurrences WHERE gbif_id > 4400000000 ORDER BY gbif_id"
            )
        ).all()
    assert rows[0][1:4] == (77.0713, 43.0512, "2021-02-14") and rows[0].recorded_by == "A. Observer"


def test_osm_extract(irbis, tx_engine, tmp_path: Path) -> None:
    r = irbis("import", "protected_areas", str(fx.osm_protected_areas(tmp_path / "osm.geojson")))
    assert r.exit_code == 0, r.output
    with tx_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT osm_id, name, original_name, iucn_category, licence FROM protected_areas "
                "WHERE osm_id LIKE '%/9901%' ORDER BY osm_id"
            )
        ).all()
    assert [r.osm_id for r in rows] == ["relation/990101", "way/990102"]  # the city park is not
    assert rows[0].name == "Test Zakaznik" and rows[0].original_name == "Тестовый заказник"
    assert rows[0].iucn_category == "IV"
    assert rows[0].licence == "ODbL-1.0, © OpenStreetMap contributors"


def _broken(irbis, engine, layer: str, path: Path, message: str) -> None:
    before = counts(engine)
    r = irbis("import", layer, str(path))
    assert r.exit_code == 2, r.output
    assert message in r.output, r.output
    assert "nothing was stored" in r.output
    assert counts(engine) == before


def test_truncated_file(irbis, tx_engine, tmp_path: Path) -> None:
    good = fx.wdpa_polygons(tmp_path / "wdpa.gpkg").read_bytes()
    bad = tmp_path / "truncated.gpkg"
    bad.write_bytes(good[: len(good) // 3])
    _broken(irbis, tx_engine, "protected_areas", bad, "cannot be")


def test_truncated_geojson(irbis, tx_engine, tmp_path: Path) -> None:
    text_ = fx.wdpa_points(tmp_path / "p.geojson").read_text()
    bad = tmp_path / "truncated.geojson"
    bad.write_text(text_[: len(text_) // 2])
    _broken(irbis, tx_engine, "protected_areas", bad, "cannot be")


def test_wrong_columns(irbis, tx_engine, tmp_path: Path) -> None:
    # An IUCN range file offered as protected areas, and a GBIF file lacking coordinates.
    _broken(
        irbis,
        tx_engine,
        "protected_areas",
        fx.iucn_ranges(tmp_path / "r.zip"),
        "does not go into protected_areas",
    )
    bad = tmp_path / "occurrence.txt"
    bad.write_text("gbifID\tspecies\tlocality\n1\tPanthera uncia\tsomewhere\n")
    _broken(irbis, tx_engine, "occurrences", bad, "decimalLatitude")


def test_no_crs(irbis, tx_engine, tmp_path: Path) -> None:
    _broken(
        irbis,
        tx_engine,
        "protected_areas",
        fx.no_crs_shapefile(tmp_path / "nocrs.zip"),
        "no coordinate reference system",
    )


def test_no_crs_with_named_srs_imports(irbis, tx_engine, tmp_path: Path) -> None:
    r = irbis(
        "import",
        "protected_areas",
        str(fx.no_crs_shapefile(tmp_path / "nocrs.zip")),
        "--srs",
        "4326",
    )
    assert r.exit_code == 0, r.output


def test_empty_file(irbis, tx_engine, tmp_path: Path) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_text("")
    _broken(irbis, tx_engine, "protected_areas", empty, "empty")
    no_features = tmp_path / "none.geojson"
    no_features.write_text('{"type": "FeatureCollection", "features": []}')
    _broken(irbis, tx_engine, "protected_areas", no_features, "no features")


def test_unknown_species_stores_nothing(irbis, tx_engine, tmp_path: Path) -> None:
    path = fx.gbif_occurrences(tmp_path / "occurrence.txt")
    path.write_text(path.read_text().replace("Gazella subgutturosa", "Saiga tatarica"))
    _broken(irbis, tx_engine, "occurrences", path, "Saiga tatarica")


def test_swapped_coordinates_are_refused(irbis, tx_engine, tmp_path: Path) -> None:
    path = fx.wdpa_points(tmp_path / "p.geojson")
    path.write_text(
        path.read_text()
        .replace("[ 64.5, 39.6 ]", "[ 39.6, 64.5 ]")
        .replace("[64.5, 39.6]", "[39.6, 64.5]")
    )
    _broken(irbis, tx_engine, "protected_areas", path, "swapped")

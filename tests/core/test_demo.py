"""The demo: idempotent, labelled, plausible, and its numbers right."""

from __future__ import annotations

from sqlalchemy import text

import rasterio

from api.demo import table_counts
from geo.testing import assert_relative_close


def test_loading_the_demo_again_changes_nothing(engine, settings, demo, monkeypatch) -> None:
    """``irbis load demo`` twice: the second load adds, changes and audits nothing, and
    models no analysis again."""
    from typer.testing import CliRunner

    from api.cli import app as cli

    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IRBIS_VAR_DIR", str(settings.var_dir))
    # tests before this one may have replaced or deleted example records (a site, and with
    # it its example monitoring series): a first load puts them back, the second changes nothing
    first = CliRunner().invoke(cli, ["load", "demo", "-q"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    before = table_counts(engine)
    with engine.connect() as conn:
        audit_before = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    again = CliRunner().invoke(cli, ["load", "demo", "-q"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "new analysis runs: 0" in again.output
    assert table_counts(engine) == before
    for table, n in before.items():  # what the command says is what the tables hold
        assert f"{table:>24}: {n}" in again.output, table
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == audit_before


def test_demo_holds_what_the_portfolio_promises(engine, demo) -> None:
    assert demo["countries"] == 16 and demo["places"] == 341 and demo["rasters"] == 3
    demo_grants = "g.code LIKE 'SOS-CA-EX-%'"  # other tests add grants of their own
    with engine.connect() as conn:
        n, lo, hi, species = conn.execute(
            text(
                "SELECT count(DISTINCT g.id), min(amount), max(amount), count(DISTINCT gs.species_id) "
                f"FROM grants g JOIN grant_species gs ON gs.grant_id = g.id WHERE {demo_grants}"
            )
        ).one()
        assert 3 <= n <= 20
        assert lo >= 25_000 and hi <= 200_000 and species == 2
        countries = conn.execute(
            text(
                f"SELECT array_agg(DISTINCT c) FROM grants g, unnest(countries) c WHERE {demo_grants}"
            )
        ).scalar_one()
        assert set(countries) == {"KAZ", "KGZ", "TJK", "UZB"}
        methods = (
            conn.execute(
                text(
                    f"SELECT DISTINCT method FROM grants g WHERE {demo_grants} "
                    "UNION SELECT DISTINCT method FROM field_sites WHERE uploaded_by = 'irbis load demo' "
                    "UNION SELECT DISTINCT method FROM threats "
                    "WHERE name = 'Kok-Jailau ski resort (planned)'"
                )
            )
            .scalars()
            .all()
        )
        assert methods == ["example"]


def test_field_sites_lie_where_each_species_lives(engine, settings, demo) -> None:
    """Snow-leopard sites in the mountains, gazelle sites in the arid lowlands (DEM check)."""
    q = text(
        "SELECT s.scientific_name, ST_X(ST_Centroid(f.geom)), ST_Y(ST_Centroid(f.geom)) "
        "FROM field_sites f JOIN grant_species gs ON gs.grant_id = f.grant_id "
        "JOIN species s ON s.id = gs.species_id WHERE f.uploaded_by = 'irbis load demo'"
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    coarse = settings.data_dir / "elevation/mapzen_pvlib_central_asia_5arcmin.tif"
    with rasterio.open(coarse) as dem:
        heights = [v[0] for v in dem.sample([(x, y) for _, x, y in rows])]
    for (name, x, y), h in zip(rows, heights, strict=True):
        if name == "Panthera uncia":
            assert h >= 1700, (x, y, h)
        else:
            assert h <= 1000, (x, y, h)


def test_kok_jailau_facts_and_area(engine, demo) -> None:
    with engine.connect() as conn:
        area_ha, props, inside, steps = conn.execute(
            text(
                "SELECT ST_Area(t.geom::geography) / 1e4, t.properties, "
                "ST_Within(t.geom, p.geom), "
                "(SELECT count(*) FROM threat_status_changes c WHERE c.threat_id = t.id) "
                "FROM threats t, protected_areas p "
                "WHERE t.name LIKE 'Kok-Jailau%' AND p.name LIKE 'Ile-Alatau%'"
            )
        ).one()
    assert_relative_close(area_ha, 1002.0, 0.005, "Kok-Jailau footprint (geography)")
    assert props["excised_from_park_ha"] == 1002 and props["spruce_forest_to_cut_ha"] == 27
    assert inside is True
    assert steps == 4

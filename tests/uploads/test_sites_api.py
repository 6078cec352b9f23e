"""The sites API end to end: dry run, commit, idempotence, replace with history, delete.

Each test runs in its own rolled-back transaction (``grantee`` is on ``tx_app``)."""

from __future__ import annotations

from sqlalchemy import text

from shapely.geometry import shape

from .conftest import GRANT, OTHER_GRANT, site_gdf, upload, write


def same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Equal up to coordinate rounding (7 decimals in GeoJSON/KML)."""
    return a.symmetric_difference(b).area <= 1e-5 * b.area


def _q(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_dry_run_stores_nothing_and_commit_stores_in_one_go(grantee, db_tx, tmp_path) -> None:
    gdf = site_gdf(3)
    path = write(gdf, "shpzip", tmp_path)
    names = list(gdf["name"])
    r = upload(grantee, path, dry_run=True)
    assert r.status_code == 200 and [f["action"] for f in r.json()["features"]] == ["insert"] * 3
    assert _q(db_tx.engine, "SELECT 1 FROM field_sites WHERE name = ANY(:n)", n=names) == []
    r = upload(grantee, path, dry_run=False)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["committed"] and all(f["site_id"] for f in body["features"])
    rows = _q(
        db_tx.engine,
        "SELECT s.name, s.uploaded_by, s.method, s.geom_hash, ST_SRID(s.geom), "
        "ST_Area(s.geom::geography) / 10000 FROM field_sites s JOIN grants g ON g.id = s.grant_id "
        "WHERE g.code = :c AND s.name = ANY(:n) ORDER BY s.name",
        c=GRANT,
        n=names,
    )
    assert [r[0] for r in rows] == sorted(names)
    assert {r[1] for r in rows} == {grantee.username} and {r[2] for r in rows} == {"observed"}
    assert all(r[4] == 4326 for r in rows)
    # the areas reported (EPSG:6933) agree with PostGIS geography
    reported = {f["name"]: f["area_ha"] for f in body["features"]}
    for name, *_, area in rows:
        assert abs(reported[name] - area) / area < 0.005
    # every write is audited with the uploader as actor
    audit = _q(
        db_tx.engine,
        "SELECT count(*) FROM audit_log WHERE table_name = 'field_sites' AND action = 'insert' "
        "AND actor = :u AND after->>'name' = ANY(:n)",
        u=grantee.username,
        n=names,
    )
    assert audit[0][0] == 3


def test_uploading_the_same_file_twice_changes_nothing(grantee, db_tx, tmp_path) -> None:
    path = write(site_gdf(2), "geojson", tmp_path)
    assert upload(grantee, path, dry_run=False).status_code == 201
    version = _q(
        db_tx.engine, "SELECT version FROM layer_versions WHERE table_name = 'field_sites'"
    )
    audits = _q(db_tx.engine, "SELECT count(*) FROM audit_log WHERE table_name = 'field_sites'")
    r = upload(grantee, path, dry_run=False)
    assert r.status_code == 200
    assert [f["action"] for f in r.json()["features"]] == ["unchanged", "unchanged"]
    assert (
        _q(db_tx.engine, "SELECT version FROM layer_versions WHERE table_name = 'field_sites'")
        == version
    )
    assert (
        _q(db_tx.engine, "SELECT count(*) FROM audit_log WHERE table_name = 'field_sites'")
        == audits
    )
    # the same geometry under another name (another format) is recognised too
    gpkg = write(site_gdf(1), "gpkg", tmp_path)
    upload(grantee, gpkg, dry_run=False)
    renamed = tmp_path / "renamed"
    g = __import__("geopandas").read_file(gpkg)
    g["name"] = "another name"
    r = upload(grantee, write(g, "fgb", renamed))
    assert r.json()["features"][0]["action"] == "unchanged"
    assert "stored already" in r.json()["features"][0]["note"]


def test_errors_refuse_the_whole_commit(grantee, db_tx, tmp_path) -> None:
    good = site_gdf(1)
    bad = site_gdf(1, lon=10.0, lat=50.0)
    import pandas as pd

    both = pd.concat([good, bad], ignore_index=True)
    r = upload(grantee, write(both, "geojson", tmp_path), dry_run=False)
    assert r.status_code == 400
    details = r.json()["details"]
    # the good site may carry a warning (it lands at a random place, perhaps near another
    # site or a park); what matters is that the bad one's error refuses both
    assert [f["status"] != "error" for f in details["features"]] == [True, False]
    assert _q(db_tx.engine, "SELECT 1 FROM field_sites WHERE name = :n", n=good["name"][0]) == []


def test_overlap_with_another_grants_site_is_reported(tx_login_as, grantee, tmp_path) -> None:
    other = tx_login_as("grantee", grants=[OTHER_GRANT])
    theirs = site_gdf(1, size_deg=0.03)
    assert (
        upload(
            other, write(theirs, "geojson", tmp_path / "a"), code=OTHER_GRANT, dry_run=False
        ).status_code
        == 201
    )
    c = theirs.geometry.iloc[0].centroid
    mine = site_gdf(1, lon=c.x + 0.01, lat=c.y, size_deg=0.03)
    r = upload(grantee, write(mine, "geojson", tmp_path / "b"))
    issues = r.json()["features"][0]["issues"]
    assert [i["code"] for i in issues] == ["overlaps_other_grant"]
    assert OTHER_GRANT in issues[0]["message"] and theirs["name"][0] in issues[0]["message"]


def test_replace_keeps_the_old_version_and_delete_keeps_history(grantee, db_tx, tmp_path) -> None:
    gdf = site_gdf(1)
    r = upload(grantee, write(gdf, "geojson", tmp_path / "v1"), dry_run=False)
    sid = r.json()["features"][0]["site_id"]
    old = gdf.geometry.iloc[0]
    # a second upload with the same name and a new shape replaces the site
    moved = site_gdf(1, names=list(gdf["name"]))
    r = upload(grantee, write(moved, "geojson", tmp_path / "v2"), dry_run=False)
    assert r.json()["features"][0]["action"] == "replace"
    assert r.json()["features"][0]["site_id"] == sid
    # PUT replaces with the one feature of a file, and can rename
    third = site_gdf(1)
    r = grantee.put(
        f"/api/grants/{GRANT}/sites/{sid}",
        params={"name": "renamed site"},
        files={"file": ("s.kml", write(third, "kml", tmp_path / "v3").read_bytes())},
        headers={"X-CSRF-Token": grantee.csrf},
    )
    assert r.status_code == 200 and r.json()["changed"], r.text
    current = grantee.get(f"/api/grants/{GRANT}/sites/{sid}").json()
    assert current["properties"]["name"] == "renamed site"
    assert same(shape(current["geometry"]), third.geometry.iloc[0])
    versions = grantee.get(f"/api/grants/{GRANT}/sites/{sid}/versions").json()
    assert [v["action"] for v in versions] == ["update", "update", "insert"]
    assert {v["actor"] for v in versions} == {grantee.username}
    first = shape(versions[-1]["geometry"])
    assert same(first, old)
    assert same(shape(versions[0]["previous_geometry"]), moved.geometry.iloc[0])
    # delete: gone from the list, still in its history
    r = grantee.delete(f"/api/grants/{GRANT}/sites/{sid}", headers={"X-CSRF-Token": grantee.csrf})
    assert r.status_code == 204
    assert grantee.get(f"/api/grants/{GRANT}/sites/{sid}").status_code == 404
    versions = grantee.get(f"/api/grants/{GRANT}/sites/{sid}/versions").json()
    assert versions[0]["action"] == "delete"
    assert same(shape(versions[0]["geometry"]), shape(current["geometry"]))


def test_put_needs_exactly_one_feature(grantee, tmp_path) -> None:
    r = upload(grantee, write(site_gdf(1), "geojson", tmp_path / "a"), dry_run=False)
    sid = r.json()["features"][0]["site_id"]
    r = grantee.put(
        f"/api/grants/{GRANT}/sites/{sid}",
        files={"file": ("two.geojson", write(site_gdf(2), "geojson", tmp_path / "b").read_bytes())},
        headers={"X-CSRF-Token": grantee.csrf},
    )
    assert r.status_code == 400 and "exactly one feature" in r.json()["description"]


def test_public_list_hides_uploader_names(grantee, tx_client, tmp_path) -> None:
    upload(grantee, write(site_gdf(1), "geojson", tmp_path), dry_run=False)
    public = tx_client.get(f"/api/grants/{GRANT}/sites").json()
    assert public["features"] and all(
        "uploaded_by" not in f["properties"] for f in public["features"]
    )
    own = grantee.get(f"/api/grants/{GRANT}/sites").json()
    assert any(f["properties"]["uploaded_by"] == grantee.username for f in own["features"])
    assert tx_client.get("/api/grants/NOPE/sites").status_code == 404


def test_put_refuses_a_drastic_repair_unless_confirmed(grantee, db_tx, tmp_path) -> None:
    from .corpus import Context, _hole_larger_than_shell

    r = upload(grantee, write(site_gdf(1), "geojson", tmp_path / "a"), dry_run=False)
    sid = r.json()["features"][0]["site_id"]
    content = _hole_larger_than_shell(Context(countries=None))
    before = _q(db_tx.engine, "SELECT geom_hash, source FROM field_sites WHERE id = :i", i=sid)

    def put(**params: str):  # type: ignore[no-untyped-def]
        return grantee.put(
            f"/api/grants/{GRANT}/sites/{sid}",
            params=params,
            files={"file": ("hole.geojson", content)},
            headers={"X-CSRF-Token": grantee.csrf},
        )

    r = put()
    assert r.status_code == 400, r.text
    assert "changes its area from 0.0 ha to" in str(r.json()["details"])
    assert (
        _q(db_tx.engine, "SELECT geom_hash, source FROM field_sites WHERE id = :i", i=sid) == before
    )
    r = put(confirm_repairs="true")
    assert r.status_code == 200 and r.json()["changed"], r.text
    assert "repaired as confirmed" in str(r.json())
    source = _q(db_tx.engine, "SELECT source FROM field_sites WHERE id = :i", i=sid)[0][0]
    assert source == f"uploaded by a grantee of {GRANT}: hole.geojson"


def test_a_refusal_by_the_database_is_a_clear_error_without_its_text(db_tx) -> None:
    import pytest

    from geoalchemy2.shape import from_shape
    from shapely.geometry import LineString

    from api.db.engine import transaction
    from api.db.models import FieldSite
    from api.services.sites import _flush, get_grant
    from geo.errors import InvalidInput

    before = _q(db_tx.engine, "SELECT count(*) FROM field_sites")
    with pytest.raises(InvalidInput) as err, transaction(db_tx.engine, actor="tests") as session:
        grant = get_grant(session, GRANT)
        session.add(
            FieldSite(
                grant_id=grant.id,
                name="a line is no multipolygon",
                uploaded_by="tests",
                source="tests",
                licence="tests",
                method="observed",
                geom=from_shape(LineString([(70, 48), (70.1, 48.1)]), srid=4326),
            )
        )
        _flush(session)
    message = err.value.message
    assert "nothing was stored" in message
    assert not any(w in message.lower() for w in ("psycopg", "geometry type", "sql", "column"))
    assert _q(db_tx.engine, "SELECT count(*) FROM field_sites") == before


def test_refusals_and_notes_in_the_language_asked_for(grantee, tmp_path) -> None:
    """A reader who asked for Russian or Kazakh gets the reason of a refusal and the notes on
    how the file was read in that language too, beside the English that programs read."""
    empty = tmp_path / "пусто.geojson"
    empty.write_bytes(b"")
    r = upload(grantee, empty)  # no language asked for: English only
    assert r.status_code == 400, r.text
    assert r.json() == {
        "code": "unreadable_file",
        "description": "пусто.geojson: the file is empty",
    }
    r = upload(grantee, empty, lang="ru")
    assert r.status_code == 400
    assert r.json()["description"] == "пусто.geojson: the file is empty"
    assert r.json()["message"] == "пусто.geojson: файл пуст"
    assert upload(grantee, empty, lang="kk").json()["message"] == "пусто.geojson: файл бос"

    shp = write(site_gdf(1), "shpzip", tmp_path / "shp")
    body = upload(grantee, shp, lang="ru").json()
    assert "read as ESRI Shapefile" in body["notes"]
    assert "прочитан как ESRI Shapefile" in body["local_notes"]
    assert len(body["local_notes"]) == len(body["notes"])
    # a message within a message (how the encoding was found) is translated with it
    assert any(n.startswith("кодировка атрибутов utf-8 (из ") for n in body["local_notes"]), body
    r = upload(grantee, shp, lang="en")
    assert r.status_code == 200 and "local_notes" not in r.json()

    # a finding in the check's own words, with its figures
    gdf = site_gdf(2)
    gdf.loc[1, "geometry"] = gdf.geometry.iloc[1].centroid
    body = upload(grantee, write(gdf, "geojson", tmp_path / "pt"), lang="kk").json()
    (issue,) = body["features"][1]["issues"]
    assert issue["message"] == "a point is not an area: field sites must be polygons"
    assert issue["local_message"] == "нүкте — аумақ емес: далалық учаскелер полигон болуы керек"

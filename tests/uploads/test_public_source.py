"""What the public sees of an uploaded site: no username anywhere, and CSV cells that are not
formulas. The served bytes are read back as an outsider would (json, Python's csv module)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

from sqlalchemy import text

from .conftest import GRANT, site_gdf, upload, write

MIGRATION = Path(__file__).resolve().parents[2] / "api/db/migrations/versions/0006_hardening.py"


def _public_items(client, **params: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.get(
        "/collections/field_sites/items", params={"f": "json", "limit": "1000", **params}
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_public_source_names_no_uploader(grantee, tx_login_as, tmp_path) -> None:
    gdf = site_gdf(2)
    path = write(gdf, "geojson", tmp_path, stem="my_sites")
    r = upload(grantee, path, dry_run=False)
    assert r.status_code == 201, r.text
    anonymous = tx_login_as("anonymous")
    user = grantee.username
    # the sites are public, with a source naming the grant and the file
    mine = [
        f
        for f in _public_items(anonymous, filter=f"grant_code = '{GRANT}'")["features"]
        if f["properties"]["name"] in set(gdf["name"])
    ]
    assert len(mine) == 2
    assert {f["properties"]["source"] for f in mine} == {
        f"uploaded by a grantee of {GRANT}: my_sites.geojson"
    }
    # nothing public carries the username: not the items, not a filter on source, not a download
    everything = anonymous.get(
        "/collections/field_sites/items", params={"f": "json", "limit": "10000"}
    )
    assert user not in everything.text
    hits = _public_items(anonymous, filter=f"source LIKE '%{user}%'")
    assert hits["features"] == []
    for fmt in ("csv", "geojson"):
        d = anonymous.get("/collections/field_sites/download", params={"format": fmt})
        assert d.status_code == 200 and user not in d.content.decode("utf-8")
    one = anonymous.get(f"/api/grants/{GRANT}/sites")
    assert one.status_code == 200 and user not in one.text
    # the grantee and the audit log still know who uploaded
    own = grantee.get(f"/api/grants/{GRANT}/sites").json()["features"]
    assert {
        f["properties"]["uploaded_by"] for f in own if f["properties"]["name"] in set(gdf["name"])
    } == {user}


def test_csv_download_cells_are_not_formulas(grantee, tx_login_as, tmp_path) -> None:
    hostile = [
        '=HYPERLINK("http://x")',
        "+1+1",
        "@SUM(A1)",
        "\tTAB=1",
        "-1+2",
        "=cmd|' /C calc'!A0",
    ]
    tag = site_gdf(1)["name"].iloc[0]
    gdf = site_gdf(len(hostile), names=[f"{h} {tag}" for h in hostile])
    gdf["description"] = ["-12.5", "-3", "+7", "=2*3", "@x", "ok"]
    r = upload(grantee, write(gdf, "geojson", tmp_path), dry_run=False)
    assert r.status_code == 201, r.text
    anonymous = tx_login_as("anonymous")
    d = anonymous.get(
        "/collections/field_sites/download",
        params={"format": "csv", "filter": f"name LIKE '%{tag}'"},
    )
    assert d.status_code == 200, d.text
    rows = list(csv.DictReader(io.StringIO(d.content.decode("utf-8"))))
    assert len(rows) == len(hostile)
    by_name = {row["name"]: row for row in rows}
    stored = [f["name"] for f in r.json()["features"]]  # names as cleaned on the way in
    for name, desc in zip(stored, gdf["description"], strict=True):
        row = by_name["'" + name if name.startswith(("=", "+", "-", "@")) else name]
        # every text cell starting with = + - @ TAB CR is neutralised ...
        for cell in row.values():
            assert not cell.startswith(("=", "@", "\t", "\r")), row
            assert not cell.startswith(("+", "-")) or _is_number(cell), row
        # ... numbers are kept as numbers
        formula = desc.startswith(("=", "+", "-", "@")) and not _is_number(desc)
        expected = "'" + desc if formula else desc
        assert row["description"] == expected
        assert row["id"].isdigit()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_migration_rewrites_old_public_sources(engine) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    spec = importlib.util.spec_from_file_location("hardening_0006", MIGRATION)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            gid = conn.execute(
                text("SELECT id FROM grants WHERE code = :c"), {"c": GRANT}
            ).scalar_one()
            sid = conn.execute(
                text(
                    "INSERT INTO field_sites (grant_id, name, uploaded_by, source, licence, method,"
                    " geom) VALUES (:g, 'old row', 'olga_k', 'uploaded by olga_k: old.zip', 'x',"
                    " 'observed', ST_Multi(ST_MakeEnvelope(70, 48, 70.01, 48.01, 4326)))"
                    " RETURNING id"
                ),
                {"g": gid},
            ).scalar_one()
            with Operations.context(MigrationContext.configure(conn)):
                mod._sources_upgrade()
                after = conn.execute(
                    text("SELECT source, uploaded_by FROM field_sites WHERE id = :i"), {"i": sid}
                ).one()
                assert tuple(after) == (f"uploaded by a grantee of {GRANT}: old.zip", "olga_k")
                mod._sources_downgrade()
                back = conn.execute(
                    text("SELECT source FROM field_sites WHERE id = :i"), {"i": sid}
                ).scalar_one()
                assert back == "uploaded by olga_k: old.zip"
        finally:
            trans.rollback()


def test_json_of_public_items_has_no_private_keys(tx_login_as) -> None:
    body = json.loads(tx_login_as("anonymous").get("/collections/field_sites/items?f=json").text)
    assert body["features"]
    assert all("uploaded_by" not in f["properties"] for f in body["features"])


def test_csv_safe_keeps_numbers_and_neutralises_formulas() -> None:
    import pandas as pd

    from layers.export import csv_safe

    df = pd.DataFrame(
        {
            "value": [-1.5, 2.0, -3.0],
            "count": pd.array([-1, 0, None], dtype="Int64"),
            "label": ["=SUM(A1:A2)", "-2", "\r@x"],
            "=head": ["a", "b", "c"],
        }
    )
    rows = list(
        csv.reader(io.StringIO(csv_safe(df).to_csv(index=False, lineterminator="\r\n"), newline=""))
    )
    assert rows[0] == ["value", "count", "label", "'=head"]
    assert [r[0] for r in rows[1:]] == ["-1.5", "2.0", "-3.0"]
    assert [r[1] for r in rows[1:]] == ["-1", "0", ""]
    assert [r[2] for r in rows[1:]] == ["'=SUM(A1:A2)", "-2", "'\r@x"]

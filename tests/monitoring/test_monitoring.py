"""Field monitoring: catalogue, submission (API, form, CSV), review, privacy, series, CLI."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import mapbox_vector_tile
import pandas as pd
import pytest
from PIL import Image
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from geo.evidence import GPS_IFD
from tests.monitoring.conftest import (
    GRANT,
    OTHER_GRANT,
    PRECISE,
    PRECISE_TEXT,
    SITE,
    count_records,
    hdr,
)
from tests.rollback import RolledBack
from tests.threats.conftest import photo_with_gps

SEEDED = {
    "camera_trap_nights",
    "snow_leopard_detections",
    "ibex_count",
    "argali_count",
    "goitered_gazelle_count",
    "patrol_km",
    "poaching_incidents",
    "restoration_ha",
    "community_agreements",
}


def _submit(c, code: str = GRANT, **fields: object):  # type: ignore[no-untyped-def]
    data = {
        "site": SITE,
        "indicator": "snow_leopard_detections",
        "period_start": "2023-05-01",
        "period_end": "2023-05-31",
        "value": "3",
        "method_note": "12 stations, 30-minute independence",
        "points": f"{PRECISE[0]} {PRECISE[1]}",
    }
    data.update({k: str(v) for k, v in fields.items()})
    files = fields.pop("files", None)
    return c.post(f"/api/grants/{code}/monitoring", data=data, files=files, headers=hdr(c))


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


def test_the_catalogue_is_seeded_with_units_sensitivity_and_species(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/monitoring/indicators").json()["indicators"]
    by = {i["code"]: i for i in body}
    assert set(by) >= SEEDED
    assert by["snow_leopard_detections"]["sensitive"] is True
    assert by["snow_leopard_detections"]["species"] == "Panthera uncia"
    assert by["goitered_gazelle_count"]["species"] == "Gazella subgutturosa"
    assert by["patrol_km"]["sensitive"] is False and by["patrol_km"]["unit"] == "km"
    # every seeded indicator is named in the three languages (migrations 0008 and 0020)
    assert all(by[c]["name_ru"] and by[c]["name_kk"] for c in SEEDED)
    assert by["patrol_km"]["name_kk"] == "Патрульдік жүріс қашықтығы"


def test_only_admins_manage_the_catalogue(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    body = {"code": "wolf_count", "name_en": "Wolf count", "unit": "individuals"}
    anon = tx_login_as("anonymous")
    assert anon.post("/api/monitoring/indicators", json=body).status_code == 401
    analyst = tx_login_as("analyst")
    r = analyst.post("/api/monitoring/indicators", json=body, headers=hdr(analyst))
    assert r.status_code == 403
    admin = tx_login_as("admin")
    try:
        r = admin.post("/api/monitoring/indicators", json=body, headers=hdr(admin))
        assert r.status_code == 201, r.text
        assert r.json()["sensitive"] is False
        again = admin.post("/api/monitoring/indicators", json=body, headers=hdr(admin))
        assert again.status_code == 409
        bad = admin.post(
            "/api/monitoring/indicators", json={**body, "code": "Wolf Count"}, headers=hdr(admin)
        )
        assert bad.status_code == 400 and "code" in bad.json()["description"]
        # an indicator of a sensitive species is sensitive, whatever the admin says
        r = admin.patch(
            "/api/monitoring/indicators/wolf_count",
            json={"species": "Panthera uncia", "sensitive": False, "unit": "wolves"},
            headers=hdr(admin),
        )
        assert r.status_code == 200, r.text
        assert r.json()["sensitive"] is True and r.json()["unit"] == "wolves"
        r = admin.patch(
            "/api/monitoring/indicators/wolf_count",
            json={"name_ru": "Численность волка", "name_kk": "  Қасқыр саны  "},
            headers=hdr(admin),
        )
        assert r.status_code == 200, r.text
        assert (r.json()["name_ru"], r.json()["name_kk"]) == ("Численность волка", "Қасқыр саны")
        long = admin.patch(
            "/api/monitoring/indicators/wolf_count", json={"name_kk": "x" * 201}, headers=hdr(admin)
        )
        assert long.status_code in (400, 422), long.text
        r = admin.patch(
            "/api/monitoring/indicators/wolf_count",
            json={"species": "Canis lupus"},
            headers=hdr(admin),
        )
        assert r.status_code == 400 and "species" in r.json()["description"]
    finally:
        with db_tx.engine.begin() as conn:
            conn.execute(text("DELETE FROM monitoring_indicators WHERE code = 'wolf_count'"))


def test_cli_manages_the_catalogue_and_imports_csv(
    tx_cli: RolledBack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The commands write in the test's transaction (``tx_cli``): nothing is left after it."""
    from api.cli import app

    monkeypatch.setenv("IRBIS_VAR_DIR", str(tmp_path / "var"))
    engine = tx_cli.engine
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "monitoring",
            "add-indicator",
            "lynx_count",
            "--name",
            "Lynx count",
            "--unit",
            "individuals",
            "--sensitive",
            "--name-kk",
            "Сілеусін саны",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["monitoring", "indicators", "--json"])
    assert r.exit_code == 0
    by = {i["code"]: i for i in json.loads(r.output)}
    assert by["lynx_count"]["sensitive"] is True and by["lynx_count"]["name_kk"] == "Сілеусін саны"
    r = runner.invoke(app, ["monitoring", "edit-indicator", "lynx_count", "--not-sensitive"])
    assert r.exit_code == 0 and "sensitive: False" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("site,indicator,period_start,value\nNowhere,lynx_count,2023-01-01,4\n")
    r = runner.invoke(app, ["monitoring", "import", GRANT, str(bad)])
    assert r.exit_code == 1 and "row 2" in r.output and "Nowhere" in r.output
    assert count_records(engine) == 0
    good = tmp_path / "good.csv"
    good.write_text(f"site,indicator,period_start,value\n{SITE},lynx_count,2023-01-01,4\n")
    r = runner.invoke(app, ["monitoring", "import", GRANT, str(good)])
    assert r.exit_code == 0, r.output
    assert count_records(engine) == 1
    rid = _one(engine, "SELECT id FROM monitoring_records WHERE method <> 'example'")
    r = runner.invoke(app, ["monitoring", "review", str(rid), "returned"])
    assert r.exit_code == 1 and "reason" in r.output
    r = runner.invoke(app, ["monitoring", "review", str(rid), "accepted"])
    assert r.exit_code == 0 and "accepted" in r.output


def _one(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


# ---------------------------------------------------------------------------------------------
# Submission and who may submit
# ---------------------------------------------------------------------------------------------


def test_grantees_submit_for_their_own_grants_only(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    anon = tx_login_as("anonymous")
    assert anon.post(f"/api/grants/{GRANT}/monitoring", data={"site": SITE}).status_code == 401
    other = tx_login_as("grantee", grants=[OTHER_GRANT])
    r = _submit(other)
    assert r.status_code == 403 and GRANT in r.json()["description"]
    analyst = tx_login_as("analyst")
    assert _submit(analyst).status_code == 403
    assert count_records(db_tx.engine) == 0
    own = tx_login_as("grantee", grants=[GRANT])
    r = _submit(own)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "submitted" and r.json()["site"] == SITE
    dup = _submit(own)
    assert dup.status_code == 409 and "already" in dup.json()["description"]
    assert count_records(db_tx.engine) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"indicator": "yeti_count"}, "unknown indicator"),
        ({"site": "Nowhere"}, "no field site"),
        ({"value": "-2"}, "cannot be negative"),
        ({"value": "many"}, "not a number"),
        ({"value": "nan"}, "finite"),
        ({"period_start": "2023-13-01"}, "not a date"),
        ({"period_end": "2023-04-01"}, "before it starts"),
        ({"period_start": "2999-01-01", "period_end": ""}, "future"),
        ({"points": "76.9"}, "not a point"),
        ({"points": "200 43"}, "longitude and latitude"),
    ],
)
def test_bad_records_are_refused_with_what_to_fix(tx_login_as, db_tx, fields, message) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    r = _submit(own, **fields)
    assert r.status_code == 400, r.text
    assert message in r.json()["description"]
    assert count_records(db_tx.engine) == 0


def test_refusals_asked_for_in_russian_say_it_in_russian_too(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    # the description stays English for API clients; the message is in the language asked for
    other = tx_login_as("grantee", grants=[OTHER_GRANT])
    r = other.post(
        f"/api/grants/{GRANT}/monitoring",
        params={"lang": "ru"},
        data={"site": SITE, "indicator": "patrol_km", "period_start": "2023-05-01", "value": "1"},
        headers=hdr(other),
    )
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["description"].endswith(
        f"may not submit monitoring for grant {GRANT}: only its grantees and administrators may"
    )
    assert body["message"].endswith(
        f"не может отправлять данные мониторинга по гранту {GRANT}: это могут только его "
        "грантополучатели и администраторы"
    )
    # a record's problems, said together, each in Russian
    own = tx_login_as("grantee", grants=[GRANT])
    r = own.post(
        f"/api/grants/{GRANT}/monitoring",
        data={"site": SITE, "indicator": "patrol_km", "period_start": "2023-05-01", "value": "-2"},
        headers={**hdr(own), "Accept-Language": "ru"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["description"] == "patrol_km cannot be negative (-2)"
    assert r.json()["message"] == "patrol_km не может быть отрицательным (-2)"
    assert count_records(db_tx.engine) == 0


def test_evidence_is_stripped_like_threat_evidence(tx_login_as, tx_settings, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    photo = photo_with_gps()
    assert b"Photographer Name" in photo
    r = own.post(
        f"/api/grants/{GRANT}/monitoring",
        data={
            "site": SITE,
            "indicator": "camera_trap_nights",
            "period_start": "2023-06-01",
            "value": "310",
        },
        files=[("evidence", ("trap.jpg", photo, "image/jpeg"))],
        headers=hdr(own),
    )
    assert r.status_code == 201, r.text
    url = r.json()["evidence"][0]
    served = own.get(url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert b"Photographer Name" not in served.content
    with Image.open(io.BytesIO(served.content)) as im:
        assert GPS_IFD not in im.getexif() and not im.getexif().get_ifd(GPS_IFD)
    # the file on disk is the stripped one too
    stored = list((Path(tx_settings.var_dir) / "evidence").rglob("*.jpg"))
    assert stored and all(b"Photographer Name" not in p.read_bytes() for p in stored)
    # not public before it is accepted
    assert tx_login_as("anonymous").get(url).status_code == 404
    # a file that is not a photo or PDF is refused, and nothing is stored
    r = own.post(
        f"/api/grants/{GRANT}/monitoring",
        data={
            "site": SITE,
            "indicator": "camera_trap_nights",
            "period_start": "2023-07-01",
            "value": "310",
        },
        files=[("evidence", ("trap.jpg", b"MZ\x90\x00 not a photo", "image/jpeg"))],
        headers=hdr(own),
    )
    assert r.status_code in (400, 415, 422), r.text
    assert count_records(db_tx.engine) == 1


# ---------------------------------------------------------------------------------------------
# CSV bulk upload
# ---------------------------------------------------------------------------------------------

HEADER = "site,indicator,period_start,period_end,value,method_note,points\n"


def _csv(c, body: bytes, **params: object):  # type: ignore[no-untyped-def]
    return c.post(
        f"/api/grants/{GRANT}/monitoring/csv",
        files={"file": ("records.csv", body, "text/csv")},
        params=params,
        headers=hdr(c),
    )


def test_csv_with_any_bad_row_stores_nothing_and_reports_each_row(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    rows = [
        f"{SITE},patrol_km,2023-01-01,2023-01-31,120.5,GPS tracks,",  # 2 ok
        f"{SITE},yeti_count,2023-01-01,,3,,",  # 3 unknown indicator
        "Nowhere,patrol_km,2023-02-01,,3,,",  # 4 unknown site
        f"{SITE},patrol_km,2023-03-01,,-5,,",  # 5 negative
        f"{SITE},patrol_km,2023-01-01,2023-01-31,99,,",  # 6 duplicate of row 2
        f"{SITE},snow_leopard_detections,2023-01-01,,2,,{PRECISE[0]} {PRECISE[1]}",  # 7 ok
    ]
    r = _csv(own, (HEADER + "\n".join(rows) + "\n").encode())
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["stored"] is False and body["rows"] == 6 and body["errors"] == 4
    status = {x["row"]: x for x in body["report"]}
    assert status[2]["status"] == "ok" and status[7]["status"] == "ok"
    assert "unknown indicator" in status[3]["message"]
    assert "no field site" in status[4]["message"]
    assert "negative" in status[5]["message"]
    assert "duplicate of row 2" in status[6]["message"]
    assert count_records(db_tx.engine) == 0
    # the good rows alone: a dry run stores nothing, then the upload stores both
    good = (HEADER + rows[0] + "\n" + rows[5] + "\n").encode()
    dry = _csv(own, good, dry_run="true")
    assert dry.status_code == 200 and dry.json()["stored"] is False
    assert count_records(db_tx.engine) == 0
    r = _csv(own, good)
    assert r.status_code == 201 and r.json()["stored"] is True
    assert count_records(db_tx.engine) == 2
    # the same file again: duplicates of stored records, nothing more stored
    again = _csv(own, good)
    assert again.status_code == 422 and "already" in again.json()["report"][0]["message"]
    assert count_records(db_tx.engine) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"site,indicator,when,value\nx,y,2023-01-01,1\n", "wrong columns"),
        (b"site,indicator,value\nx,y,1\n", "missing period_start"),
        (
            f"{HEADER}{SITE},patrol_km,2023-01-01,,1,Kökжайляу\n".encode("cp1251", "replace"),
            "not UTF-8",
        ),
        (
            "site,indicator,period_start,value\nÖzen,patrol_km,2023-01-01,1\n".encode("latin-1"),
            "not UTF-8",
        ),
        (b"", "empty"),
        (HEADER.encode(), "no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not"),
    ],
)
def test_csv_files_that_cannot_be_read_are_refused(tx_login_as, db_tx, body, message) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    r = _csv(own, body)
    assert r.status_code == 422, r.text
    assert r.json()["stored"] is False and message in r.json()["error"]
    assert count_records(db_tx.engine) == 0


def test_csv_of_another_grant_is_forbidden(tx_login_as) -> None:  # type: ignore[no-untyped-def]
    other = tx_login_as("grantee", grants=[OTHER_GRANT])
    r = _csv(other, (HEADER + f"{SITE},patrol_km,2023-01-01,,1,,\n").encode())
    assert r.status_code == 403


# ---------------------------------------------------------------------------------------------
# Review, and what the public sees
# ---------------------------------------------------------------------------------------------


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _tile_lonlat(z: int, x: int, y: int, px: float, py: float, extent: int = 4096):
    n = 2**z
    lon = (x + px / extent) / n * 360 - 180
    # mapbox_vector_tile flips y by default: py counts from the bottom of the tile
    ty = y + 1 - py / extent
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))
    return lon, lat


def _points_in_tile(c, z: int, lon: float, lat: float) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    x, y = _tile_xy(lon, lat, z)
    r = c.get(f"/collections/monitoring_points/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert r.status_code in (200, 204), r.text
    if r.status_code == 204 or not r.content:
        return []
    layer = mapbox_vector_tile.decode(r.content).get("monitoring_points", {"features": []})
    return [
        _tile_lonlat(z, x, y, *f["geometry"]["coordinates"])
        for f in layer["features"]
        if f["properties"].get("method") != "example"
    ]


def test_accepted_records_only_and_never_the_precise_sensitive_point(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    r = _submit(own, period_start="2023-08-01", period_end="2023-08-31", value="5")
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    anon = tx_login_as("anonymous")
    analyst = tx_login_as("analyst")

    # before review: the public sees nothing of it
    assert anon.get(f"/api/monitoring/records/{rid}").status_code == 404
    assert anon.get(f"/monitoring/records/{rid}").status_code == 404
    assert rid not in [
        x["id"] for x in anon.get(f"/api/grants/{GRANT}/monitoring").json()["records"]
    ]
    items = anon.get("/collections/monitoring_points/items", params={"limit": 10000}).json()
    assert all(f["properties"].get("method") == "example" for f in items["features"])
    # its grantee sees it, with the precise point it gave
    mine = own.get(f"/api/monitoring/records/{rid}").json()
    assert mine["points"][0]["lon"] == PRECISE[0] and mine["points"][0]["generalised"] is False

    # returning needs a reason; other roles may not review
    assert (
        own.post(
            f"/api/monitoring/records/{rid}/review", data={"to_state": "accepted"}, headers=hdr(own)
        ).status_code
        == 403
    )
    no_reason = analyst.post(
        f"/api/monitoring/records/{rid}/review", data={"to_state": "returned"}, headers=hdr(analyst)
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["description"]
    ok = analyst.post(
        f"/api/monitoring/records/{rid}/review", data={"to_state": "accepted"}, headers=hdr(analyst)
    )
    assert ok.status_code == 200 and ok.json()["state"] == "accepted"

    # after: the public sees the record, its point generalised, in every output
    outputs = {
        "record json": anon.get(f"/api/monitoring/records/{rid}"),
        "record page": anon.get(f"/monitoring/records/{rid}"),
        "grant records": anon.get(f"/api/grants/{GRANT}/monitoring"),
        "features": anon.get("/collections/monitoring_points/items", params={"limit": 10000}),
        "geojson download": anon.get("/collections/monitoring_points/download"),
        "csv download": anon.get(
            "/collections/monitoring_points/download", params={"format": "csv"}
        ),
        "series": anon.get("/api/monitoring/series", params={"grant": GRANT}),
        "grant page": anon.get(f"/grants/{GRANT}/monitoring"),
        "portfolio page": anon.get("/monitoring"),
    }
    for name, resp in outputs.items():
        assert resp.status_code == 200, (name, resp.text[:300])
        for digits in PRECISE_TEXT:
            assert digits.encode() not in resp.content, (name, digits)
    pub = outputs["record json"].json()
    assert pub["points"][0]["generalised"] is True
    assert abs(pub["points"][0]["lon"] - PRECISE[0]) > 1e-3
    assert "submitted_by" not in pub and "reviewed_by" not in pub
    feats = [
        f
        for f in outputs["features"].json()["features"]
        if f["properties"].get("method") != "example"
    ]
    assert len(feats) == 1 and "record_id" not in feats[0]["properties"]
    lon, lat = feats[0]["geometry"]["coordinates"]
    assert (round(lon, 6), round(lat, 6)) == (76.9, 43.1)  # the centre of its 0.2° cell
    csv = pd.read_csv(io.BytesIO(outputs["csv download"].content))
    assert len(csv) >= 1
    # vector tiles, decoded: the point sits at the cell's centre, not where it was seen
    for z in (8, 12):
        pts = _points_in_tile(anon, z, 76.9, 43.1)
        assert pts, z
        for plon, plat in pts:
            assert abs(plon - PRECISE[0]) > 0.01 or abs(plat - PRECISE[1]) > 0.01
        assert not _points_in_tile(anon, 14, *PRECISE)
    # the analyst sees the precise point (so the check above can fail)
    precise = analyst.get(f"/api/monitoring/records/{rid}").json()["points"][0]
    assert (precise["lon"], precise["lat"]) == PRECISE
    assert _points_in_tile(analyst, 14, *PRECISE)


def test_points_of_non_sensitive_indicators_are_exact(tx_login_as) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    rid = _submit(
        own, indicator="patrol_km", value="42.5", period_start="2023-09-01", period_end=""
    ).json()["id"]
    analyst = tx_login_as("analyst")
    analyst.post(
        f"/api/monitoring/records/{rid}/review", data={"to_state": "accepted"}, headers=hdr(analyst)
    )
    pt = tx_login_as("anonymous").get(f"/api/monitoring/records/{rid}").json()["points"][0]
    assert (pt["lon"], pt["lat"]) == PRECISE and pt["generalised"] is False


def test_a_returned_record_says_why_and_stays_private(tx_login_as) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    rid = _submit(own, period_start="2023-10-01", period_end="").json()["id"]
    analyst = tx_login_as("analyst")
    r = analyst.post(
        f"/api/monitoring/records/{rid}/review",
        data={"to_state": "returned", "reason": "No station list attached"},
        headers=hdr(analyst),
    )
    assert r.status_code == 200 and r.json()["state"] == "returned"
    mine = own.get(f"/api/grants/{GRANT}/monitoring", params={"state": "returned"}).json()
    assert [x["reason"] for x in mine["records"]] == ["No station list attached"]
    assert tx_login_as("anonymous").get(f"/api/monitoring/records/{rid}").status_code == 404
    again = analyst.post(
        f"/api/monitoring/records/{rid}/review",
        data={"to_state": "returned", "reason": "x"},
        headers=hdr(analyst),
    )
    assert again.status_code == 409


# ---------------------------------------------------------------------------------------------
# Series and charts (the demo's example series)
# ---------------------------------------------------------------------------------------------


def test_series_per_grant_site_and_indicator_match_the_records(client, engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        expected = {
            (str(y), round(v, 6))
            for y, v in conn.execute(
                text(
                    "SELECT extract(year FROM r.period_start)::int, sum(r.value) "
                    "FROM monitoring_records r JOIN field_sites s ON s.id = r.site_id "
                    "JOIN grants g ON g.id = s.grant_id "
                    "JOIN monitoring_indicators i ON i.id = r.indicator_id "
                    "WHERE g.code = :g AND i.code = 'patrol_km' AND r.state = 'accepted' "
                    "GROUP BY 1"
                ),
                {"g": GRANT},
            )
        }
        site_id = _one(engine, "SELECT id FROM field_sites WHERE name = :n", n=SITE)
    assert {y for y, _ in expected} == {"2019", "2020", "2021", "2022"}
    body = client.get(
        "/api/monitoring/series", params={"grant": GRANT, "indicator": "patrol_km", "step": "year"}
    ).json()
    [s] = body["series"]
    assert s["unit"] == "km" and s["example"] is True
    assert {(p["period"], round(p["value"], 6)) for p in s["points"]} == expected
    monthly = client.get("/api/monitoring/series", params={"site": site_id}).json()["series"]
    assert {x["indicator"] for x in monthly} >= {"camera_trap_nights", "snow_leopard_detections"}
    assert len(monthly[0]["points"]) == 16  # quarterly example values, 2019-2022
    portfolio = client.get(
        "/api/monitoring/series", params={"indicator": "goitered_gazelle_count", "step": "year"}
    ).json()["series"]
    assert portfolio and portfolio[0]["indicator"] == "goitered_gazelle_count"
    for params, status in (
        ({"step": "week"}, 400),
        ({"indicator": "yeti_count"}, 404),
        ({"grant": "NO-SUCH-GRANT"}, 404),
    ):
        assert client.get("/api/monitoring/series", params=params).status_code == status


def test_pages_draw_charts(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/monitoring")
    assert page.status_code == 200 and "<svg" in page.text and "patrol_km" in page.text
    grant = client.get(f"/grants/{GRANT}/monitoring")
    assert grant.status_code == 200 and grant.text.count('<svg class="chart"') >= 4
    assert "example" in grant.text
    assert client.get("/grants/NO-SUCH/monitoring").status_code == 404
    # the grant's own page carries the same charts
    page = client.get(f"/grants/{GRANT}")
    assert page.status_code == 200 and page.text.count('<svg class="chart"') >= 4


def test_the_web_form_keeps_values_and_says_what_to_fix(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own = tx_login_as("grantee", grants=[GRANT])
    form = own.get(f"/grants/{GRANT}/monitoring/new")
    assert form.status_code == 200 and SITE in form.text
    data = {
        "csrf_token": own.csrf,
        "site": SITE,
        "indicator": "ibex_count",
        "period_start": "2023-11-01",
        "value": "-4",
    }
    r = own.post(f"/grants/{GRANT}/monitoring/new", data=data, follow_redirects=False)
    assert r.status_code == 400 and "cannot be negative" in r.text and "2023-11-01" in r.text
    assert count_records(db_tx.engine) == 0
    r = own.post(
        f"/grants/{GRANT}/monitoring/new", data={**data, "value": "37"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/monitoring/records/")
    assert count_records(db_tx.engine) == 1
    other = tx_login_as("grantee", grants=[OTHER_GRANT])
    assert other.get(f"/grants/{GRANT}/monitoring/new").status_code == 403

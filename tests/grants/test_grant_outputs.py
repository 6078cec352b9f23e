"""A grant's page and feed, threats near its sites, the portfolio's balance and exports, read
back with independent tools (xml.etree, openpyxl, pyogrio, csv)."""

from __future__ import annotations

import csv
import io
import secrets
import xml.etree.ElementTree as ET

import pikepdf
import pytest
from openpyxl import load_workbook
from sqlalchemy import text

import pyogrio

ATOM = "{http://www.w3.org/2005/Atom}"
NEAR = "SOS-CA-EX-01"  # its site lies about 4.7 km from the published Kok-Jailau threat


def test_grant_page_lists_threats_within_the_set_distance(client, engine) -> None:
    with engine.connect() as conn:
        metres = conn.execute(
            text(
                "SELECT min(ST_Distance(t.geom::geography, s.geom::geography)) FROM field_sites s"
                " JOIN grants g ON g.id = s.grant_id, threats t"
                " WHERE g.code = :c AND t.published AND t.name LIKE 'Kok-%'"
            ),
            {"c": NEAR},
        ).scalar_one()
    assert metres < 10_000
    r = client.get(f"/grants/{NEAR}")
    assert r.status_code == 200 and "Kok-Jailau" in r.text
    assert f"{metres / 1000:,.1f}" in r.text
    assert 'id="timeline"' in r.text and 'href="/grants/' + NEAR + '/feed.atom"' in r.text
    far = client.get("/grants/SOS-CA-EX-06")
    assert far.status_code == 200 and 'id="threats"' not in far.text


def test_the_threat_distance_is_a_setting(engine, settings, demo) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app

    near = settings.model_copy(
        update={"grants": settings.grants.model_copy(update={"threat_distance_m": 1000.0})}
    )
    with TestClient(create_app(near)) as c:
        assert 'id="threats"' not in c.get(f"/grants/{NEAR}").text
        assert c.get("/api/portfolio").json()["sites_under_threat"] == []


def test_grant_feed_is_utf8_atom_with_uploads_and_threats(client) -> None:
    r = client.get(f"/grants/{NEAR}/feed.atom")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert r.content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ET.fromstring(r.content)
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert any(t.startswith("Field site uploaded: ") for t in titles)
    assert any("Kok-Jailau" in t for t in titles)
    assert client.get("/grants/NOPE/feed.atom").status_code == 404


def test_feeds_speak_the_readers_language(client) -> None:
    """A grant's feed and the threats feed asked in Russian and Kazakh: the feed's language,
    titles and summaries in it (names as the data has them), read back with xml.etree; the
    ETag differs by language, so a cache never answers one language with another."""
    en_feed = client.get(f"/grants/{NEAR}/feed.atom")
    r = client.get(f"/grants/{NEAR}/feed.atom?lang=ru")
    assert r.status_code == 200 and r.headers["etag"] != en_feed.headers["etag"]
    root = ET.fromstring(r.content)
    assert root.findtext(f"{ATOM}title") == f"Irbis: грант {NEAR}"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"
    titles = [e.findtext(f"{ATOM}title") or "" for e in root.iter(f"{ATOM}entry")]
    assert any(t.startswith("Загружен полевой участок: ") for t in titles)
    threat = next(t for t in titles if "Kok-Jailau" in t)
    assert threat.startswith("Угроза в ") and " км от участка " in threat
    summaries = [e.findtext(f"{ATOM}summary") or "" for e in root.iter(f"{ATOM}entry")]
    assert any(x.endswith(" га") for x in summaries)
    assert not any("Field site" in t or "Threat within" in t for t in titles)
    # the page in Russian links the feed in Russian (a feed reader sends no cookie)
    page = client.get(f"/grants/{NEAR}?lang=ru").text
    assert f'href="/grants/{NEAR}/feed.atom?lang=ru" id="feed-link"' in page
    # in either order: a link made from a constant is not fixed when the template is compiled
    assert 'href="/threats/feed.atom"' in client.get("/threats?lang=en").text
    assert 'href="/threats/feed.atom?lang=ru"' in client.get("/threats?lang=ru").text
    assert "feed.atom?lang" not in client.get("/threats?lang=en").text
    kk = ET.fromstring(client.get(f"/grants/{NEAR}/feed.atom?lang=kk").content)
    assert kk.findtext(f"{ATOM}title") == f"Irbis: {NEAR} гранты"

    threats = ET.fromstring(client.get("/threats/feed.atom?lang=ru").content)
    assert threats.findtext(f"{ATOM}title") == "Irbis: угрозы местообитаниям"
    assert threats.get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"
    summaries = [
        e.findtext(f"{ATOM}summary") or ""
        for e in threats.iter(f"{ATOM}entry")
        if "Kok-Jailau" in (e.findtext(f"{ATOM}title") or "")
    ]  # the demo's record, and any other that a test published under a like name
    assert summaries and all("площадь" in x and " га." in x for x in summaries)
    assert not any("footprint" in x for x in summaries)
    assert any("Пример записи (схематичный контур)." in x for x in summaries)


def test_portfolio_lists_sites_under_threat(client) -> None:
    p = client.get("/api/portfolio").json()
    near = [s for s in p["sites_under_threat"] if s["grant_code"] == NEAR]
    assert near and near[0]["distance_m"] < 10_000 and "Kok-Jailau" in near[0]["threat"]
    page = client.get("/grants")
    assert page.status_code == 200 and 'id="under-threat"' in page.text
    assert 'id="funds-chart"' in page.text and "cdn" not in page.text.lower()


@pytest.fixture
def formula_grant(tx_login_as):  # type: ignore[no-untyped-def]
    """A grant whose cells look like formulas, in the test's transaction (rolled back)."""
    c = tx_login_as("admin")
    code = f"X-{secrets.token_hex(3).upper()}"
    body = {
        "code": code,
        "title": '=HYPERLINK("http://evil.example","click")',
        "grantee_organisation": "@SUM(1+1)",
        "countries": ["UZB"],
        "species": ["Gazella subgutturosa"],
        "ecosystem_focus": ["arid_lowland"],
        "amount": "25000",
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
        "call": f"Call {code}",
    }
    assert c.post("/api/grants", json=body, headers={"X-CSRF-Token": c.csrf}).status_code == 201
    return body


def test_csv_export_cells_are_never_formulas(tx_client, formula_grant) -> None:
    r = tx_client.get("/api/portfolio.csv", params={"call": formula_grant["call"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert [row["code"] for row in rows] == [formula_grant["code"]]
    assert not rows[0]["title"].startswith("=") and "HYPERLINK" in rows[0]["title"]
    assert not rows[0]["organisation"].startswith("@")


def test_xlsx_export_read_back_with_openpyxl(tx_client, formula_grant) -> None:
    r = tx_client.get("/api/portfolio.xlsx", params={"call": formula_grant["call"]})
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["grants", "funds", "balance"]
    grants = list(book["grants"].iter_rows(values_only=True))
    header, row = grants[0], grants[1]
    rec = dict(zip(header, row, strict=True))
    assert rec["code"] == formula_grant["code"] and rec["amount_usd"] == 25000
    assert book["grants"].cell(row=2, column=header.index("title") + 1).data_type == "s"
    assert not str(rec["title"]).startswith("=")
    funds = list(book["funds"].iter_rows(values_only=True))
    assert funds[1][:3] == ("Gazella subgutturosa", "arid_lowland", "UZB")


def test_gpkg_export_read_back_with_pyogrio(client, tmp_path) -> None:
    r = client.get("/api/portfolio.gpkg", params={"country": "KAZ"})
    assert r.status_code == 200
    path = tmp_path / "g.gpkg"
    path.write_bytes(r.content)
    df = pyogrio.read_dataframe(path)
    assert NEAR in set(df["code"])
    assert df.loc[df["code"] == NEAR].geometry.iloc[0].geom_type == "MultiPolygon"
    assert all("KAZ" in c for c in df["countries"])
    assert client.get("/api/portfolio.pdf").status_code == 400


def test_balance_of_money_against_the_habitat_gap(tx_client, tx_engine) -> None:
    """Shares of money by ecosystem against shares of unprotected habitat, checked against an
    independent computation on the same records (a habitat run of the test's transaction,
    rolled back after it)."""
    with tx_engine.begin() as conn:
        run = conn.execute(
            text(
                "INSERT INTO analysis_runs (kind, status, title) VALUES ('habitat', 'succeeded',"
                " 'test habitat') RETURNING id"
            )
        ).scalar_one()
        sp = conn.execute(text("SELECT id FROM species ORDER BY id LIMIT 1")).scalar_one()
        boxes = {"mountain": (76.5, 42.8, 77.5, 43.3), "arid_lowland": (70, 44, 71, 45)}
        for eco, (x0, y0, x1, y1) in boxes.items():
            conn.execute(
                text(
                    "INSERT INTO habitat (species_id, ecosystem, analysis_run_id, area_ha, geom,"
                    " source, licence, method) VALUES (:sp, :eco, :run, 0,"
                    " ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)), 'test', 'test',"
                    " 'example')"
                ),
                {"sp": sp, "eco": eco, "run": run, "x0": x0, "y0": y0, "x1": x1, "y1": y1},
            )
    p = tx_client.get("/api/portfolio").json()
    with tx_engine.connect() as conn:
        gap = dict(
            conn.execute(
                text(
                    "SELECT h.ecosystem, ST_Area(ST_Difference(h.geom, COALESCE((SELECT"
                    " ST_Union(geom) FROM protected_areas WHERE GeometryType(geom) IN"
                    " ('POLYGON','MULTIPOLYGON') AND status <> 'Proposed'),"
                    " 'SRID=4326;POLYGON EMPTY'::geometry))::geography) / 1e6"
                    " FROM habitat h WHERE analysis_run_id = :run"
                ),
                {"run": run},
            ).all()
        )
    total_gap = sum(gap.values())
    money = {}
    for g in p["items"]:
        ecos = g["ecosystem_focus"] or ["unspecified"]
        for e in ecos:
            money[e] = money.get(e, 0.0) + g["amount_usd"] / len(ecos)
    total = sum(g["amount_usd"] for g in p["items"])
    for b in p["balance"]:
        e = b["ecosystem"]
        assert b["share_of_funds"] == pytest.approx(money.get(e, 0.0) / total)
        assert b["gap_km2"] == pytest.approx(gap[e], rel=1e-9)
        assert b["share_of_gap"] == pytest.approx(gap[e] / total_gap)
        assert b["funds_per_gap_km2"] == pytest.approx(money.get(e, 0.0) / gap[e])
    assert "USD per km² of gap" in tx_client.get("/grants").text


def test_donor_report_html_and_one_page_pdf(client) -> None:
    r = client.get(f"/grants/{NEAR}/report")
    assert r.status_code == 200
    assert 'id="report"' in r.text and "Kok-Jailau" in r.text and "<svg" in r.text
    r = client.get(f"/grants/{NEAR}/report.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(r.content)) as pdf:
        assert len(pdf.pages) == 1
    assert client.get("/grants/NOPE/report.pdf").status_code == 404


def test_an_unpublished_threat_beside_a_site_stays_off_the_grant_outputs(tx_client, db_tx) -> None:  # type: ignore[no-untyped-def]
    name = "Unpublished quarry beside the site"
    with db_tx.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                " source, licence, method)"
                " SELECT :n, 'road', 'proposed', '{}', '{}', false, ST_PointOnSurface(s.geom),"
                " 'confidential survey', 'restricted', 'observed'"
                " FROM field_sites s JOIN grants g ON g.id = s.grant_id WHERE g.code = :c LIMIT 1"
            ),
            {"n": name, "c": NEAR},
        )
    page = tx_client.get(f"/api/grants/{NEAR}/page")
    assert page.status_code == 200
    threats = [t["name"] for t in page.json()["threats"]]
    assert any(t.startswith("Kok-Jailau") for t in threats) and name not in threats
    assert name not in tx_client.get(f"/grants/{NEAR}").text
    assert name not in tx_client.get(f"/grants/{NEAR}/feed.atom").text
    portfolio = tx_client.get("/api/portfolio").json()
    assert name not in {s["threat"] for s in portfolio["sites_under_threat"]}


def test_control_characters_in_grant_text_are_refused_with_a_reason(tx_login_as) -> None:  # type: ignore[no-untyped-def]
    c = tx_login_as("admin")
    code = f"X-{secrets.token_hex(3).upper()}"
    body = {
        "code": code,
        "title": "Snow leopard\x07 monitoring",
        "grantee_organisation": "Panthera",
        "countries": ["KGZ"],
        "species": ["Panthera uncia"],
        "amount": "30000",
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    }
    r = c.post("/api/grants", json=body, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 400, r.text
    assert "control characters" in r.text and "title" in r.text
    # multi-line text keeps its line breaks, but not the other controls
    body |= {"title": "Snow leopard monitoring", "objectives": "1. count\n2. patrol\x1b"}
    r = c.post("/api/grants", json=body, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 400 and "objectives" in r.text
    body["objectives"] = "1. count\r\n2. patrol\tweekly"
    assert c.post("/api/grants", json=body, headers={"X-CSRF-Token": c.csrf}).status_code == 201


def test_text_stored_before_it_was_checked_still_gives_a_feed_and_a_workbook(
    tx_client, tx_engine, formula_grant
) -> None:  # type: ignore[no-untyped-def]
    with tx_engine.begin() as conn:
        conn.execute(
            text("UPDATE grants SET title = :t, grantee_organisation = :o WHERE code = :c"),
            {"t": "Gazelle\x01 counts\x1b", "o": "Fund\x0b", "c": formula_grant["code"]},
        )
    feed = tx_client.get(f"/grants/{formula_grant['code']}/feed.atom")
    assert feed.status_code == 200
    subtitle = ET.fromstring(feed.content).find("{http://www.w3.org/2005/Atom}subtitle")
    assert subtitle is not None and subtitle.text == "Gazelle counts"
    r = tx_client.get("/api/portfolio.xlsx", params={"call": formula_grant["call"]})
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.content))["grants"].iter_rows(values_only=True))
    rec = dict(zip(rows[0], rows[1], strict=True))
    assert rec["title"] == "Gazelle counts" and rec["grantee_organisation"] == "Fund"

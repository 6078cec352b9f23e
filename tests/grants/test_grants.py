"""Grants as records: the API, the form, the role matrix, history, import, the collection,
the grant page and the portfolio, on the real app and database."""

from __future__ import annotations

import csv
import io
import secrets
from collections import defaultdict
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from tests.rollback import transaction_clock

SL, GG = "Panthera uncia", "Gazella subgutturosa"
OWN = "SOS-CA-EX-05"


def _code() -> str:
    return f"T-{secrets.token_hex(4).upper()}"


def _grant(code: str | None = None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code or _code(),
        "title": "Gazelle corridors of the Ili delta",
        "grantee_organisation": "Steppe Trust",
        "countries": ["KAZ"],
        "species": [GG],
        "ecosystem_focus": ["arid_lowland"],
        "amount": "48000.00",
        "start_date": "2024-01-01",
        "end_date": "2025-12-31",
        "call": "Call 3",
    }
    body.update(over)
    return body


def _auth(c: Any) -> dict[str, str]:
    return {"X-CSRF-Token": c.csrf}


def _count(engine: Any, code: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM grants WHERE code = :c"), {"c": code}
        ).scalar_one()


# --- records: create, edit, close, history -----------------------------------------------


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_managers_register_edit_and_close_a_grant_with_history(db_tx, tx_login_as, role) -> None:
    transaction_clock(db_tx)  # each request's changes a time of their own, as when committed
    c = tx_login_as(role)
    body = _grant()
    r = c.post("/api/grants", json=body, headers=_auth(c))
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/grants/{body['code']}"
    assert r.json()["amount_usd"] == 48000.0 and r.json()["status"] == "proposed"
    r = c.patch(
        f"/api/grants/{body['code']}",
        json={"amount": "50000", "status": "active"},
        headers=_auth(c),
    )
    assert r.status_code == 200 and r.json()["amount"] == 50000.0
    r = c.post(f"/api/grants/{body['code']}/close", json={"status": "terminated"}, headers=_auth(c))
    assert r.status_code == 200 and r.json()["status"] == "terminated"
    hist = c.get(f"/api/grants/{body['code']}/history").json()
    assert [h["action"] for h in hist] == ["update", "update", "insert"]
    assert hist[1]["changed"]["amount"] == {"from": 48000.0, "to": 50000.0}
    assert hist[0]["changed"]["status"] == {"from": "active", "to": "terminated"}
    assert hist[0]["actor"] == c.username


def test_local_currency_keeps_its_rate_and_date(tx_login_as) -> None:
    c = tx_login_as("admin")
    body = _grant(amount="23000000", currency="KZT", rate="460", rate_date="2024-01-15")
    r = c.post("/api/grants", json=body, headers=_auth(c))
    assert r.status_code == 201, r.text
    assert r.json()["amount_usd"] == 50000.0 and r.json()["rate_date"] == "2024-01-15"
    r = c.post("/api/grants", json=_grant(currency="KZT"), headers=_auth(c))
    assert r.status_code == 400 and "rate" in r.json()["description"]


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"amount": "-5"}, "amount"),
        ({"end_date": "2023-01-01"}, "before the start"),
        ({"species": ["Felis catus"]}, "unknown species"),
        ({"countries": ["kz"]}, "countries"),
        ({"documents": [{"title": "x", "url": "javascript:alert(1)"}]}, "documents"),
    ],
)
def test_bad_grants_are_refused_with_a_reason_and_nothing_stored(
    tx_login_as, db_tx, over, needle
) -> None:
    c = tx_login_as("admin")
    body = _grant(**over)
    r = c.post("/api/grants", json=body, headers=_auth(c))
    assert r.status_code in (400, 422), r.text
    assert needle in r.text
    assert _count(db_tx.engine, body["code"]) == 0


def test_a_code_is_registered_once(tx_login_as) -> None:
    c = tx_login_as("admin")
    body = _grant()
    assert c.post("/api/grants", json=body, headers=_auth(c)).status_code == 201
    r = c.post("/api/grants", json=body, headers=_auth(c))
    assert r.status_code == 400 and "exists already" in r.json()["description"]


def test_a_refusal_asked_for_in_russian_says_it_in_russian_too(tx_login_as, db_tx) -> None:
    c = tx_login_as("admin")
    body = _grant()
    assert c.post("/api/grants", json=body, headers=_auth(c)).status_code == 201
    ru = {**_auth(c), "Accept-Language": "ru"}
    r = c.post("/api/grants", json=body, headers=ru)
    assert r.status_code == 400
    code = repr(body["code"])
    assert r.json()["description"] == f"a grant {code} exists already; edit it instead"
    assert r.json()["message"] == f"грант {code} уже существует; вместо этого измените его"
    # the form says it in the reader's language as well
    form = {
        "csrf_token": c.csrf,
        **{k: v for k, v in _grant().items() if k not in ("countries", "species")},
        "countries": "KAZ",
        "species": GG,
        "ecosystem_focus": "arid_lowland",
        "end_date": "2020-01-01",
    }
    r = c.post("/grants/new?lang=ru", data=form)
    assert r.status_code == 400
    assert "дата окончания 2020-01-01 раньше даты начала 2024-01-01" in r.text
    assert _count(db_tx.engine, form["code"]) == 0
    # and what the fields' own checks find (not pydantic's English)
    r = c.post("/grants/new?lang=ru", data={**form, "end_date": "2026-01-01", "amount": "-5"})
    assert r.status_code == 400
    assert "столбец amount: значение должно быть больше 0" in r.text
    assert "Input should be" not in r.text
    assert _count(db_tx.engine, form["code"]) == 0


# --- the role matrix ------------------------------------------------------------------------

ROLES = {
    "anonymous": ("anonymous", ()),
    "public": ("public", ()),
    "advocate": ("advocate", ()),
    "grantee_other": ("grantee", ("SOS-CA-EX-06",)),
    "grantee_own": ("grantee", (OWN,)),
    "analyst": ("analyst", ()),
    "admin": ("admin", ()),
}
MANAGERS = {"analyst", "admin"}


@pytest.mark.parametrize("who", list(ROLES))
def test_role_matrix_for_every_grant_write(tx_login_as, db_tx, who) -> None:
    role, grants = ROLES[who]
    c = tx_login_as(role, grants)
    refused = 401 if who == "anonymous" else 403
    # create
    body = _grant()
    r = c.post("/api/grants", json=body, headers=_auth(c))
    assert r.status_code == (201 if who in MANAGERS else refused), r.text
    assert _count(db_tx.engine, body["code"]) == (1 if who in MANAGERS else 0)
    # narrative edit of grant OWN
    r = c.patch(f"/api/grants/{OWN}", json={"objectives": f"o {who}"}, headers=_auth(c))
    assert r.status_code == (200 if who in MANAGERS | {"grantee_own"} else refused), r.text
    # money edit of grant OWN: never a grantee
    with db_tx.engine.connect() as conn:
        before = conn.execute(
            text("SELECT amount FROM grants WHERE code = :c"), {"c": OWN}
        ).scalar_one()
    r = c.patch(f"/api/grants/{OWN}", json={"amount": str(before)}, headers=_auth(c))
    assert r.status_code == (200 if who in MANAGERS else refused), r.text
    r = c.patch(f"/api/grants/{OWN}", json={"amount": "1.00"}, headers=_auth(c))
    if who not in MANAGERS:
        assert r.status_code == refused
        if who == "grantee_own":
            assert "money" in r.json()["description"]
        with db_tx.engine.connect() as conn:
            after = conn.execute(
                text("SELECT amount FROM grants WHERE code = :c"), {"c": OWN}
            ).scalar_one()
        assert after == before
    else:
        c.patch(f"/api/grants/{OWN}", json={"amount": str(before)}, headers=_auth(c))
    # close
    target = _grant()
    admin = tx_login_as("admin")
    admin.post("/api/grants", json=target, headers=_auth(admin))
    r = c.post(f"/api/grants/{target['code']}/close", headers=_auth(c))
    assert r.status_code == (200 if who in MANAGERS else refused)
    with db_tx.engine.connect() as conn:
        st = conn.execute(
            text("SELECT status FROM grants WHERE code = :c"), {"c": target["code"]}
        ).scalar_one()
    assert st == ("closed" if who in MANAGERS else "proposed")
    # import
    r = c.post(
        "/api/grants/import",
        files={"file": ("g.csv", _csv([_grant()]), "text/csv")},
        headers=_auth(c),
    )
    assert r.status_code == (200 if who in MANAGERS else refused), r.text


# --- the form -------------------------------------------------------------------------------


def test_the_form_registers_and_edits_a_grant(tx_login_as, db_tx) -> None:
    c = tx_login_as("analyst")
    assert c.get("/grants/new").status_code == 200
    code = _code()
    form = {
        "csrf_token": c.csrf,
        "code": code,
        "title": "Argali and snow leopard in Sarychat",
        "grantee_organisation": "Ilbirs",
        "countries": "KGZ",
        "species": f"{SL}\n",
        "ecosystem_focus": "mountain",
        "amount": "75000",
        "currency": "USD",
        "start_date": "2024-03-01",
        "end_date": "2026-02-28",
        "status": "active",
        "documents": "Proposal | https://example.org/p.pdf",
    }
    r = c.post("/grants/new", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/grants/{code}"
    g = c.get(f"/api/grants/{code}").json()
    assert g["documents"] == [{"title": "Proposal", "url": "https://example.org/p.pdf"}]
    bad = {**form, "code": _code(), "end_date": "2020-01-01"}
    r = c.post("/grants/new", data=bad)
    assert r.status_code == 400 and "before the start" in r.text
    assert _count(db_tx.engine, bad["code"]) == 0
    r = c.post(f"/grants/{code}/edit", data={**form, "title": "Renamed"}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get(f"/api/grants/{code}").json()["title"] == "Renamed"


def test_a_form_post_without_the_csrf_token_is_refused(tx_login_as, db_tx) -> None:
    c = tx_login_as("admin")
    code = _code()
    r = c.post("/grants/new", data={"code": code, "title": "x"})
    assert r.status_code == 403
    assert _count(db_tx.engine, code) == 0


def test_a_grantee_edit_form_keeps_the_money(tx_login_as, db_tx) -> None:
    c = tx_login_as("grantee", (OWN,))
    page = c.get(f"/grants/{OWN}/edit")
    assert page.status_code == 200 and 'name="amount"' not in page.text
    with db_tx.engine.connect() as conn:
        before = conn.execute(
            text("SELECT amount FROM grants WHERE code = :c"), {"c": OWN}
        ).scalar_one()
    r = c.post(
        f"/grants/{OWN}/edit",
        data={"csrf_token": c.csrf, "title": "Gazelles of Altyn-Emel", "amount": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with db_tx.engine.connect() as conn:
        row = conn.execute(
            text("SELECT amount, title FROM grants WHERE code = :c"), {"c": OWN}
        ).one()
    assert row.amount == before and row.title == "Gazelles of Altyn-Emel"


# --- import ---------------------------------------------------------------------------------


#: The columns every grant needs in an import file, with its dates.
BASIC_HEADER = (
    "code",
    "title",
    "grantee_organisation",
    "countries",
    "species",
    "amount",
    "start_date",
    "end_date",
)


def _csv(
    rows: list[dict[str, Any]], header: list[str] | None = None, encoding: str = "utf-8"
) -> bytes:
    cols = header or [
        "code",
        "title",
        "grantee_organisation",
        "countries",
        "species",
        "ecosystem_focus",
        "amount",
        "start_date",
        "end_date",
        "call",
    ]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(cols)
    for r in rows:
        w.writerow([";".join(r[k]) if isinstance(r.get(k), list) else r.get(k, "") for k in cols])
    return out.getvalue().encode(encoding)


def test_import_is_one_transaction_with_a_report_per_row_and_idempotent(tx_login_as, db_tx) -> None:
    c = tx_login_as("admin")
    rows = [
        _grant(title="Сайгак и джейран — Бетпак-Дала"),
        _grant(species=[SL, GG], countries=["KGZ", "TJK"]),
    ]
    data = _csv(rows)
    r = c.post(
        "/api/grants/import", files={"file": ("list.csv", data, "text/csv")}, headers=_auth(c)
    )
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["rows"]] == ["created", "created"]
    assert c.get(f"/api/grants/{rows[0]['code']}").json()["title"] == rows[0]["title"]
    r = c.post(
        "/api/grants/import", files={"file": ("list.csv", data, "text/csv")}, headers=_auth(c)
    )
    assert [x["outcome"] for x in r.json()["rows"]] == ["unchanged", "unchanged"]
    rows[1]["amount"] = "60000"
    r = c.post(
        "/api/grants/import", files={"file": ("list.csv", _csv(rows), "text/csv")}, headers=_auth(c)
    )
    assert [x["outcome"] for x in r.json()["rows"]] == ["unchanged", "updated"]


def test_import_from_xlsx(tx_login_as, db_tx) -> None:
    c = tx_login_as("analyst")
    wb = Workbook()
    ws = wb.active
    g = _grant()
    ws.append(list(BASIC_HEADER))
    ws.append(
        [
            g["code"],
            g["title"],
            g["grantee_organisation"],
            "KAZ;UZB",
            GG,
            30000,
            "2024-01-01",
            "2024-12-31",
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    r = c.post(
        "/api/grants/import", files={"file": ("list.xlsx", buf.getvalue())}, headers=_auth(c)
    )
    assert r.status_code == 200, r.text
    assert c.get(f"/api/grants/{g['code']}").json()["countries"] == ["KAZ", "UZB"]


@pytest.mark.parametrize(
    ("rows", "header", "encoding", "needle"),
    [
        ([_grant(amount="-100")], None, "utf-8", "amount"),
        ([_grant(end_date="2023-01-01")], None, "utf-8", "before the start"),
        ([_grant(code="DUP-1"), _grant(code="DUP-1")], None, "utf-8", "also on row 3"),
        ([_grant(species=["Canis lupus"])], None, "utf-8", "unknown species"),
        ([_grant()], ["code", "title", "budget"], "utf-8", "unknown columns budget"),
        ([_grant()], ["code", "title"], "utf-8", "missing columns"),
        ([_grant(title="Джейран")], None, "cp1251", "not UTF-8"),
    ],
)
def test_bad_import_reports_and_stores_nothing(
    tx_login_as, db_tx, rows, header, encoding, needle
) -> None:
    c = tx_login_as("admin")
    good = _grant()
    data = _csv([good, *rows], header, encoding)
    r = c.post(
        "/api/grants/import", files={"file": ("list.csv", data, "text/csv")}, headers=_auth(c)
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["stored"] is False and needle in r.text
    assert _count(db_tx.engine, good["code"]) == 0


def test_xlsx_that_is_not_a_workbook_is_a_400(tx_login_as) -> None:
    c = tx_login_as("admin")
    r = c.post(
        "/api/grants/import", files={"file": ("x.xlsx", b"PK\x03\x04garbage")}, headers=_auth(c)
    )
    assert r.status_code == 400 and "XLSX" in r.text


# --- the collection -------------------------------------------------------------------------


def test_grants_collection_lists_grants_with_and_without_sites(tx_client, tx_login_as) -> None:
    admin = tx_login_as("admin")
    body = _grant(species=[SL], countries=["TJK"], amount="123456.00")
    admin.post("/api/grants", json=body, headers=_auth(admin))
    fc = tx_client.get("/collections/grants/items", params={"limit": 1000}).json()
    by_code = {f["properties"]["code"]: f for f in fc["features"]}
    assert by_code[body["code"]]["geometry"] is None
    assert by_code[OWN]["geometry"]["type"] == "MultiPolygon"
    r = tx_client.get(
        "/collections/grants/items",
        params={
            "filter": f"countries LIKE '%TJK%' AND amount_usd > 100000 AND code = '{body['code']}'"
        },
    ).json()
    assert [f["properties"]["code"] for f in r["features"]] == [body["code"]]


def test_a_sites_change_moves_the_grant_geometry(engine, client) -> None:
    with engine.begin() as conn:
        before = conn.execute(
            text("SELECT ST_Area(geom) FROM grants WHERE code = 'SOS-CA-EX-01'")
        ).scalar_one()
        union = conn.execute(
            text(
                "SELECT ST_Area(ST_Union(f.geom)) FROM field_sites f JOIN grants g ON g.id = f.grant_id"
                " WHERE g.code = 'SOS-CA-EX-01'"
            )
        ).scalar_one()
    assert before == pytest.approx(union)


# --- the page and the portfolio ---------------------------------------------------------------


def test_the_grant_page_shows_facts_sites_and_threats(client) -> None:
    r = client.get(f"/grants/{OWN}")
    assert r.status_code == 200
    assert OWN in r.text and 'id="sites"' in r.text
    assert client.get("/grants/NO-SUCH-GRANT").status_code == 404


def test_portfolio_arithmetic_matches_an_independent_computation(client, engine) -> None:
    p = client.get("/api/portfolio").json()
    # independently, from the database
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.id, CASE WHEN g.currency = 'USD' THEN g.amount ELSE g.amount / g.rate END AS usd,"
                " g.countries, g.ecosystem_focus,"
                " array(SELECT s.scientific_name FROM grant_species gs JOIN species s ON s.id = gs.species_id"
                " WHERE gs.grant_id = g.id) AS species FROM grants g"
            )
        ).all()
    cells: dict[tuple[str, str, str], float] = defaultdict(float)
    for r in rows:
        ecos = r.ecosystem_focus or ["unspecified"]
        n = len(r.species) * len(ecos) * len(r.countries)
        for s in r.species:
            for e in ecos:
                for c in r.countries:
                    cells[(s, e, c)] += float(r.usd) / n
    assert p["grants"] == len(rows)
    assert p["funds_usd"] == pytest.approx(sum(float(r.usd) for r in rows), abs=0.01)
    got = {(c["species"], c["ecosystem"], c["country"]): c["funds_usd"] for c in p["funds"]}
    assert got.keys() == cells.keys()
    for k, v in cells.items():
        assert got[k] == pytest.approx(v, abs=0.01)
    assert client.get("/grants").status_code == 200
    kaz = client.get("/api/portfolio", params={"country": "KAZ"}).json()
    assert all("KAZ" in g["countries"] for g in kaz["items"]) and kaz["grants"] < p["grants"]

"""The grant's history as a page: who changed what and when, old -> new under readable field
names, for the roles that see the JSON (administrators, analysts, the grant's grantees).

Each test runs in a transaction rolled back at its end; each request's changes keep a time of
their own (:func:`tests.rollback.transaction_clock`), as committed transactions would."""

from __future__ import annotations

import secrets
from html.parser import HTMLParser

import pytest

from tests.rollback import RolledBack, transaction_clock


class _Rows(HTMLParser):
    """The text of each ``tr.change`` of the history table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and ("class", "change") in attrs:
            self._in = True
            self.rows.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.rows[-1] += data


def _rows(html: str) -> list[str]:
    p = _Rows()
    p.feed(html)
    return [" ".join(r.split()) for r in p.rows]


@pytest.fixture
def changed_grant(db_tx: RolledBack, tx_login_as):  # type: ignore[no-untyped-def]
    transaction_clock(db_tx)
    admin = tx_login_as("admin", username=f"hist-admin-{secrets.token_hex(3)}")
    code = f"H-{secrets.token_hex(3).upper()}"
    body = {
        "code": code,
        "title": "History page grant",
        "grantee_organisation": "Snow Leopard Fund",
        "countries": ["KGZ"],
        "species": ["Panthera uncia"],
        "amount": 40000,
        "start_date": "2024-01-01",
        "end_date": "2025-12-31",
    }
    csrf = {"X-CSRF-Token": admin.csrf}
    assert admin.post("/api/grants", json=body, headers=csrf).status_code == 201
    r = admin.patch(
        f"/api/grants/{code}",
        json={"amount": 45000, "grantee_organisation": "Ilbirs Foundation", "status": "active"},
        headers=csrf,
    )
    assert r.status_code == 200
    return code, admin


def test_history_page_shows_who_changed_what_old_to_new(changed_grant) -> None:  # type: ignore[no-untyped-def]
    code, admin = changed_grant
    r = admin.get(f"/grants/{code}/history")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    rows = _rows(r.text)
    assert len(rows) == 2  # newest first: the change, then the registration
    actor = admin.get("/api/grants/" + code + "/history").json()[0]["actor"]
    change, created = rows
    assert actor in change and actor in created
    assert "Amount: 40,000.00 → 45,000.00" in change
    assert "Grantee organisation: Snow Leopard Fund → Ilbirs Foundation" in change
    assert "Status: proposed → active" in change
    assert "grantee_organisation" not in r.text  # field names are readable
    assert "registered the grant" in created
    page = admin.get(f"/grants/{code}")
    assert f'href="/grants/{code}/history"' in page.text


def test_history_page_follows_the_json_rule(changed_grant, tx_login_as, tx_client) -> None:  # type: ignore[no-untyped-def]
    code, _admin = changed_grant
    anonymous = tx_client.get(f"/grants/{code}/history", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert "/history" not in tx_client.get(f"/grants/{code}").text
    assert tx_login_as("analyst").get(f"/grants/{code}/history").status_code == 200
    assert tx_login_as("grantee", grants=[code]).get(f"/grants/{code}/history").status_code == 200
    other = tx_login_as("grantee", grants=["SOS-CA-EX-01"])
    assert other.get(f"/grants/{code}/history").status_code == 403
    assert other.get(f"/api/grants/{code}/history").status_code == 403
    assert tx_login_as("admin").get("/grants/NOPE/history").status_code == 404


def test_history_page_speaks_russian(changed_grant) -> None:  # type: ignore[no-untyped-def]
    code, admin = changed_grant
    r = admin.get(f"/grants/{code}/history", headers={"Accept-Language": "ru"})
    assert r.status_code == 200
    assert "История гранта" in r.text and "Сумма" in r.text


def test_species_changes_are_in_the_history_with_readable_names(changed_grant) -> None:  # type: ignore[no-untyped-def]
    code, admin = changed_grant
    csrf = {"X-CSRF-Token": admin.csrf}
    both = ["Panthera uncia", "Gazella subgutturosa"]
    assert (
        admin.patch(f"/api/grants/{code}", json={"species": both}, headers=csrf).status_code == 200
    )
    r = admin.patch(
        f"/api/grants/{code}",
        json={"species": ["Gazella subgutturosa"], "title": "Lowland grant"},
        headers=csrf,
    )
    assert r.status_code == 200
    history = admin.get(f"/api/grants/{code}/history").json()
    assert [e["action"] for e in history] == ["update", "update", "update", "insert"]
    swap, added = history[0], history[1]
    assert swap["changed"] == {"title": {"from": "History page grant", "to": "Lowland grant"}}
    assert [s["scientific_name"] for s in swap["species"]["removed"]] == ["Panthera uncia"]
    assert swap["species"]["added"] == []
    assert added["changed"] == {} and added["species"]["removed"] == []
    assert added["species"]["added"] == [
        {
            "scientific_name": "Gazella subgutturosa",
            "common_name_en": "Goitered gazelle",
            "common_name_ru": "Джейран",
            "common_name_kk": "Қарақұйрық",
        }
    ]
    registered = history[-1]["species"]["added"]
    assert [s["scientific_name"] for s in registered] == ["Panthera uncia"]
    rows = _rows(admin.get(f"/grants/{code}/history").text)
    assert len(rows) == 4
    assert "Species removed: Snow leopard (Panthera uncia)" in rows[0]
    assert "Title: History page grant → Lowland grant" in rows[0]
    assert "Species added: Goitered gazelle (Gazella subgutturosa)" in rows[1]
    assert "registered the grant" in rows[3] and "Snow leopard (Panthera uncia)" in rows[3]
    ru = _rows(admin.get(f"/grants/{code}/history", headers={"Accept-Language": "ru"}).text)
    assert "Добавлены виды: Джейран (Gazella subgutturosa)" in ru[1]
    assert "Исключены виды: Снежный барс (ирбис) (Panthera uncia)" in ru[0]
    kk = _rows(admin.get(f"/grants/{code}/history", headers={"Accept-Language": "kk"}).text)
    assert "Қосылған түрлер: Қарақұйрық (Gazella subgutturosa)" in kk[1]
    assert "Алынып тасталған түрлер" in kk[0]

"""The portfolio and a grant page are kept by the data version of their tables: a repeated
request is answered from memory, and any write to one of their tables is seen at once."""

from __future__ import annotations

import secrets

from api.services import grants as gs


def _hdr(c) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-CSRF-Token": c.csrf}


def test_the_portfolio_follows_every_write(client, login_as) -> None:  # type: ignore[no-untyped-def]
    before = client.get("/api/portfolio")
    assert before.status_code == 200
    again = client.get("/api/portfolio")
    assert again.content == before.content
    hits = len(gs.PORTFOLIO_CACHE)
    client.get("/api/portfolio")
    assert len(gs.PORTFOLIO_CACHE) == hits  # the same version: no new answer
    admin = login_as("admin")
    code = f"C-{secrets.token_hex(3).upper()}"
    body = {
        "code": code,
        "title": "Cache grant",
        "grantee_organisation": "Org",
        "countries": ["TJK"],
        "species": ["Panthera uncia"],
        "amount": 12345,
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    }
    assert admin.post("/api/grants", json=body, headers=_hdr(admin)).status_code == 201
    after = client.get("/api/portfolio").json()
    assert after["grants"] == before.json()["grants"] + 1
    assert after["funds_usd"] == round(before.json()["funds_usd"] + 12345, 2)
    r = admin.patch(f"/api/grants/{code}", json={"amount": 20000}, headers=_hdr(admin))
    assert r.status_code == 200
    assert client.get("/api/portfolio").json()["funds_usd"] == round(
        before.json()["funds_usd"] + 20000, 2
    )


def test_a_grant_page_follows_every_write(client, login_as) -> None:  # type: ignore[no-untyped-def]
    code = "SOS-CA-EX-02"
    first = client.get(f"/api/grants/{code}/page").json()["grant"]["title"]
    assert client.get(f"/grants/{code}").status_code == 200
    admin = login_as("admin")
    title = f"{first} ({secrets.token_hex(2)})"
    try:
        r = admin.patch(f"/api/grants/{code}", json={"title": title}, headers=_hdr(admin))
        assert r.status_code == 200
        assert client.get(f"/api/grants/{code}/page").json()["grant"]["title"] == title
        assert title in client.get(f"/grants/{code}").text
        assert title in client.get(f"/grants/{code}/report").text
    finally:
        admin.patch(f"/api/grants/{code}", json={"title": first}, headers=_hdr(admin))

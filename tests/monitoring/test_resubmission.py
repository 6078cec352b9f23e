"""A record an analyst returned (with a reason) is corrected and resubmitted by its grantee,
through the API and the web form, keeping its history; then accepted. The role matrix: only
the grant's grantees and administrators correct, only a returned record."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.monitoring.conftest import GRANT, OTHER_GRANT, PRECISE, SITE, hdr

REASON = "The value counts detections, not individuals: recount"


def _fields(**changes: str) -> dict[str, str]:
    data = {
        "site": SITE,
        "indicator": "snow_leopard_detections",
        "period_start": "2022-03-01",
        "period_end": "2022-03-31",
        "value": "7",
        "method_note": "10 stations",
        "points": f"{PRECISE[0]} {PRECISE[1]}",
    }
    data.update(changes)
    return data


def _returned(login_as) -> tuple[Any, Any, int]:  # type: ignore[no-untyped-def]
    own = login_as("grantee", grants=[GRANT])
    r = own.post(f"/api/grants/{GRANT}/monitoring", data=_fields(), headers=hdr(own))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    analyst = login_as("analyst")
    r = analyst.post(
        f"/api/monitoring/records/{rid}/review",
        data={"to_state": "returned", "reason": REASON},
        headers=hdr(analyst),
    )
    assert r.status_code == 200 and r.json()["state"] == "returned"
    return own, analyst, rid


def test_grantee_corrects_and_resubmits_then_analyst_accepts(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own, analyst, rid = _returned(tx_login_as)
    moved = (PRECISE[0] + 0.001, PRECISE[1])
    r = own.post(
        f"/api/monitoring/records/{rid}/resubmit",
        data=_fields(
            value="3", method_note="10 stations, recounted", points=f"{moved[0]} {moved[1]}"
        ),
        headers=hdr(own),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "submitted" and body["value"] == 3 and body["reason"] is None
    with db_tx.engine.connect() as conn:
        value, state = conn.execute(
            text("SELECT value, state FROM monitoring_records WHERE id = :id"), {"id": rid}
        ).one()
        pts = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM monitoring_points WHERE record_id = :id"),
            {"id": rid},
        ).all()
    assert (value, state) == (3.0, "submitted")
    assert [tuple(p) for p in pts] == [pytest.approx(moved)]  # the points were replaced
    # the history keeps the submission, the return with its reason, and the correction
    history = analyst.get(f"/api/monitoring/records/{rid}").json()["history"]
    assert [h["state"] for h in history] == ["submitted", "returned", "submitted"]
    assert history[1]["reason"] == REASON
    assert history[2]["changed"]["value"] == {"from": 7.0, "to": 3.0}
    assert history[2]["actor"] == own.username
    page = own.get(f"/monitoring/records/{rid}")
    assert 'id="record-history"' in page.text and REASON in page.text
    # the public still sees nothing until it is accepted
    assert tx_login_as("anonymous").get(f"/api/monitoring/records/{rid}").status_code == 404
    r = analyst.post(
        f"/api/monitoring/records/{rid}/review", data={"to_state": "accepted"}, headers=hdr(analyst)
    )
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    assert tx_login_as("anonymous").get(f"/api/monitoring/records/{rid}").status_code == 200
    # an accepted record is not corrected any more
    again = own.post(f"/api/monitoring/records/{rid}/resubmit", data=_fields(), headers=hdr(own))
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("role", "grants", "status"),
    [
        # anonymous: asked to log in before the body is read (the same for every record id)
        ("anonymous", (), 401),
        ("grantee", (OTHER_GRANT,), 404),
        ("analyst", (), 403),
        ("grantee", (GRANT,), 200),
        ("admin", (), 200),
    ],
)
def test_who_may_correct_a_returned_record(tx_login_as, db_tx, role, grants, status) -> None:  # type: ignore[no-untyped-def]
    _own, _analyst, rid = _returned(tx_login_as)
    c = tx_login_as(role, grants=grants)
    r = c.post(f"/api/monitoring/records/{rid}/resubmit", data=_fields(value="4"), headers=hdr(c))
    assert r.status_code == status, r.text
    with db_tx.engine.connect() as conn:
        value = conn.execute(
            text("SELECT value FROM monitoring_records WHERE id = :id"), {"id": rid}
        ).scalar_one()
    assert value == (4.0 if status == 200 else 7.0)


def test_a_bad_correction_changes_nothing_and_says_what_to_fix(tx_login_as, db_tx) -> None:  # type: ignore[no-untyped-def]
    own, _analyst, rid = _returned(tx_login_as)
    r = own.post(
        f"/api/monitoring/records/{rid}/resubmit",
        data=_fields(value="-2", period_end="2022-02-01"),
        headers=hdr(own),
    )
    assert r.status_code == 400
    msg = r.text
    assert "cannot be negative" in str(msg) and "before it starts" in str(msg)
    with db_tx.engine.connect() as conn:
        state = conn.execute(
            text("SELECT state FROM monitoring_records WHERE id = :id"), {"id": rid}
        ).scalar_one()
    assert state == "returned"


def test_the_correction_form(tx_login_as) -> None:  # type: ignore[no-untyped-def]
    own, analyst, rid = _returned(tx_login_as)
    page = own.get(f"/monitoring/records/{rid}")
    assert f'href="/monitoring/records/{rid}/edit"' in page.text
    assert 'id="correct-link"' not in analyst.get(f"/monitoring/records/{rid}").text
    form = own.get(f"/monitoring/records/{rid}/edit")
    assert form.status_code == 200
    assert REASON in form.text and 'value="7"' in form.text and f"{PRECISE[0]}" in form.text
    bad = own.post(
        f"/monitoring/records/{rid}/edit",
        data={**_fields(value="many"), "csrf_token": own.csrf},
    )
    assert bad.status_code == 400 and "is not a number" in bad.text and 'value="many"' in bad.text
    ok = own.post(
        f"/monitoring/records/{rid}/edit",
        data={**_fields(value="5"), "csrf_token": own.csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/monitoring/records/{rid}"
    assert own.get(f"/api/monitoring/records/{rid}").json()["state"] == "submitted"
    assert own.get(f"/monitoring/records/{rid}/edit").status_code == 409
    anon = tx_login_as("anonymous").get(f"/monitoring/records/{rid}/edit", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"].startswith("/login")

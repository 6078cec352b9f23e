"""Threat reports over HTTP: submission, limits, moderation, visibility and anonymity."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from shapely.geometry import box

from api.settings import Settings
from geo.evidence import gps_tags
from tests.rollback import RolledBack
from tests.threats.conftest import drawn, photo_with_gps, stored, submit


def _publish(analyst: Any, report_id: int) -> dict[str, Any]:
    r = analyst.post(f"/reports/{report_id}/state", data={"to_state": "under_review"})
    assert r.status_code == 200, r.text
    r = analyst.post(f"/reports/{report_id}/state", data={"to_state": "published"})
    assert r.status_code == 200, r.text
    return r.json()


def test_advocate_submits_a_report_with_a_photo(
    tx_as_user: Any, db_tx: RolledBack, tx_settings: Settings
) -> None:
    advocate = tx_as_user("advocate")
    r = submit(advocate, files=[("evidence", ("kj.jpg", photo_with_gps(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["state"] == "submitted" and len(body["evidence"]) == 1
    with db_tx.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.state, r.reporter_name, ST_Area(r.geom::geography) AS m2, "
                "e.media_type, e.storage_path, e.sha256, e.location_kept "
                "FROM threat_reports r JOIN evidence_files e ON e.report_id = r.id "
                "WHERE r.id = :id"
            ),
            {"id": body["id"]},
        ).one()
        events = conn.execute(
            text(
                "SELECT from_state, to_state, actor_name FROM threat_report_events "
                "WHERE report_id = :id"
            ),
            {"id": body["id"]},
        ).all()
    assert row.state == "submitted" and row.reporter_name.startswith("advocate-zhanar")
    assert row.m2 > 0 and row.media_type == "image/jpeg" and not row.location_kept
    assert [(e.from_state, e.to_state) for e in events] == [(None, "submitted")]
    path = tx_settings.var_dir / "evidence" / row.storage_path
    assert path.is_file() and row.sha256 in path.name
    assert gps_tags(path.read_bytes()) == {}
    # the reporter sees the photo; it has no GPS tags
    photo = advocate.get(body["evidence"][0])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert gps_tags(photo.content) == {}


def test_location_kept_when_chosen(tx_as_user: Any) -> None:
    advocate = tx_as_user("advocate")
    r = submit(
        advocate,
        keep_location="true",
        files=[("evidence", ("kj.jpg", photo_with_gps(), "image/jpeg"))],
    )
    assert r.status_code == 201, r.text
    photo = advocate.get(r.json()["evidence"][0])
    assert gps_tags(photo.content)[2] == (43.0, 8.0, 24.0)


def test_public_never_sees_an_unpublished_report(tx_as_user: Any, tx_client: Any) -> None:
    advocate = tx_as_user("advocate")
    title = "Unpublished quarry near Medeu"
    r = submit(
        advocate, title=title, files=[("evidence", ("q.png", photo_with_gps("PNG"), "image/png"))]
    )
    report_id, ev_url = r.json()["id"], r.json()["evidence"][0]
    assert tx_client.get(f"/reports/{report_id}").status_code == 404
    assert tx_client.get(ev_url).status_code == 404
    assert tx_as_user("advocate2").get(f"/reports/{report_id}").status_code == 404
    assert tx_as_user("advocate2").get(ev_url).status_code == 404
    for url in ("/threats", "/threats?f=json", "/threats/feed.atom", "/reports"):
        assert title not in tx_client.get(url).text
    items = tx_client.get("/collections/threats/items", params={"limit": 1000})
    if items.status_code == 200:
        assert title not in items.text
    # a moderator sees it
    assert tx_as_user("analyst").get(f"/reports/{report_id}").status_code == 200


def test_only_analysts_and_admins_moderate(tx_as_user: Any, tx_client: Any) -> None:
    advocate = tx_as_user("advocate")
    report_id = submit(advocate).json()["id"]
    r = advocate.post(f"/reports/{report_id}/state", data={"to_state": "under_review"})
    assert r.status_code == 403 and "analysts and admins" in r.json()["description"]
    r = tx_as_user("grantee").post(f"/reports/{report_id}/state", data={"to_state": "published"})
    assert r.status_code == 403
    r = tx_client.post(f"/reports/{report_id}/state", data={"to_state": "published"})
    assert r.status_code in (401, 403)
    analyst = tx_as_user("analyst")
    r = analyst.post(f"/reports/{report_id}/state", data={"to_state": "published"})
    assert r.status_code == 409 and "under review" in r.json()["description"]


def test_publishing_creates_a_threat_with_a_timeline(
    tx_as_user: Any, tx_client: Any, db_tx: RolledBack, people: dict[str, str]
) -> None:
    advocate, analyst = tx_as_user("advocate"), tx_as_user("analyst")
    title = "Cable car pylons on Kok-Jailau"
    r = submit(
        advocate,
        title=title,
        kind="ski_resort",
        threat_status="approved",
        status_on="2026-05-01",
        files=[("evidence", ("p.jpg", photo_with_gps(), "image/jpeg"))],
    )
    report_id = r.json()["id"]
    out = _publish(analyst, report_id)
    threat_id = out["threat_id"]
    assert out["state"] == "published" and threat_id
    with db_tx.engine.connect() as conn:
        threat = conn.execute(
            text("SELECT name, kind, status, published, source FROM threats WHERE id = :id"),
            {"id": threat_id},
        ).one()
        changes = conn.execute(
            text("SELECT status, changed_on FROM threat_status_changes WHERE threat_id = :id"),
            {"id": threat_id},
        ).all()
        events = conn.execute(
            text(
                "SELECT from_state, to_state, actor_name, at FROM threat_report_events "
                "WHERE report_id = :id ORDER BY id"
            ),
            {"id": report_id},
        ).all()
        actor = conn.execute(
            text("SELECT actor FROM audit_log WHERE table_name = 'threats' AND row_id = :id"),
            {"id": str(threat_id)},
        ).scalar_one()
    assert (threat.name, threat.kind, threat.status, threat.published) == (
        title,
        "ski_resort",
        "approved",
        True,
    )
    assert [(c.status, c.changed_on.isoformat()) for c in changes] == [("approved", "2026-05-01")]
    assert [(e.from_state, e.to_state) for e in events] == [
        (None, "submitted"),
        ("submitted", "under_review"),
        ("under_review", "published"),
    ]
    assert events[-1].actor_name == people["analyst"] and events[-1].at is not None
    assert actor == people["analyst"]
    # the public now sees the dossier, the photo (without GPS) and the feed entry
    page = tx_client.get(f"/threats/{threat_id}")
    assert page.status_code == 200 and title in page.text
    ev_url = r.json()["evidence"][0]
    assert ev_url in page.text
    photo = tx_client.get(ev_url)
    assert photo.status_code == 200 and gps_tags(photo.content) == {}
    assert title in tx_client.get("/threats/feed.atom").text
    # the downloadable dossier embeds the photo, also without GPS tags
    export = tx_client.get(f"/threats/{threat_id}/dossier.html").text
    embedded = re.findall(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', export)
    assert len(embedded) == 1 and gps_tags(base64.b64decode(embedded[0])) == {}
    # a published report is final
    again = analyst.post(
        f"/reports/{report_id}/state", data={"to_state": "rejected", "reason": "x"}
    )
    assert again.status_code == 409


def test_a_later_report_updates_the_threat(
    tx_as_user: Any, db_tx: RolledBack, tx_client: Any
) -> None:
    advocate, analyst = tx_as_user("advocate"), tx_as_user("analyst")
    first = submit(
        advocate,
        title="Dam on the Big Almaty river",
        kind="dam",
        threat_status="proposed",
        status_on="2025-03-01",
    ).json()["id"]
    threat_id = _publish(analyst, first)["threat_id"]
    second = submit(
        advocate,
        geometry="",  # about the published threat: its footprint is used
        title="Dam works halted",
        kind="dam",
        threat_status="halted",
        status_on="2026-07-01",
        threat_id=str(threat_id),
        links="https://example.org/court-ruling",
    ).json()["id"]
    assert _publish(analyst, second)["threat_id"] == threat_id
    with db_tx.engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM threats WHERE id = :id"), {"id": threat_id}
        ).scalar_one()
        changes = (
            conn.execute(
                text(
                    "SELECT status FROM threat_status_changes WHERE threat_id = :id "
                    "ORDER BY changed_on"
                ),
                {"id": threat_id},
            )
            .scalars()
            .all()
        )
    assert status == "halted" and changes == ["proposed", "halted"]
    page = tx_client.get(f"/threats/{threat_id}").text
    assert "Dam works halted" in page and "https://example.org/court-ruling" in page
    as_of = tx_client.get("/threats", params={"as_of": "2025-12-31", "f": "json"}).json()
    hit = next(t for t in as_of["threats"] if t["id"] == threat_id)
    assert hit["status_as_of"] == "proposed" and hit["status"] == "halted"


def test_rejection_needs_a_reason(tx_as_user: Any, db_tx: RolledBack) -> None:
    advocate, analyst = tx_as_user("advocate"), tx_as_user("analyst")
    report_id = submit(advocate).json()["id"]
    analyst.post(f"/reports/{report_id}/state", data={"to_state": "under_review"})
    r = analyst.post(f"/reports/{report_id}/state", data={"to_state": "rejected"})
    assert r.status_code == 400 and "reason" in r.json()["description"]
    r = analyst.post(
        f"/reports/{report_id}/state",
        data={"to_state": "rejected", "reason": "Duplicate of report 3"},
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    page = advocate.get(f"/reports/{report_id}").text
    assert "Duplicate of report 3" in page
    with db_tx.engine.connect() as conn:
        threat_id = conn.execute(
            text("SELECT threat_id FROM threat_reports WHERE id = :id"), {"id": report_id}
        ).scalar_one()
    assert threat_id is None


def test_anonymous_reporter_is_never_named_to_the_public(
    tx_as_user: Any, tx_client: Any, people: dict[str, str]
) -> None:
    advocate, analyst = tx_as_user("advocate2"), tx_as_user("analyst")
    name = people["advocate2"]
    photo = photo_with_gps()
    r = submit(
        advocate,
        title="Poachers' camp trail",
        kind="poaching",
        anonymous="true",
        files=[("evidence", ("c.jpg", photo, "image/jpeg"))],
    )
    report_id = r.json()["id"]
    threat_id = _publish(analyst, report_id)["threat_id"]
    public_outputs = [
        tx_client.get(f"/threats/{threat_id}").text,
        tx_client.get(f"/reports/{report_id}").text,
        tx_client.get("/threats").text,
        tx_client.get("/threats?f=json").text,
        tx_client.get("/threats/feed.atom").text,
        tx_client.get(f"/threats/{threat_id}/dossier.html").text,
    ]
    items = tx_client.get("/collections/threats/items", params={"limit": 1000})
    if items.status_code == 200:
        public_outputs.append(items.text)
    for out in public_outputs:
        assert name not in out
    assert "anonymous" in public_outputs[0]
    served = tx_client.get(r.json()["evidence"][0]).content
    with Image.open(io.BytesIO(served)) as im:
        assert 0x013B not in im.getexif()  # the photographer's name is gone too
    # moderators and the reporter still know who it was
    assert name in analyst.get(f"/reports/{report_id}").text
    assert name in advocate.get(f"/reports/{report_id}").text


def test_named_reporter_is_credited(
    tx_as_user: Any, tx_client: Any, people: dict[str, str]
) -> None:
    r = submit(tx_as_user("advocate"), title="Fence across a gazelle corridor", kind="fence")
    threat_id = _publish(tx_as_user("analyst"), r.json()["id"])["threat_id"]
    assert people["advocate"] in tx_client.get(f"/threats/{threat_id}").text


BIG = 10 * 1024 * 1024 + 1


@pytest.mark.parametrize(
    ("form", "files", "status", "message"),
    [
        pytest.param(
            {},
            [("evidence", ("big.jpg", b"\xff\xd8\xff\xe0" + b"\0" * BIG, "image/jpeg"))],
            413,
            "photos may be at most",
            id="huge-photo",
        ),
        pytest.param(
            {},
            [
                ("evidence", (f"{i}.pdf", b"%PDF-1.4\n" + bytes([i]) * 9_000_000 + b"%%EOF", "x"))
                for i in range(6)
            ],
            413,
            "together exceed",
            id="too-much-evidence",
        ),
        pytest.param(
            {},
            [("evidence", ("photo.jpg", b"#!/bin/sh\necho not a photo\n", "image/jpeg"))],
            400,
            "not a JPEG or PNG photo or a PDF",
            id="not-an-image",
        ),
        pytest.param(
            {"geometry": drawn(box(2.3, 48.8, 2.4, 48.9))},
            [],
            400,
            "not inside the region",
            id="outside-region",
        ),
        pytest.param(
            {"description": "   "}, [], 400, "description is empty", id="empty-description"
        ),
        pytest.param({"geometry": ""}, [], 400, "draw the threat", id="nothing-drawn"),
        pytest.param({"kind": "volcano"}, [], 400, "unknown kind", id="bad-kind"),
        pytest.param({"links": "javascript:alert(1)"}, [], 400, "not a web address", id="bad-link"),
        pytest.param({"status_on": "2019-13-45"}, [], 400, "not a date", id="bad-date"),
        pytest.param(
            {},
            [("footprint", ("f.kml", b"<kml>broken", "application/vnd.google-earth.kml+xml"))],
            400,
            "f.kml",
            id="broken-kml",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    tx_as_user: Any,
    db_tx: RolledBack,
    tx_settings: Settings,
    form: dict[str, str],
    files: list[Any],
    status: int,
    message: str,
) -> None:
    advocate = tx_as_user("advocate")
    good_photo = ("evidence", ("ok.jpg", photo_with_gps(), "image/jpeg"))
    before = stored(db_tx.engine, tx_settings.var_dir)
    r = submit(advocate, files=[good_photo, *files], **form)
    assert r.status_code == status, r.text
    assert message in r.json()["description"]
    assert stored(db_tx.engine, tx_settings.var_dir) == before


def test_logged_out_and_wrong_role_cannot_submit(tx_as_user: Any, tx_client: Any) -> None:
    r = tx_client.post("/reports", data={"title": "x", "description": "y", "geometry": drawn()})
    assert r.status_code in (401, 403)
    r = submit(tx_as_user("grantee"))
    assert r.status_code == 403 and "advocates" in r.json()["description"]
    assert tx_client.get("/reports/new", follow_redirects=False).status_code == 303


def test_submission_needs_the_csrf_token(tx_as_user: Any) -> None:
    advocate = tx_as_user("advocate")
    r = advocate.client.post(
        "/reports", data={"title": "x", "description": "y", "geometry": drawn()}
    )
    assert r.status_code == 403


def test_reader_role_cannot_read_reporters(engine: Engine, settings: Settings) -> None:
    from api.db.engine import make_engine

    reader = make_engine(settings.database.read_url)
    try:
        with reader.connect() as conn:
            conn.execute(text("SELECT id, title, public_reporter FROM threat_reports")).all()
            for column in ("reporter_id", "reporter_name"):
                with pytest.raises(ProgrammingError, match="permission denied"):
                    conn.execute(text(f"SELECT {column} FROM threat_reports")).all()
                conn.rollback()
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text("SELECT actor_name FROM threat_report_events")).all()
    finally:
        reader.dispose()


def test_the_form_page_draws_offline(tx_as_user: Any) -> None:
    page = tx_as_user("advocate").get("/reports/new")
    assert page.status_code == 200
    assert "/vendor/leaflet-draw/dist/leaflet.draw.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text.split("<main>")[0]


def test_footprint_uploaded_as_a_file_and_a_pdf_as_evidence(
    tx_as_user: Any, tx_client: Any, db_tx: RolledBack
) -> None:
    from pypdf import PdfReader

    from tests.threats.test_evidence import minimal_pdf

    advocate = tx_as_user("advocate")
    kml = (
        b'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        b"<Document><Placemark><name>track</name><LineString><coordinates>"
        b"76.95,43.10 76.99,43.14 77.02,43.16</coordinates></LineString></Placemark>"
        b"</Document></kml>"
    )
    r = submit(
        advocate,
        geometry="",
        title="Access road to the plateau",
        files=[
            ("footprint", ("road.kml", kml, "application/octet-stream")),
            ("evidence", ("permit.pdf", minimal_pdf(), "application/pdf")),
        ],
    )
    assert r.status_code == 201, r.text
    with db_tx.engine.connect() as conn:
        kind, length = conn.execute(
            text(
                "SELECT GeometryType(geom), ST_Length(geom::geography) FROM threat_reports "
                "WHERE id = :id"
            ),
            {"id": r.json()["id"]},
        ).one()
    assert kind == "LINESTRING" and 8_000 < length < 12_000
    pdf = advocate.get(r.json()["evidence"][0])
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-security-policy"] == "sandbox"
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 1  # served as rewritten
    threat_id = _publish(tx_as_user("analyst"), r.json()["id"])["threat_id"]
    page = tx_client.get(f"/threats/{threat_id}").text
    assert r.json()["evidence"][0] in page and "PDF document" in page
    shown = re.search(r'id="footprint-length">([\d.,]+) km', page)
    assert shown and float(shown.group(1)) == pytest.approx(length / 1000, abs=0.01)


def test_the_same_photo_twice_is_stored_once(
    tx_as_user: Any, db_tx: RolledBack, tx_settings: Settings
) -> None:
    photo = photo_with_gps(size=(64, 64))
    before = stored(db_tx.engine, tx_settings.var_dir)
    r = submit(
        tx_as_user("advocate"),
        files=[
            ("evidence", ("a.jpg", photo, "image/jpeg")),
            ("evidence", ("b.jpg", photo, "image/jpeg")),
        ],
    )
    assert r.status_code == 201 and len(r.json()["evidence"]) == 1
    after = stored(db_tx.engine, tx_settings.var_dir)
    assert after[2] - before[2] == 1 and after[3] - before[3] == 1


def test_reports_through_the_api_with_tokens(
    tx_app: Any, db_tx: RolledBack, people: dict[str, str]
) -> None:
    from fastapi.testclient import TestClient

    from api.auth.testing import make_token

    advocate = {"Authorization": f"Bearer {make_token(db_tx.engine, people['advocate'])}"}
    analyst = {"Authorization": f"Bearer {make_token(db_tx.engine, people['analyst'])}"}
    with TestClient(tx_app) as c:
        from tests.threats.conftest import report_form

        r = c.post(
            "/reports", data=report_form(title="Mine tailings in the gorge"), headers=advocate
        )
        assert r.status_code == 201, r.text
        report_id = r.json()["id"]
        queue = c.get("/reports", params={"f": "json", "state": "submitted"}, headers=analyst)
        assert report_id in [x["id"] for x in queue.json()["reports"]]
        mine = c.get("/reports", params={"f": "json"}, headers=advocate).json()["reports"]
        assert all(x["reporter"].startswith(people["advocate"]) for x in mine)
        for step in ("under_review", "published"):
            r = c.post(f"/reports/{report_id}/state", data={"to_state": step}, headers=analyst)
            assert r.status_code == 200, r.text
        assert c.get("/reports", params={"f": "json"}).status_code == 401


def test_unpublishing_a_threat_hides_its_reports_and_evidence(
    tx_as_user: Any, tx_client: Any, db_tx: RolledBack
) -> None:
    r = submit(
        tx_as_user("advocate"),
        title="Gravel pit to be withdrawn",
        files=[("evidence", ("g.jpg", photo_with_gps(size=(50, 40)), "image/jpeg"))],
    )
    report_id, ev_url = r.json()["id"], r.json()["evidence"][0]
    threat_id = _publish(tx_as_user("analyst"), report_id)["threat_id"]
    assert tx_client.get(ev_url).status_code == 200
    with db_tx.engine.begin() as conn:
        conn.execute(text("UPDATE threats SET published = false WHERE id = :id"), {"id": threat_id})
    assert tx_client.get(ev_url).status_code == 404
    assert tx_client.get(f"/reports/{report_id}").status_code == 404
    assert tx_client.get(f"/threats/{threat_id}").status_code == 404
    assert tx_as_user("analyst").get(ev_url).status_code == 200

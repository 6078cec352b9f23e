"""The report form: coordinates typed or pasted, every field's error at once, the licence."""

from __future__ import annotations

from typing import Any

import pytest

from api.settings import Settings
from geo.coordinates import parse_coordinates
from geo.errors import InvalidInput
from tests.rollback import RolledBack
from tests.threats.conftest import stored

HTML = {"Accept": "text/html"}


@pytest.mark.parametrize(
    ("text", "lon", "lat"),
    [
        ("43.2567, 76.9286", 76.9286, 43.2567),
        ("43,2567; 76,9286", 76.9286, 43.2567),
        ("43.2567N 76.9286E", 76.9286, 43.2567),
        ("76.9286E 43.2567N", 76.9286, 43.2567),
        ("43°15'24\"N 76°55'43\"E", 76.928611, 43.256667),
        ("N43°15′24″ E76°55′43″", 76.928611, 43.256667),
        ("43° 15.4' N, 76° 55.7' E", 76.928333, 43.256667),
        ("-33.9, 151.2", 151.2, -33.9),
        # UTM zone 43, band T (north): checked against pyproj, not against a hand formula
        ("43T 581234 4789012", 76.000690, 43.249536),
        ("UTM 43N 581234 4789012", 76.000690, 43.249536),
    ],
)
def test_coordinates_people_write(text: str, lon: float, lat: float) -> None:
    got = parse_coordinates(text)
    assert got == pytest.approx((lon, lat), abs=1e-5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no coordinates"),
        ("Almaty", "cannot read"),
        ("43.2", "give a latitude and a longitude"),
        ("91, 10", "latitude 91"),
        ("43, 190", "longitude 190"),
        ("43°75'N 76E", "under 60"),
        ("43N 76N", "same axis"),
        ("61T 581234 4789012", "zone 61"),
        ("43T 50 4789012", "easting"),
    ],
)
def test_coordinates_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_coordinates(text)


def test_coordinates_endpoint(tx_login_as: Any) -> None:
    c = tx_login_as("anonymous")
    r = c.get("/reports/coordinates", params={"q": "43°15'24\"N 76°55'43\"E"})
    assert r.status_code == 200
    assert r.json() == {
        "lon": pytest.approx(76.928611, abs=1e-6),
        "lat": pytest.approx(43.256667, abs=1e-6),
    }
    bad = c.get("/reports/coordinates", params={"q": "somewhere"})
    assert bad.status_code == 400 and "cannot read" in bad.json()["description"]


def test_form_shows_coordinates_field_and_licence(tx_login_as: Any) -> None:
    advocate = tx_login_as("advocate")
    r = advocate.get("/reports/new", headers={**HTML, "Accept-Language": "ru"})
    assert r.status_code == 200
    assert 'id="coordinates"' in r.text and 'id="error-coordinates"' in r.text
    assert "CC BY 4.0" in r.text and "по лицензии CC BY 4.0" in r.text


def test_every_field_error_at_once_and_nothing_stored(
    tx_login_as: Any, db_tx: RolledBack, tx_settings: Settings
) -> None:
    advocate = tx_login_as("advocate")
    before = stored(db_tx.engine, tx_settings.var_dir)
    r = advocate.post(
        "/reports",
        data={
            "title": " ",
            "description": "",
            "kind": "road",
            "threat_status": "proposed",
            "status_on": "2019-13-45",
            "coordinates": "somewhere in the hills",
        },
        headers={"X-CSRF-Token": advocate.csrf, "Accept-Language": "kk"},
    )
    assert r.status_code == 400
    body = r.json()
    fields = body["details"]["fields"]
    assert set(fields) >= {"title", "description", "status_on", "coordinates"}
    # the description (for API clients) stays English; the form shows the localised messages
    assert "title is empty" in body["description"] and "атауы" not in body["description"]
    assert "geometry" not in fields  # typed coordinates count as a place, though unreadable
    assert "атауы бос" in body["details"]["messages"]["title"]
    assert stored(db_tx.engine, tx_settings.var_dir) == before


def test_a_report_placed_by_typed_coordinates(tx_login_as: Any, db_tx: RolledBack) -> None:
    advocate = tx_login_as("advocate")
    r = advocate.post(
        "/reports",
        data={
            "title": "Quarry by the Kaskelen road",
            "description": "A new quarry was opened beside the road.",
            "kind": "mining",
            "threat_status": "active",
            "coordinates": "43°08'10\"N 76°57'30\"E",
        },
        headers={"X-CSRF-Token": advocate.csrf},
    )
    assert r.status_code == 201, r.text
    detail = advocate.get(r.json()["url"], headers=HTML)
    assert '"Point"' in detail.text and "76.958333" in detail.text


def test_coordinates_outside_the_region_are_refused_beside_the_field(tx_login_as: Any) -> None:
    advocate = tx_login_as("advocate")
    r = advocate.post(
        "/reports",
        data={
            "title": "Far away",
            "description": "Not in Central Asia.",
            "kind": "road",
            "threat_status": "proposed",
            "coordinates": "48.85, 2.35",
        },
        headers={"X-CSRF-Token": advocate.csrf},
    )
    assert r.status_code == 400
    assert "region" in r.json()["details"]["fields"]["coordinates"]

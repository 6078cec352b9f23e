"""The authorisation matrix: every role × every write endpoint, with the expected status.

Grantees change only their own grants' sites; administrators any; everyone else is refused
(403), and the anonymous public must log in first (401). Nothing is stored when refused.
Each case runs in its own rolled-back transaction.
"""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import select, text

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box

from api.db.engine import transaction
from api.db.models import FieldSite, Grant

GRANT, OTHER = "SOS-CA-EX-05", "SOS-CA-EX-06"

ROLES = {
    "anonymous": ("anonymous", ()),
    "public": ("public", ()),
    "advocate": ("advocate", ()),
    "analyst": ("analyst", ()),
    "grantee_other_grant": ("grantee", (OTHER,)),
    "grantee_own_grant": ("grantee", (GRANT,)),
    "admin": ("admin", ()),
}
ALLOWED = {"grantee_own_grant", "admin"}
EXPECTED_OK = {"dry_run": 200, "commit": 201, "replace": 200, "delete": 204, "history": 200}


def _geojson(lon: float, lat: float) -> bytes:
    ring = [[lon, lat], [lon + 0.02, lat], [lon + 0.02, lat + 0.02], [lon, lat]]
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": f"m-{random.getrandbits(32):08x}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ],
        }
    ).encode()


@pytest.fixture
def site_id(db_tx) -> int:  # type: ignore[no-untyped-def]
    lon = 66 + random.randrange(8000) / 1000
    with transaction(db_tx.engine, actor="tests") as s:
        gid = s.scalar(select(Grant.id).where(Grant.code == GRANT))
        site = FieldSite(
            grant_id=gid, name=f"matrix {random.getrandbits(32):08x}", uploaded_by="tests",
            source="tests", licence="tests", method="example",
            geom=from_shape(MultiPolygon([box(lon, 47, lon + 0.02, 47.02)]), srid=4326),
        )  # fmt: skip
        s.add(site)
        s.flush()
        return site.id


def _call(client, endpoint: str, sid: int):  # type: ignore[no-untyped-def]
    headers = {"X-CSRF-Token": client.csrf} if client.csrf else {}
    base = f"/api/grants/{GRANT}/sites"
    lon = 66 + random.randrange(8000) / 1000
    files = {"file": ("m.geojson", _geojson(lon, 48.0))}
    if endpoint == "dry_run":
        return client.post(base, params={"dry_run": "true"}, files=files, headers=headers)
    if endpoint == "commit":
        return client.post(base, params={"dry_run": "false"}, files=files, headers=headers)
    if endpoint == "replace":
        return client.put(f"{base}/{sid}", files=files, headers=headers)
    if endpoint == "delete":
        return client.delete(f"{base}/{sid}", headers=headers)
    if endpoint == "history":
        return client.get(f"{base}/{sid}/versions")
    raise ValueError(endpoint)


def _state(engine, sid: int):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*), (SELECT geom_hash FROM field_sites WHERE id = :i) FROM field_sites"
            ),
            {"i": sid},
        ).one()


@pytest.mark.parametrize("endpoint", list(EXPECTED_OK))
@pytest.mark.parametrize("role", list(ROLES))
def test_site_write_matrix(role, endpoint, tx_login_as, db_tx, site_id) -> None:
    name, grants = ROLES[role]
    client = tx_login_as(name, grants=grants)
    before = _state(db_tx.engine, site_id)
    r = _call(client, endpoint, site_id)
    if role in ALLOWED or (endpoint == "history" and role == "analyst"):
        expected = EXPECTED_OK[endpoint]
    elif role == "anonymous":
        expected = 401
    else:
        expected = 403
    assert r.status_code == expected, r.text
    if expected >= 400:
        assert _state(db_tx.engine, site_id) == before
        assert r.json()["code"] in {"unauthenticated", "forbidden"}


@pytest.mark.parametrize("role", list(ROLES))
def test_token_creation_matrix(role, tx_login_as) -> None:
    name, grants = ROLES[role]
    client = tx_login_as(name, grants=grants)
    r = client.post(
        "/api/account/tokens", json={"name": "m"}, headers={"X-CSRF-Token": client.csrf}
    )
    assert r.status_code == (401 if role == "anonymous" else 201)


def test_bearer_tokens_follow_the_same_rules(tx_login_as, tx_client, db_tx, site_id) -> None:
    from api.auth.testing import make_token

    own = tx_login_as("grantee", grants=[GRANT])
    other = tx_login_as("grantee", grants=[OTHER])
    for user, expected in ((other.username, 403), (own.username, 204)):
        token = make_token(db_tx.engine, user)
        r = tx_client.delete(
            f"/api/grants/{GRANT}/sites/{site_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == expected

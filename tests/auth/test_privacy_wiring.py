"""The privacy rule of the published layers follows the logged-in roles (session or token)."""

from __future__ import annotations

import pytest

from api.auth.testing import make_token, make_user


def _props(client, **kw):  # type: ignore[no-untyped-def]
    r = client.get("/collections/field_sites/items", params={"limit": 5}, **kw)
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert feats
    return [f["properties"] for f in feats]


@pytest.mark.parametrize(
    ("role", "sees"), [("analyst", True), ("admin", True), ("grantee", False), ("advocate", False)]
)
def test_private_columns_follow_roles(role, sees, tx_login_as) -> None:
    c = tx_login_as(role)
    assert all(("uploaded_by" in p) is sees for p in _props(c))


def test_anonymous_and_token_callers(tx_client, db_tx) -> None:
    assert all("uploaded_by" not in p for p in _props(tx_client))
    token = make_token(db_tx.engine, make_user(db_tx.engine, roles=["analyst"]))
    props = _props(tx_client, headers={"Authorization": f"Bearer {token}"})
    assert all("uploaded_by" in p for p in props)

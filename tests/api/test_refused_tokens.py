"""Reads with a bad token are refusals too (api.refusals): each costs a lookup of the accounts,
so a client that floods any read with unknown tokens has its 401s held like refused writes,
while the same address without a token, and another client's bad token, are answered at once."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.testing import make_token, make_user
from api.settings import RateLimitSettings, Settings
from tests.rollback import RolledBack, bound_app

ITEMS = "/collections/places/items?limit=1"
HOLD = 0.6


def _get(client: TestClient, token: str | None = None) -> tuple[int, bool, float]:
    """(status, whether the answer was held: it closes the connection, seconds taken)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    t0 = time.perf_counter()
    r = client.get(ITEMS, headers=headers)
    return r.status_code, r.headers.get("connection") == "close", time.perf_counter() - t0


def test_a_flood_of_bad_tokens_on_a_read_is_held(
    settings: Settings, db_tx: RolledBack, tmp_path: Path
) -> None:
    own = settings.model_copy(deep=True)
    own.ratelimit = RateLimitSettings(
        refusals_free=2, refusal_hold_seconds=HOLD, refusal_hold_max_seconds=HOLD
    )
    own.database.listen = False  # the app runs in the test's transaction: nothing commits
    own.var_dir = tmp_path / "var"
    good = make_token(db_tx.engine, make_user(db_tx.engine, roles=["analyst"]))
    with (
        bound_app(create_app(own), db_tx) as app,
        TestClient(app, client=("203.0.113.41", 40000)) as attacker,
        TestClient(app, client=("198.51.100.41", 40000)) as other,
    ):
        free = [_get(attacker, f"unknown-{i}") for i in range(2)]
        assert [(status, held) for status, held, _ in free] == [(401, False)] * 2, free
        status, held, took = _get(attacker, "unknown-3")
        assert status == 401 and held and took >= HOLD * 0.9, (status, held, took)
        # the same address without a token, or with a good one, is served, not held
        for token in (None, good):
            assert _get(attacker, token)[:2] == (200, False), token
        # another client's bad token is its own first refusal
        assert _get(other, "unknown-4")[:2] == (401, False)

"""No database on the hot path: cached tiles, static files, 304s and logins resolved from
memory; versions and logins kept current by PostgreSQL notifications."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from api.auth import accounts
from api.auth.testing import login, make_token, make_user
from api.db.engine import transaction
from api.ogc import IMMUTABLE, version_token
from api.versions import CHANNEL, DataVersions
from layers.tiles import RASTER_RENDERING

TILE = "/collections/protected_areas/tiles/WebMercatorQuad/4/5/11"
ITEMS = "/collections/protected_areas/items?limit=2"
#: A write that changes nothing but the layer's data version.
_TOUCH = "UPDATE protected_areas SET name = name WHERE id = (SELECT min(id) FROM protected_areas)"


def _raw(engine: Engine) -> psycopg.Connection:
    """A connection outside SQLAlchemy, as another process would write."""
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    return psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def _until(check: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_cached_tile_static_file_and_304_send_no_statement(served: TestClient, statements) -> None:  # type: ignore[no-untyped-def]
    first = served.get(TILE)
    assert first.status_code == 200 and first.content
    items = served.get(ITEMS)
    assert items.status_code == 200
    statements.reset()
    again = served.get(TILE)
    assert again.status_code == 200 and again.content == first.content
    assert served.get(TILE, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert served.get(ITEMS, headers={"If-None-Match": items.headers["etag"]}).status_code == 304
    assert served.get("/static/irbis.css").status_code == 200
    assert statements.seen == []


@pytest.mark.usefixtures("cleaned_up")  # its user, session and token are committed
def test_logged_in_requests_resolve_the_login_once(app, served, statements, engine) -> None:  # type: ignore[no-untyped-def]
    name = make_user(engine, roles=["grantee"])
    login(served, name)
    token = make_token(engine, name)
    bearer = {"Authorization": f"Bearer {token}"}
    assert served.get(TILE).status_code == 200  # the session is looked up (and cached) here
    assert served.get(TILE, headers=bearer).status_code == 200
    statements.reset()
    for _ in range(3):
        assert served.get(TILE).status_code == 200
        assert served.get(TILE, headers=bearer).status_code == 200
        assert served.get("/static/irbis.css").status_code == 200
    assert statements.seen == []
    # an anonymous feature page asks the database for its rows, never for a version or a login
    anon = TestClient(app)
    statements.reset()
    assert anon.get(ITEMS).status_code == 200
    assert statements.seen and not any(
        "layer_versions" in s or "sessions" in s or "api_tokens" in s for s in statements.seen
    )


@pytest.mark.usefixtures("cleaned_up")  # the app rereads the versions after a committed write
def test_a_write_in_this_process_is_seen_by_the_next_request(served, engine) -> None:  # type: ignore[no-untyped-def]
    before = served.get(TILE).headers["etag"]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE protected_areas SET name = name WHERE id = (SELECT min(id) FROM protected_areas)"
            )
        )
    after = served.get(TILE)
    assert after.headers["etag"] != before


def test_a_reload_during_a_commit_does_not_hide_it(app, served, engine) -> None:  # type: ignore[no-untyped-def]
    """SQLAlchemy's commit event comes before the database commits: a reload by another thread
    at that moment (the grants warmer polls the versions) reads the old versions. The next
    request must still see the write, without waiting for its notification."""
    served.get(TILE)
    versions = app.state.versions
    assert _until(versions.fresh)  # listening, and answering from memory
    known = versions.current(["protected_areas"])["protected_areas"]

    def reload_meanwhile(conn: Any) -> None:
        if conn.engine is engine:
            versions.reload()

    # on the class, after api.versions's own listener (which counts the commit)
    event.listen(Engine, "commit", reload_meanwhile)
    try:
        with engine.begin() as conn:
            conn.execute(text(_TOUCH))
    finally:
        event.remove(Engine, "commit", reload_meanwhile)
    assert versions.current(["protected_areas"])["protected_areas"] > known


@pytest.mark.usefixtures("cleaned_up")  # the app hears of it by a notification, sent on commit
def test_a_write_from_elsewhere_arrives_by_notification(app, served, engine) -> None:  # type: ignore[no-untyped-def]
    served.get(TILE)
    known = app.state.versions.current(["protected_areas"])["protected_areas"]
    with _raw(engine) as conn:
        conn.execute(
            "UPDATE protected_areas SET name = name WHERE id = (SELECT min(id) FROM protected_areas)"
        )
    versions = app.state.versions
    assert _until(lambda: versions.current(["protected_areas"])["protected_areas"] > known)
    # once the listener has handled it, answered from memory again
    assert _until(versions.fresh)
    assert versions.current(["protected_areas"])["protected_areas"] > known


@pytest.mark.usefixtures("cleaned_up")  # the write is committed by another connection
def test_a_notification_still_in_the_socket_is_not_answered_from_memory(engine) -> None:  # type: ignore[no-untyped-def]
    """Another process's write is announced on the listener's socket; until the listener has
    handled it, the versions are read from the database, whoever holds the interpreter."""
    versions = DataVersions(engine)
    with _raw(engine) as listening, _raw(engine) as writer:
        listening.execute(f"LISTEN {CHANNEL}")
        versions.watch(listening.fileno())
        versions.set_live(True)
        known = versions.current(["protected_areas"])["protected_areas"]
        assert versions.fresh()
        writer.execute(_TOUCH)
        assert _until(versions.unread)  # in the socket, and nobody reads it
        assert not versions.fresh()
        assert versions.current(["protected_areas"])["protected_areas"] > known
        versions.watch(None)


@contextmanager
def _listener_held(app: Any) -> Iterator[None]:
    """The app's listener stops in the middle of handling its next notification."""
    listener = app.state.change_listener
    go_on = threading.Event()
    handle = listener._handle

    def held(payload: str) -> None:
        go_on.wait(10)
        handle(payload)

    listener._handle = held
    try:
        yield
    finally:
        go_on.set()
        del listener._handle


@pytest.mark.usefixtures("cleaned_up")  # the app hears of it by a notification, sent on commit
def test_a_notification_being_handled_is_not_answered_from_memory(app, served, engine) -> None:  # type: ignore[no-untyped-def]
    served.get(TILE)
    versions = app.state.versions
    assert _until(versions.fresh)
    known = versions.current(["protected_areas"])["protected_areas"]
    etag = served.get(TILE).headers["etag"]
    with _listener_held(app), _raw(engine) as conn:
        conn.execute(_TOUCH)
        assert _until(versions.unread)
        # the listener has the notification and has not yet handled it: the next tile rereads
        assert served.get(TILE).headers["etag"] != etag
        assert versions.current(["protected_areas"])["protected_areas"] > known
    assert _until(lambda: not versions.unread())


@pytest.mark.usefixtures("cleaned_up")  # the app hears of it by a notification, sent on commit
def test_a_cached_login_is_not_used_while_an_auth_notification_is_unhandled(  # type: ignore[no-untyped-def]
    app, served, engine
) -> None:
    name = make_user(engine, roles=["public"])
    bearer = {"Authorization": f"Bearer {make_token(engine, name)}"}
    assert "analyst" not in served.get("/api/account", headers=bearer).json()["roles"]
    assert "analyst" not in served.get("/api/account", headers=bearer).json()["roles"]  # cached
    with _listener_held(app), _raw(engine) as conn:
        conn.execute(
            "INSERT INTO user_roles (user_id, role) SELECT id, 'analyst' FROM users WHERE username = %s",
            (name,),
        )
        assert _until(app.state.versions.unread)
        assert "analyst" in served.get("/api/account", headers=bearer).json()["roles"]


@pytest.mark.usefixtures("cleaned_up")  # the app hears of it by a notification, sent on commit
def test_revoking_a_token_takes_effect_at_once(served, engine) -> None:  # type: ignore[no-untyped-def]
    name = make_user(engine, roles=["analyst"])
    token = make_token(engine, name)
    bearer = {"Authorization": f"Bearer {token}"}
    assert served.get("/api/account", headers=bearer).status_code == 200
    assert served.get("/api/account", headers=bearer).status_code == 200  # now cached
    with transaction(engine, actor=name) as session:
        user = accounts.get_user(session, name)
        for t in accounts.list_api_tokens(session, user.id):
            accounts.revoke_api_token(session, user.id, t.id)
    assert served.get("/api/account", headers=bearer).status_code == 401


@pytest.mark.usefixtures("cleaned_up")  # the app hears of it by a notification, sent on commit
def test_role_change_from_another_process_reaches_the_cache(served, engine) -> None:  # type: ignore[no-untyped-def]
    name = make_user(engine, roles=["public"])
    bearer = {"Authorization": f"Bearer {make_token(engine, name)}"}
    assert "analyst" not in served.get("/api/account", headers=bearer).json()["roles"]
    with _raw(engine) as conn:
        conn.execute(
            "INSERT INTO user_roles (user_id, role) SELECT id, 'analyst' FROM users WHERE username = %s",
            (name,),
        )
    assert _until(lambda: "analyst" in served.get("/api/account", headers=bearer).json()["roles"])


@pytest.mark.usefixtures("cleaned_up")  # its user and session are committed
def test_logout_ends_the_cached_session(served, engine) -> None:  # type: ignore[no-untyped-def]
    name = make_user(engine, roles=["grantee"])
    csrf = login(served, name)
    assert served.get("/api/account").status_code == 200
    cookie = served.cookies.get("irbis_session")
    r = served.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert r.status_code in (200, 303)
    served.cookies.set("irbis_session", cookie)  # a copy of the cookie kept from before
    assert served.get("/api/account").status_code == 401


RASTER = "/rasters/relief/tiles/WebMercatorQuad/8/94/182.png?style=shaded"


def test_cached_raster_tile_sends_no_statement_and_versioned_is_immutable(
    served: TestClient,
    statements,  # type: ignore[no-untyped-def]
    engine: Engine,
) -> None:
    first = served.get(RASTER)
    assert first.status_code == 200 and first.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "immutable" not in first.headers["cache-control"]
    statements.reset()
    again = served.get(RASTER)
    assert again.content == first.content
    assert served.get(RASTER, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert statements.seen == []
    # the token of the rasters' current version makes the URL immutable; an old one does not
    with engine.connect() as conn:
        version = conn.execute(
            text("SELECT version FROM layer_versions WHERE table_name = 'rasters'")
        ).scalar_one()
    token = version_token(f"rasters:{version};drawn:{RASTER_RENDERING}")
    current = served.get(f"{RASTER}&v={token}")
    assert current.headers["cache-control"] == IMMUTABLE
    stale = served.get(f"{RASTER}&v=0000000000000000")
    assert "immutable" not in stale.headers["cache-control"]

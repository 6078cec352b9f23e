"""Request bodies and slow clients: limits per route before reading, CSRF without buffering,
and timeouts on headers and bodies, against the real app and a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import bodylimits
from api.auth.testing import csrf_from, login, make_user
from api.settings import ServerSettings, Settings
from tests.serving import serving

pytestmark = pytest.mark.cleaned_up  # its server's app commits

TIMEOUT = 1.5


@pytest.fixture(scope="module")
def raw_server(settings: Settings, demo: dict[str, int]) -> Iterator[tuple[str, int]]:
    """The real app behind ``irbis serve``'s uvicorn set-up, with short client timeouts."""
    from api.app import create_app

    server_settings = ServerSettings(header_timeout=TIMEOUT, body_timeout=TIMEOUT)
    app = create_app(settings.model_copy(update={"server": server_settings}))
    with serving(app, server_settings) as addr:
        yield addr


def _connect(addr: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(addr, timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_a_declared_length_over_the_limit_is_refused_before_the_body(raw_server) -> None:
    with _connect(raw_server) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        response = _read_response(sock)
        elapsed = time.monotonic() - start
    # answered at once (no byte of the body was sent) and the connection closed
    assert _status(response) == 413 and elapsed < TIMEOUT, (response[:300], elapsed)
    assert b"16 kB" in response


def test_a_chunked_body_is_counted_and_cut_at_the_limit(raw_server) -> None:
    with _connect(raw_server) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        try:
            for _ in range(64):  # up to 256 kB, far more than the 16 kB of a login
                sock.sendall(b"1000\r\n" + b"a" * 4096 + b"\r\n")
                sent += 4096
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = _read_response(sock)
    assert _status(response) == 413, response[:300]
    assert b"too_large" in response


def test_anonymous_body_to_a_login_route_is_refused_before_reading(raw_server) -> None:
    with _connect(raw_server) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=xyz\r\n"
            b"Content-Length: 40000000\r\n\r\n"
        )
        response = _read_response(sock)
        elapsed = time.monotonic() - start
    assert _status(response) == 401 and elapsed < TIMEOUT, (response[:300], elapsed)


def test_a_half_sent_body_is_cut_after_the_body_timeout(raw_server) -> None:
    with _connect(raw_server) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Cookie: irbis_csrf=x\r\n"
            b"Content-Length: 1000\r\n\r\nusername=a&password=" + b"b" * 100
        )
        response = _read_response(sock, timeout=15)
        elapsed = time.monotonic() - start
    assert _status(response) == 408, response[:300]
    assert TIMEOUT * 0.9 < elapsed < TIMEOUT + 5, elapsed
    assert b"did not arrive within" in response


def test_headers_sent_byte_by_byte_are_cut_after_the_header_timeout(raw_server) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * 200 + b"\r\n\r\n"
    with _connect(raw_server) as sock:
        start = time.monotonic()
        closed_after = None
        sock.settimeout(0.25)
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - start
                    break
            except TimeoutError:
                continue  # still open, still sending
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
    assert closed_after is not None, "the slow client was never cut off"
    assert TIMEOUT * 0.9 < closed_after < TIMEOUT + 3, closed_after


def test_a_prompt_client_on_the_same_server_is_served(raw_server) -> None:
    with _connect(raw_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = _read_response(sock)
    assert _status(response) == 200


def test_a_get_with_a_body_is_413(client) -> None:
    r = client.request("GET", "/health", content=b"x" * 10)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert client.get("/health").status_code == 200


def test_every_write_route_has_its_own_body_rule(app, settings) -> None:
    """A new write route must be given a limit (and say whether it needs a login)."""
    from fastapi.routing import APIRoute

    def routes(items: list[Any]) -> Iterator[APIRoute]:
        for r in items:
            if isinstance(r, APIRoute):
                yield r
            elif hasattr(r, "original_router"):
                yield from routes(r.original_router.routes)

    missing = []
    for route in routes(app.router.routes):
        for method in route.methods - {"GET", "HEAD"}:
            sample = route.path.replace("{", "").replace("}", "")
            rule = bodylimits.rule_for(settings, method, sample)
            if rule is bodylimits.OTHER_WRITE:
                missing.append(f"{method} {route.path}")
    assert not missing, missing
    from api.routers.reports import MAX_FOOTPRINT_BYTES

    # a report: all its evidence, a footprint file and the form around them
    assert bodylimits.REPORT_FOOTPRINT_BYTES == MAX_FOOTPRINT_BYTES
    assert bodylimits.rule_for(settings, "POST", "/reports").limit == (
        settings.uploads.max_bytes + MAX_FOOTPRINT_BYTES + bodylimits.UPLOAD_OVERHEAD
    )
    assert bodylimits.rule_for(settings, "POST", "/login").limit == 16 * 1024


def test_anonymous_writes_are_refused_before_the_body(client) -> None:
    r = client.post("/api/account/tokens", json={"name": "x"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = client.post("/account/tokens", data={"name": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/tokens"


def test_a_body_from_a_caller_without_the_role_is_403_before_reading(tx_login_as) -> None:
    public = tx_login_as("public")
    r = public.post(
        "/reports",
        headers={"X-CSRF-Token": public.csrf},
        files={"evidence": ("big.jpg", b"\xff" * 200_000, "image/jpeg")},
    )
    assert r.status_code == 403 and "only advocates" in r.json()["description"]
    r = public.post("/analyses", headers={"X-CSRF-Token": public.csrf}, json={"kind": "gaps"})
    assert r.status_code == 403


@contextmanager
def _fresh(app) -> Iterator[tuple[TestClient, str]]:  # type: ignore[no-untyped-def]
    """A client that is not logged in, with the login form's CSRF token."""
    with TestClient(app) as c:
        yield c, csrf_from(c.get("/login").text)


def test_a_multipart_form_with_the_csrf_field_first_is_accepted(tx_app, db_tx) -> None:
    name = make_user(db_tx.engine)
    with _fresh(tx_app) as (c, token):
        r = c.post(
            "/login",
            data={
                "csrf_token": token,
                "username": name,
                "password": "correct horse battery staple",
            },
            files={"note": ("note.txt", b"n" * 2000, "text/plain")},
            follow_redirects=False,
        )
    assert r.status_code == 303, r.text


def test_a_multipart_form_with_the_csrf_field_later_is_refused(tx_app, db_tx) -> None:
    name = make_user(db_tx.engine)
    with _fresh(tx_app) as (c, token):
        r = c.post(
            "/login",
            data={
                "username": name,
                "password": "correct horse battery staple",
                "csrf_token": token,
            },
            files={"note": ("note.txt", b"n", "text/plain")},
            follow_redirects=False,
        )
        assert r.status_code == 403
        # a wrong token first is refused too
        r = c.post(
            "/login",
            data={"csrf_token": "0" * 64, "username": name, "password": "x"},
            files={"note": ("note.txt", b"n", "text/plain")},
            follow_redirects=False,
        )
        assert r.status_code == 403


def test_a_multipart_upload_with_the_csrf_field_first_streams_through(
    tx_login_as, db_tx, tmp_path
) -> None:
    """The rest of the body after the CSRF field reaches the route intact."""
    from tests.uploads.conftest import GRANT, site_gdf, write

    grantee = tx_login_as("grantee", grants=[GRANT])
    path = write(site_gdf(1), "geojson", tmp_path)
    payload = path.read_bytes()
    # log the same user in through the form to have only a cookie (no header token)
    c = TestClient(grantee.app)
    with c:
        login(c, grantee.username)
        token = csrf_from(c.get("/account/tokens").text)
        r = c.post(
            f"/api/grants/{GRANT}/sites?dry_run=true",
            data={"csrf_token": token},
            files={"file": ("sites.geojson", payload, "application/geo+json")},
        )
        assert r.status_code == 200, r.text
        assert [f["action"] for f in r.json()["features"]] == ["insert"]
        r = c.post(
            f"/api/grants/{GRANT}/sites?dry_run=true",
            files={"file": ("sites.geojson", payload, "application/geo+json")},
        )
        assert r.status_code == 403

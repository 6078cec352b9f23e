"""Static and vendor files answered in front of the middleware stack (api.fastpath
StaticFilesMiddleware): the same response as the full stack, header by header, only for
anonymous requests for files the mounts serve."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

#: An invalid session cookie: the caller is anonymous, but the request takes the full stack.
FULL_STACK = {"Cookie": "irbis_session=not-a-session"}
#: Headers every server adds on its own (uvicorn, not the application).
SERVER_HEADERS = {"date", "server"}
FILES = (
    "/static/irbis.css",
    "/static/irbis.js",
    "/static/favicon.svg",
    "/vendor/leaflet/dist/leaflet.js",
)


def _send(
    client: TestClient, method: str, url: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names, less the server's) and the body as sent."""
    with client.stream(method, url, headers=headers) as r:
        raw = b"".join(r.iter_raw())
        kept = {k.lower(): v for k, v in r.headers.items() if k.lower() not in SERVER_HEADERS}
        return r.status_code, kept, raw


def _served(app: Any) -> int:
    return int(app.state.static_files.served)


def test_files_answered_in_front_as_by_the_full_stack(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    for url in FILES:
        for method in ("GET", "HEAD"):
            for encoding in ("identity", "gzip"):
                before = _served(app)
                fast = _send(client, method, url, **{"Accept-Encoding": encoding})
                assert _served(app) == before + 1, url
                full = _send(client, method, url, **{"Accept-Encoding": encoding}, **FULL_STACK)
                assert _served(app) == before + 1, url  # the cookie took it to the stack
                assert fast == full, (url, method, encoding)
                assert fast[0] == 200 and (fast[2] != b"") == (method == "GET")
                assert "x-content-type-options" in fast[1] and "content-security-policy" in fast[1]
        etag = fast[1]["etag"]
        before = _served(app)
        fast304 = _send(client, "GET", url, **{"If-None-Match": etag})
        full304 = _send(client, "GET", url, **{"If-None-Match": etag}, **FULL_STACK)
        assert _served(app) == before + 1
        assert fast304 == full304 and fast304[0] == 304


def test_what_the_fast_path_leaves_to_the_stack(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    before = _served(app)
    left = (
        ("GET", "/static/no-such-file.css", {}),  # missing: the stack's 404
        ("GET", "/vendor/leaflet/src/Leaflet.js", {}),  # not served from node_modules
        ("GET", "/static/irbis.css?lang=ru", {}),  # a query (?lang= sets a cookie)
        ("GET", "/static/irbis.css", {"Authorization": "Bearer not-a-token"}),  # a token
        ("GET", "/static/irbis.css", {"Host": "evil.example"}),  # a host the app refuses
        ("GET", "/static/", {}),  # a folder
        ("GET", "/static/../api/app.py", {}),
        ("POST", "/static/irbis.css", {}),
    )
    statuses = [client.request(method, url, headers=h).status_code for method, url, h in left]
    assert _served(app) == before
    assert statuses[0] == statuses[1] == 404
    assert statuses[2] == 200 and statuses[4] == 400
    assert all(s >= 400 for s in statuses[5:])

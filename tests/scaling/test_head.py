"""HEAD answers like GET without a body (api.head): tiles (the full stack and the cached fast
path), pages, JSON, static and vendor files; through the ASGI app and over a real socket."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlparse

from fastapi.testclient import TestClient

LAYER = "protected_areas"
TILE = f"/collections/{LAYER}/tiles/WebMercatorQuad/4/5/11"
#: An invalid session cookie: the caller is anonymous, but the request takes the full stack.
FULL_STACK = {"Cookie": "irbis_session=not-a-session"}
#: Headers that differ between any two responses (the server's clock, a page's nonce).
PER_RESPONSE = {"date", "server", "content-security-policy", "set-cookie"}


def _both(client: TestClient, url: str, **headers: str) -> tuple[Any, Any]:
    get = client.get(url, headers=headers)
    head = client.head(url, headers=headers)
    return get, head


def _same_headers(get: Any, head: Any) -> None:
    g = {k.lower(): v for k, v in get.headers.items() if k.lower() not in PER_RESPONSE}
    h = {k.lower(): v for k, v in head.headers.items() if k.lower() not in PER_RESPONSE}
    assert h == g


def test_head_on_tiles_answers_as_get_without_a_body(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    for extra in (FULL_STACK, {}):  # the full stack, then the cached tile in front of it
        for encoding in ("identity", "gzip"):
            get, head = _both(client, TILE, **{"Accept-Encoding": encoding}, **extra)
            assert get.status_code == head.status_code == 200, head.text
            assert get.content and head.content == b""
            _same_headers(get, head)
            assert int(head.headers["content-length"]) == len(get.content) or encoding == "gzip"
    served = app.state.cached_tiles.served
    head = client.head(TILE)
    assert app.state.cached_tiles.served == served + 1  # answered by the fast path
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"]
    not_modified = client.head(TILE, headers={"If-None-Match": head.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    outside = f"/collections/{LAYER}/tiles/WebMercatorQuad/4/99/99"  # no such tile at z4
    assert client.head(outside).status_code == client.get(outside).status_code == 404


def test_head_on_pages_json_and_files(client: TestClient) -> None:
    for url in (
        "/",
        "/collections",
        "/collections?f=json",
        f"/collections/{LAYER}/tiles/WebMercatorQuad/tilejson.json",
        "/health",
        "/static/irbis.css",
        "/vendor/leaflet/dist/leaflet.js",
    ):
        get, head = _both(client, url)
        assert get.status_code == head.status_code == 200, url
        assert get.content and head.content == b"", url
        _same_headers(get, head)


def test_head_where_get_is_refused_is_refused_the_same(client: TestClient) -> None:
    for url in ("/collections/no_such_layer", "/vendor/leaflet/src/Leaflet.js", "/no/such/page"):
        get, head = _both(client, url)
        assert get.status_code == head.status_code == 404, url
        assert head.content == b""
    post_only = client.head("/auth/logout")
    assert post_only.status_code == client.get("/auth/logout").status_code
    assert post_only.status_code in (404, 405) and post_only.content == b""


def test_head_over_a_socket_has_the_get_length(live_server: str) -> None:
    url = urlparse(live_server)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request("GET", TILE, headers={"Accept-Encoding": "identity"})
        get = conn.getresponse()
        body = get.read()
        conn.request("HEAD", TILE, headers={"Accept-Encoding": "identity"})
        head = conn.getresponse()
        assert head.read() == b""
        assert get.status == head.status == 200
        assert int(head.getheader("content-length") or -1) == len(body) > 0
        assert head.getheader("etag") == get.getheader("etag")
        # the connection is still in step: a GET after the HEAD reads its own answer
        conn.request("GET", TILE, headers={"Accept-Encoding": "identity"})
        again = conn.getresponse()
        assert again.status == 200 and again.read() == body
    finally:
        conn.close()

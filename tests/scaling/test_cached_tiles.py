"""Cached public tiles answered in front of the middleware stack (api.fastpath): the same
response as the full stack, only for anonymous callers, and never stale."""

from __future__ import annotations

import gzip
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.ogc import IMMUTABLE
from api.security_headers import HEADERS, policy

LAYER = "protected_areas"
TILE = f"/collections/{LAYER}/tiles/WebMercatorQuad/4/5/11"
#: An invalid session cookie: the caller is anonymous, but the request takes the full stack.
FULL_STACK = {"Cookie": "irbis_session=not-a-session"}
#: Headers every server adds on its own (uvicorn, not the application).
SERVER_HEADERS = {"date", "server"}


def _get(client: TestClient, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and the body as sent (not decompressed)."""
    with client.stream("GET", url, headers=headers) as r:
        raw = b"".join(r.iter_raw())
        return r.status_code, {k.lower(): v for k, v in r.headers.items()}, raw


def _served(app: Any) -> int:
    return int(app.state.cached_tiles.served)


def _versioned(client: TestClient) -> str:
    tj = client.get(f"/collections/{LAYER}/tiles/WebMercatorQuad/tilejson.json").json()
    return str(tj["tiles"][0]).replace("http://testserver", "").format(z=4, y=5, x=11)


def test_fast_path_answers_as_the_full_stack(app, served: TestClient) -> None:  # type: ignore[no-untyped-def]
    versioned = _versioned(served)
    for url in (TILE, versioned):
        assert served.get(url).status_code == 200  # fills the cache through the full stack
        for encoding in ("identity", "gzip"):
            before = _served(app)
            fast = _get(served, url, **{"Accept-Encoding": encoding})
            assert _served(app) == before + 1
            full = _get(served, url, **{"Accept-Encoding": encoding}, **FULL_STACK)
            assert _served(app) == before + 1
            assert fast[0] == full[0] == 200
            assert fast[2] == full[2]
            assert {k: v for k, v in fast[1].items() if k not in SERVER_HEADERS} == {
                k: v for k, v in full[1].items() if k not in SERVER_HEADERS
            }
            body = gzip.decompress(fast[2]) if encoding == "gzip" else fast[2]
            assert mapbox_vector_tile.decode(body)[LAYER]["features"]
            assert fast[1].get("content-encoding") == ("gzip" if encoding == "gzip" else None)
        etag = fast[1]["etag"]
        fast304 = _get(served, url, **{"If-None-Match": etag})
        full304 = _get(served, url, **{"If-None-Match": etag}, **FULL_STACK)
        assert fast304[0] == full304[0] == 304 and fast304[2] == full304[2] == b""
        assert fast304[1] == full304[1]
    assert fast[1]["cache-control"] == IMMUTABLE  # the versioned URL, last


def test_fast_responses_carry_the_security_headers(app, served: TestClient) -> None:  # type: ignore[no-untyped-def]
    # A data version pushed late by an earlier test's write may empty the cache once: the
    # tile is asked for again until the fast path answers it (it must, within a few tries).
    for _ in range(5):
        served.get(TILE)
        before = _served(app)
        r = served.get(TILE)
        if _served(app) == before + 1:
            break
    before = _served(app) - 1
    not_modified = served.get(TILE, headers={"If-None-Match": r.headers["etag"]})
    assert _served(app) == before + 2
    for response in (r, not_modified):
        for name, value in HEADERS.items():
            assert response.headers[name] == value
        assert response.headers["content-security-policy"] == policy()
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in response.headers["cache-control"]


@pytest.mark.usefixtures("cleaned_up")  # logs in on the committing app of `served`
def test_logins_and_tokens_take_the_full_stack(app, served: TestClient, login_as) -> None:  # type: ignore[no-untyped-def]
    analyst = login_as("analyst")
    tj = analyst.get("/collections/occurrences/tiles/WebMercatorQuad/tilejson.json").json()
    url = str(tj["tiles"][0]).replace("http://testserver", "").format(z=4, y=5, x=11)
    public = served.get(url)  # the public tile, now cached
    assert public.status_code == 200 and public.headers["cache-control"] == IMMUTABLE
    before = _served(app)
    assert served.get(url).headers["etag"] == public.headers["etag"]
    assert _served(app) == before + 1
    # the analyst sees precise locations: a private tile, never the public one from the cache
    private = analyst.get(url)
    again = analyst.get(url)
    assert _served(app) == before + 1
    assert private.status_code == again.status_code == 200
    assert private.headers["etag"] == again.headers["etag"] != public.headers["etag"]
    assert private.headers["cache-control"].startswith("private")
    # a bad token is refused even for a cached public tile
    refused = served.get(TILE, headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert _served(app) == before + 1


def test_other_requests_take_the_full_stack(app, served: TestClient) -> None:  # type: ignore[no-untyped-def]
    cached = served.get(TILE)
    before = _served(app)
    assert served.get(f"{TILE}?f=mvt").content == cached.content
    assert served.get(f"{TILE}?lang=ru").headers["set-cookie"].startswith("lang=ru")
    assert served.get(TILE, headers={"Host": "elsewhere.example"}).status_code == 400
    assert _served(app) == before
    assert served.get(TILE).content == cached.content
    assert _served(app) == before + 1
    head = served.head(TILE)  # HEAD too, without the body (api.head; tests/scaling/test_head.py)
    assert _served(app) == before + 2 and head.status_code == 200 and head.content == b""


@pytest.mark.usefixtures("cleaned_up")  # the listener hears of committed writes only
def test_a_write_changes_the_fast_answer_at_once(app, served: TestClient, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    served.get(TILE)
    old = served.get(TILE).headers["etag"]
    before = _served(app)
    with engine.begin() as conn:  # a write in this process: the versions are read again
        conn.execute(
            text(f"UPDATE {LAYER} SET name = name WHERE id = (SELECT min(id) FROM {LAYER})")
        )
    fresh = served.get(TILE)
    assert fresh.headers["etag"] != old
    assert _served(app) == before  # the full stack answered (and cached the new tile)
    assert served.get(TILE).headers["etag"] == fresh.headers["etag"]
    assert _served(app) == before + 1

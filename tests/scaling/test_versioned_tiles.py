"""Versioned tiles: URLs from TileJSON, styles, tilesets and maps carry the data version; a
tile at the current version is immutable, at an old one it is today's tile kept briefly, and
the unversioned URL revalidates with its ETag."""

from __future__ import annotations

import re
from typing import Any

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api import ogc
from api.ogc import IMMUTABLE, STALE_VERSION_MAX_AGE, version_token
from layers.registry import get_layer
from layers.tiles import RASTER_RENDERING

LAYER = "protected_areas"
Z, Y, X = 4, 5, 11


def _template(client: TestClient) -> str:
    tj = client.get(f"/collections/{LAYER}/tiles/WebMercatorQuad/tilejson.json").json()
    return str(tj["tiles"][0]).replace("http://testserver", "")


def _touch(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {LAYER} SET name = name WHERE id = (SELECT min(id) FROM {LAYER})")
        )


def test_every_document_carries_the_same_version(served: TestClient) -> None:
    template = _template(served)
    token = re.search(r"\?v=([0-9a-f]{16})$", template)
    assert token, template
    meta = served.get(f"/collections/{LAYER}/tiles/WebMercatorQuad").json()
    assert any(link["href"].endswith(f"?v={token[1]}") for link in meta["links"])
    sets = served.get(f"/collections/{LAYER}/tiles").json()["tilesets"]
    assert all(any(link["href"].endswith(f"?v={token[1]}") for link in s["links"]) for s in sets)
    style = served.get(f"/collections/{LAYER}/styles/default").json()
    assert any(
        str(src.get("url", "")).endswith(f"?v={token[1]}") for src in style["sources"].values()
    )
    page = served.get(f"/collections/{LAYER}/map").text
    assert f"/collections/{LAYER}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?v={token[1]}" in page


def test_current_version_is_immutable_and_a_write_moves_it(served: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    old = _template(served).format(z=Z, y=Y, x=X)
    r = served.get(old)
    assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE
    assert mapbox_vector_tile.decode(r.content)[LAYER]["features"]
    _touch(engine)
    new = _template(served).format(z=Z, y=Y, x=X)
    assert new != old  # the new data is under a new URL: nothing to purge
    fresh = served.get(new)
    assert fresh.headers["cache-control"] == IMMUTABLE
    # the old URL answers today's tile, which caches keep only briefly
    stale = served.get(old)
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == f"public, max-age={STALE_VERSION_MAX_AGE}"
    assert stale.headers["etag"] == fresh.headers["etag"] != r.headers["etag"]


def test_unversioned_url_revalidates(served: TestClient) -> None:
    url = f"/collections/{LAYER}/tiles/WebMercatorQuad/{Z}/{Y}/{X}"
    r = served.get(url)
    assert r.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert served.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_a_tile_with_sensitive_precision_stays_private(tx_login_as) -> None:  # type: ignore[no-untyped-def]
    analyst = tx_login_as("analyst")
    tj = analyst.get("/collections/occurrences/tiles/WebMercatorQuad/tilejson.json").json()
    url = str(tj["tiles"][0]).replace("http://testserver", "").format(z=Z, y=Y, x=X)
    r = analyst.get(url)
    assert r.status_code == 200
    assert (
        r.headers["cache-control"].startswith("private")
        and "immutable" not in r.headers["cache-control"]
    )
    public = TestClient(analyst.app).get(url)
    assert public.headers["cache-control"] == IMMUTABLE


#: The relief's tile URL template as a map page writes it (``&`` may be escaped in a script).
RELIEF = re.compile(
    r"/rasters/relief/tiles/WebMercatorQuad/\{z\}/\{y\}/\{x\}\.png"
    r"\?style=(\w+)(?:&|\\u0026|&amp;)v=(\w+)"
)


def test_the_maps_relief_carries_the_rasters_version(served: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    pages = [served.get(p).text for p in ("/atlas", f"/collections/{LAYER}/map")]
    found = [RELIEF.findall(page) for page in pages]
    assert all({style for style, _ in f} == {"shaded", "hillshade"} for f in found)
    tokens = {token for f in found for _, token in f}
    with engine.connect() as conn:
        version = conn.execute(
            text("SELECT version FROM layer_versions WHERE table_name = 'rasters'")
        ).scalar_one()
    # the data's version and how the tiles are drawn
    assert tokens == {version_token(f"rasters:{version};drawn:{RASTER_RENDERING}")}
    token = tokens.pop()
    url = f"/rasters/relief/tiles/WebMercatorQuad/8/94/182.png?style=shaded&v={token}"
    tile = served.get(url)
    assert tile.status_code == 200 and tile.headers["cache-control"] == IMMUTABLE


def test_a_new_drawing_of_raster_tiles_is_a_new_version(
    served: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relief tiles kept forever by browsers under ``?v=`` are asked again under a new URL
    when the drawing changes (as when DEMs were first resampled cubic), not only the data."""
    (before,) = {token for _, token in RELIEF.findall(served.get("/atlas").text)}
    url = "/rasters/relief/tiles/WebMercatorQuad/8/94/182.png?style=shaded&v={}"
    old = served.get(url.format(before))
    assert old.headers["cache-control"] == IMMUTABLE
    monkeypatch.setattr(ogc, "RASTER_RENDERING", "next")
    (after,) = {token for _, token in RELIEF.findall(served.get("/atlas").text)}
    assert after != before
    again = served.get(url.format(after))
    assert again.headers["cache-control"] == IMMUTABLE
    assert again.headers["etag"] != old.headers["etag"]
    # the old URL is no longer the current version: kept only briefly
    stale = served.get(url.format(before))
    assert stale.headers["cache-control"] != IMMUTABLE


class Deaf:
    """The app's versions as when another process has answered a write and its notification
    has not reached this one yet: notifications are not heard, and the reloads are counted.
    The write itself is made on a connection of its own (psycopg, not through SQLAlchemy, whose
    commits in this process mark the versions stale)."""

    def __init__(self, app: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.known = app.state.versions
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.reloads = 0
        reload = self.known.reload

        def counted() -> None:
            self.reloads += 1
            reload()

        monkeypatch.setattr(self.known, "notified", lambda name, version: None)
        monkeypatch.setattr(self.known, "unread", lambda: False)
        monkeypatch.setattr(self.known, "reload", counted)

    def write_elsewhere(self) -> None:
        with psycopg.connect(self.conninfo) as conn:
            conn.execute(f"UPDATE {LAYER} SET name = name WHERE id = (SELECT min(id) FROM {LAYER})")


def _token_in_database(engine: Engine) -> str:
    with engine.connect() as conn:  # read only: no commit of this process's
        return version_token(ogc.data_version(conn, get_layer(LAYER)))


def test_a_url_made_after_a_write_not_yet_heard_of_shows_the_write(  # type: ignore[no-untyped-def]
    app, served: TestClient, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A map given a tile URL by the process that answered a write asks another process,
    which has not heard of the write yet: that process reads the versions before it answers,
    so the URL of the new version never carries older data (which a CDN would keep)."""
    old = _template(served).format(z=Z, y=Y, x=X)
    first = served.get(old)
    assert first.headers["cache-control"] == IMMUTABLE  # and the tile is in the cache
    deaf = Deaf(app, engine, monkeypatch)
    deaf.write_elsewhere()
    token = _token_in_database(engine)
    unversioned = f"/collections/{LAYER}/tiles/WebMercatorQuad/{Z}/{Y}/{X}"
    assert served.get(unversioned).headers["etag"] == first.headers["etag"]  # not heard of
    assert deaf.reloads == 0

    new = served.get(f"{unversioned}?v={token}")
    assert new.status_code == 200 and new.headers["cache-control"] == IMMUTABLE
    assert new.headers["etag"] != first.headers["etag"]
    assert deaf.reloads == 1
    assert served.get(unversioned).headers["etag"] == new.headers["etag"]  # known from now on
    assert _template(served).endswith(f"?v={token}")

    # the old URL: today's tile, kept briefly; found out of date once, then known so
    for _ in range(2):
        stale = served.get(old)
        assert stale.headers["cache-control"] == f"public, max-age={STALE_VERSION_MAX_AGE}"
        assert stale.headers["etag"] == new.headers["etag"]
    assert deaf.reloads == 2
    # a made-up token reads the versions once too, and no more
    for _ in range(3):
        made_up = served.get(f"{unversioned}?v=0123456789abcdef")
        assert made_up.status_code == 200 and made_up.headers["etag"] == new.headers["etag"]
    assert deaf.reloads == 3
    # what is not shaped as a token (16 hex digits) is neither looked up nor remembered
    for junk in ("x" * 4000, "0123456789ABCDEF", "", "0123456789abcdef0"):
        answer = served.get(unversioned, params={"v": junk})
        assert answer.status_code == 200 and answer.headers["etag"] == new.headers["etag"]
        assert answer.headers["cache-control"] != IMMUTABLE
    assert deaf.reloads == 3 and not deaf.known.out_of_date("x" * 4000)


def test_tilejson_asked_at_a_version_not_yet_heard_of_gives_its_tiles(  # type: ignore[no-untyped-def]
    app, served: TestClient, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A style made by the process that answered a write links TileJSON at the new version;
    asked of another process, the TileJSON gives the tiles of that version."""
    deaf = Deaf(app, engine, monkeypatch)
    before = _template(served)
    deaf.write_elsewhere()
    token = _token_in_database(engine)
    assert _template(served) == before  # this process has not heard of the write
    reloads = deaf.reloads  # the first read of the versions after the start included
    url = f"/collections/{LAYER}/tiles/WebMercatorQuad/tilejson.json?v={token}"
    tiles = str(served.get(url).json()["tiles"][0])
    assert tiles.endswith(f"?v={token}") and deaf.reloads == reloads + 1


@pytest.mark.parametrize(
    "url",
    [
        f"/tiles/WebMercatorQuad/{Z}/{Y}/{X}",
        "/rasters/relief/tiles/WebMercatorQuad/8/94/182.png?style=shaded",
    ],
    ids=["dataset", "raster"],
)
def test_dataset_and_raster_tiles_look_up_a_token_they_have_not_seen_once(  # type: ignore[no-untyped-def]
    app, served: TestClient, engine, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    deaf = Deaf(app, engine, monkeypatch)
    served.get(url)  # the versions read after the start, if not yet
    reloads = deaf.reloads
    join = "&" if "?" in url else "?"
    for _ in range(3):
        r = served.get(f"{url}{join}v=fedcba9876543210")
        assert r.status_code == 200
        assert r.headers["cache-control"] == f"public, max-age={STALE_VERSION_MAX_AGE}"
    assert deaf.reloads == reloads + 1

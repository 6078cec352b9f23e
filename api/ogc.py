"""Small typed dependencies and helpers shared by the OGC API routers.

``LayerDep`` turns ``{collectionId}`` into a registered spec (or 404), ``BBoxDep``,
``DatetimeDep``, ``PaginationDep`` and ``FilterDep`` parse and check query parameters,
``ViewDep`` is the layer as the current principal may see it. Content negotiation, data
versions and ETags live here too, so every router answers the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from api.auth.principal import get_principal
from api.concurrency import client_key, filter_slots, too_many
from geo.errors import InvalidInput, TooLarge
from geo.lazy import lazy_module
from layers import params
from layers.registry import get_layer
from layers.spec import LayerSpec
from layers.sql import LayerSQL, versions
from layers.tiles import MVT_MEDIA_TYPE, RASTER_RENDERING, TileCache

if TYPE_CHECKING:
    from layers import cql
else:  # pygeofilter: only a request with a filter needs it (cold start, geo.lazy)
    cql = lazy_module("layers.cql")

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


async def layer_dep(collection_id: Annotated[str, Path(alias="collectionId")]) -> LayerSpec:
    return get_layer(collection_id)


LayerDep = Annotated[LayerSpec, Depends(layer_dep)]


async def view_dep(spec: LayerDep, request: Request) -> LayerSQL:
    """The layer's SQL as the current principal may see it."""
    return view_of(request, spec)


def view_of(request: Request, spec: LayerSpec) -> LayerSQL:
    """:func:`view_dep` for a route that takes the layer only."""
    return LayerSQL(
        spec,
        privileged=get_principal(request).sees_sensitive,
        cell_deg=request.app.state.settings.features.sensitive_cell_deg,
    )


ViewDep = Annotated[LayerSQL, Depends(view_dep)]


async def bbox_dep(
    bbox: Annotated[
        str | None,
        Query(description="minx,miny,maxx,maxy in CRS84 degrees", examples=["76,43,77.5,43.5"]),
    ] = None,
) -> params.BBox | None:
    return params.parse_bbox(bbox)


BBoxDep = Annotated[params.BBox | None, Depends(bbox_dep)]


#: A date followed by a bare ``T``, as GDAL's OGC API driver writes the dates of a
#: ``WHERE day >= '2022-01-01'`` (``datetime=2022-01-01T/..``): read as that date.
_DATE_AND_T = re.compile(r"(\d{4}-\d{2}-\d{2})T(?=/|$)")


async def datetime_dep(
    datetime: Annotated[
        str | None,
        Query(description="An instant, a date, or start/end with '..' for an open end"),
    ] = None,
) -> params.Interval | None:
    if datetime is not None:
        datetime = _DATE_AND_T.sub(r"\1", datetime)
    return params.parse_datetime(datetime)


DatetimeDep = Annotated[params.Interval | None, Depends(datetime_dep)]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


async def pagination_dep(
    request: Request,
    limit: Annotated[int | None, Query(description="Features per page")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Features to skip")] = 0,
) -> Page:
    settings = request.app.state.settings
    lim = settings.features.default_limit if limit is None else limit
    return Page(params.check_limit(lim, settings.features.max_limit), offset)


PaginationDep = Annotated[Page, Depends(pagination_dep)]


def filter_dep(
    request: Request,
    filter: Annotated[str | None, Query(description="A CQL2 filter (text or JSON)")] = None,
    filter_lang: Annotated[
        str | None, Query(alias="filter-lang", description="cql2-text or cql2-json")
    ] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs")] = None,
) -> Iterator[Any]:
    """The parsed filter, checked against ``settings.features.filter_max_*``. A request with
    a filter holds one of its client's slots (``max_filtered_per_client``, 429 beyond) from
    parsing to the end of the handler. Sync, so that parsing runs in a worker thread."""
    if filter_crs not in (None, "http://www.opengis.net/def/crs/OGC/1.3/CRS84"):
        raise InvalidInput("filter-crs must be http://www.opengis.net/def/crs/OGC/1.3/CRS84")
    if filter is None or not filter.strip():
        if filter_lang is not None and filter_lang not in cql.FILTER_LANGS:
            raise InvalidInput(f"filter-lang must be one of {', '.join(cql.FILTER_LANGS)}")
        yield None
        return
    features = request.app.state.settings.features
    anonymous_limit = features.anonymous_filter_max_chars
    if (
        anonymous_limit < len(filter) <= cql.MAX_FILTER_CHARS
        and get_principal(request).is_anonymous
    ):
        raise InvalidInput(
            f"a filter from a caller who is not logged in may have at most "
            f"{anonymous_limit} characters (this one has {len(filter)}): "
            "use bbox= for an area, split the filter, or log in"
        )
    slots, key = filter_slots(request), client_key(request)
    if not slots.acquire(key):
        wait = max(1, features.anonymous_statement_timeout_ms // 1000)
        raise too_many(features.max_filtered_per_client, wait)
    try:
        limits = cql.Limits(
            max_depth=features.filter_max_depth,
            max_nodes=features.filter_max_nodes,
            max_vertices=features.filter_max_vertices,
        )
        yield cql.parse_filter(filter, filter_lang, limits)
    finally:
        slots.release(key)


FilterDep = Annotated[Any, Depends(filter_dep, scope="function")]


def wants_html(request: Request, f: str | None) -> bool:
    """Content negotiation: ``f=`` first, then the Accept header (browsers ask for HTML)."""
    if f is not None:
        f = f.lower()
        if f == "html":
            return True
        if f in ("json", "geojson", "jsonfg"):
            return False
        raise InvalidInput(f"f must be html, json or geojson, not {f!r}")
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    html_at = accept.find("text/html")
    json_at = min((i for i in (accept.find("json"),) if i >= 0), default=-1)
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


#: PostgreSQL errors caused by what a request asked for (a value the data cannot take), not
#: by the service: data exceptions, operators that do not apply, PostGIS input errors.
USER_SQLSTATES = ("22", "42883", "42725", "42804", "XX000")


@contextmanager
def query_errors() -> Iterator[None]:
    """Turn database errors caused by the request into 400/413 with a message."""
    try:
        yield
    except DBAPIError as exc:
        code = str(getattr(exc.orig, "sqlstate", "") or "")
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else ""
        if code == "57014":
            raise TooLarge(
                "the query ran longer than the time limit; narrow the bbox, the filter or the limit"
            ) from None
        if code.startswith(USER_SQLSTATES):
            raise InvalidInput(f"the query cannot be run on this data: {first[:200]}") from None
        raise


@contextmanager
def filtered_read(request: Request, engine: Engine, cql_filter: Any) -> Iterator[Connection]:
    """The connection for a read that may carry a filter, with :func:`query_errors`.

    An anonymous caller's filtered read runs in a transaction whose statement timeout is
    ``settings.features.anonymous_statement_timeout_ms`` (``SET LOCAL``: it ends with the
    transaction); a query it cancels answers 400 saying so. Everyone else reads as
    :func:`read_connection` does."""
    try:
        if cql_filter is None or not get_principal(request).is_anonymous:
            with query_errors(), read_connection(engine) as conn:
                yield conn
            return
        ms = request.app.state.settings.features.anonymous_statement_timeout_ms
        with query_errors():
            try:
                with engine.connect() as conn, conn.begin():
                    conn.execute(
                        text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(ms)}
                    )
                    yield conn
            except DBAPIError as exc:
                if str(getattr(exc.orig, "sqlstate", "")) != "57014":
                    raise
                raise cql.FilterTooCostly(
                    f"the filter took longer than the {ms / 1000:g} s allowed for requests "
                    "without an account; narrow the filter, the bbox or the limit, or log in"
                ) from None
    except RecursionError:
        raise InvalidInput("the filter is nested too deeply to be run") from None


def base_url(request: Request) -> str:
    """The public base URL (``settings.api.public_url`` or the request's own)."""
    public = request.app.state.settings.api.public_url
    return (public or str(request.base_url)).rstrip("/")


_AUTOCOMMIT: dict[int, tuple[Engine, Engine]] = {}


def read_connection(engine: Engine) -> Connection:
    """A connection for reads that runs each statement on its own (no BEGIN/ROLLBACK round
    trips): every read here is one statement, or a version read before the data it labels."""
    pair = _AUTOCOMMIT.get(id(engine))
    if pair is None or pair[0] is not engine:
        pair = _AUTOCOMMIT[id(engine)] = (
            engine,
            engine.execution_options(isolation_level="AUTOCOMMIT"),
        )
    return pair[1].connect()


def data_version(conn: Connection, spec: LayerSpec) -> str:
    """The versions of every table the layer reads, as ``table:version`` pairs, read on
    ``conn`` (:func:`layer_version` answers the same from memory)."""
    rows = conn.execute(versions(spec.tables)).all()
    return ",".join(f"{t}:{v}" for t, v in rows)


def layer_version(request: Request, spec: LayerSpec) -> str:
    """The layer's data version (``table:version`` pairs), from this process's memory: kept
    current by notifications (:mod:`api.versions`), so asking costs no database round trip."""
    state = request.app.state
    known = getattr(state, "versions", None)
    if known is None:  # an app whose lifespan did not run
        with read_connection(state.engine) as conn:
            return data_version(conn, spec)
    return str(known.of(spec.tables))


async def layer_version_async(request: Request, spec: LayerSpec) -> str:
    """:func:`layer_version` for the event loop: from memory, or (when the versions must be
    read again, after a write or while the listener reconnects) in a worker thread."""
    known = getattr(request.app.state, "versions", None)
    if known is not None and known.fresh():
        return str(known.of(spec.tables))
    return await run_in_threadpool(layer_version, request, spec)


def version_tokens(request: Request, specs: Sequence[LayerSpec]) -> dict[str, str]:
    """The current :func:`version_token` of each layer, by layer id (for maps)."""
    return {s.id: version_token(layer_version(request, s)) for s in specs}


def rasters_version_token(request: Request) -> str:
    """The :func:`version_token` of the rasters' current data version, as raster tiles compare
    it (:mod:`api.routers.raster_tiles`): the relief basemap's tile URLs carry it."""
    return version_token(rasters_version(request.app.state))


def rasters_version(state: Any) -> str:
    """The version raster tiles are drawn at: the ``rasters`` table's data version (from this
    process's memory when the change listener is live, else read) and how tiles are drawn
    (:data:`layers.tiles.RASTER_RENDERING`)."""
    known = getattr(state, "versions", None)
    if known is not None:
        data = str(known.of(["rasters"]))
    else:
        with read_connection(state.engine) as conn:
            rows = conn.execute(versions(("rasters",))).all()
        data = ",".join(f"{t}:{v}" for t, v in rows)
    return f"{data};drawn:{RASTER_RENDERING}"


#: The shape of :func:`version_token`'s tokens.
_TOKEN = re.compile(r"[0-9a-f]{16}")


def version_token(version: str) -> str:
    """The short, opaque form of a data version that tile URLs carry (``?v=``)."""
    return hashlib.sha256(version.encode()).hexdigest()[:16]


def version_asked(state: Any, asked: str | None, current: Callable[[], str]) -> str:
    """The version to answer a tile asked for at the token ``asked`` (``?v=``) with.

    That is ``current()`` (from memory), unless ``asked`` is neither its token nor one found out
    of date before: a map may hold a URL another process made just after a write whose
    notification has not reached this process yet. The versions are then read from the
    database first, so that URL is answered with the data it names (and kept for a year by
    caches), not with older data kept for a minute under it. A token still not current after
    that is out of date (or made up) and is remembered so: asked again, it reads nothing
    (:meth:`api.versions.DataVersions.out_of_date`)."""
    version = current()
    if not catching_up(state, asked, version):
        return version
    known = state.versions
    known.reload()
    version = current()
    if asked != version_token(version):
        known.found_out_of_date(asked)
    return version


def catching_up(state: Any, asked: str | None, version: str) -> bool:
    """Whether a tile asked for at ``asked`` with ``version`` current in memory needs
    :func:`version_asked` to look at the database (the fast paths then step aside)."""
    if asked is None or asked == version_token(version) or not _TOKEN.fullmatch(asked):
        return False  # current, or not a token this server makes: nothing to look up
    # without versions kept in memory by notifications, ``version`` was just read
    known = getattr(state, "versions", None)
    return known is not None and known.live and not known.out_of_date(asked)


def tile_template(
    base: str, collection_id: str, tms_id: str, version: str, *, ogc_names: bool = False
) -> str:
    """The URL template of a collection's tiles at ``version`` (TileJSON, styles, maps and
    tileset documents all use it). ``ogc_names`` spells the variables as OGC API Tiles does
    (``{tileMatrix}/{tileRow}/{tileCol}``), else ``{z}/{y}/{x}``."""
    order = "{tileMatrix}/{tileRow}/{tileCol}" if ogc_names else "{z}/{y}/{x}"
    return f"{base}/collections/{collection_id}/tiles/{tms_id}/{order}?v={version_token(version)}"


#: A tile at the current version of its URL never changes: caches may keep it for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
#: A tile asked for at an out-of-date version is answered with the current data, which caches
#: keep only this long (a map still holding an old template picks up the new data at once).
STALE_VERSION_MAX_AGE = 60


def tile_headers(etag: str, version: str, asked: str | None, *, private: bool) -> dict[str, str]:
    """Cache headers of a tile: the unversioned URL revalidates with its ETag; a versioned
    public one is immutable when ``asked`` is the current version, short-lived otherwise;
    a tile holding what only some logins may see is always ``private`` and revalidated."""
    headers = cache_headers(etag, 0, private=private)
    if asked is None or private:
        return headers
    if asked == version_token(version):
        headers["Cache-Control"] = IMMUTABLE
    else:
        headers["Cache-Control"] = f"public, max-age={STALE_VERSION_MAX_AGE}"
    return headers


def reader_for(request: Request, engine: Engine, spec: LayerSpec) -> Engine:
    """``engine``, unless it reads a streaming replica that has not yet replayed the layer's
    current version (a write just made, by this caller or anyone): then the primary, so no
    response (or cache entry) labelled with the new version carries older data."""
    state = request.app.state
    if engine is state.engine or not state.settings.database.reader_is_replica:
        return engine
    known = getattr(state, "versions", None)
    if known is None:
        return engine
    wanted = known.current(spec.tables)
    with read_connection(engine) as conn:
        have: dict[str, int] = {str(t): int(v) for t, v in conn.execute(versions(spec.tables))}
    if any(have.get(t, -1) < v for t, v in wanted.items()):
        return state.engine
    return engine


def make_etag(*parts: object) -> str:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'W/"{h}"'


def not_modified(request: Request, etag: str) -> bool:
    return etag_matches(request.headers.get("if-none-match"), etag)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison) or is ``*``."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def cache_headers(etag: str, max_age: int, *, private: bool) -> dict[str, str]:
    scope = "private" if private else "public"
    return {
        "ETag": etag,
        "Cache-Control": f"{scope}, max-age={max_age}, must-revalidate",
        "Vary": "Accept, Accept-Encoding, Cookie, Authorization",
    }


def request_key(request: Request) -> str:
    """The part of a request that changes a response (path, sorted query, negotiation)."""
    query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
    return f"{request.url.path}?{query}|{request.headers.get('accept', '')}"


_cache_lock = threading.Lock()


def tile_cache(request: Request) -> TileCache:
    """The app's in-process cache of encoded tiles (vector and raster); keys carry data
    versions, so it is never stale. Its size is ``settings.tiles.cache_mb``."""
    state = request.app.state
    cache = getattr(state, "tile_cache", None)
    if cache is None:
        with _cache_lock:
            cache = getattr(state, "tile_cache", None)
            if cache is None:
                mb = state.settings.tiles.cache_mb
                cache = state.tile_cache = TileCache(max_bytes=mb * 1024 * 1024)
    return cache


#: Tiles from this size up are sent gzip-compressed to clients that accept it (smaller ones
#: gain nothing: the threshold of ``GZipMiddleware`` for other responses).
GZIP_MIN_BYTES = 500


def tile_body(cache: TileCache, key: str, data: bytes, accept_encoding: str) -> tuple[bytes, bool]:
    """The body to send for the tile ``data`` cached under ``key``, and whether it is gzipped.

    A tile is compressed once, when a client that accepts gzip first asks for it, and the
    compressed form is kept in the tile cache beside it (key ``<key>|gzip``): a cached tile
    costs no compression per request (``GZipMiddleware`` would compress it every time, so it
    passes MVT through, :mod:`api.app`). ``mtime=0`` makes the bytes the same every time."""
    if "gzip" not in accept_encoding or len(data) < GZIP_MIN_BYTES:
        return data, False
    gz_key = f"{key}|gzip"
    packed = cache.get(gz_key)
    if packed is None:
        packed = gzip.compress(data, compresslevel=6, mtime=0)
        cache.put(gz_key, packed)
    return packed, True


def tile_response(request: Request, etag: str, data: bytes, headers: dict[str, str]) -> Response:
    """The response carrying the tile ``data`` (cached under ``etag``), gzipped if accepted."""
    body, packed = tile_body(
        tile_cache(request), etag, data, request.headers.get("accept-encoding", "")
    )
    if packed:
        headers = {**headers, "Content-Encoding": "gzip"}
    return Response(body, media_type=MVT_MEDIA_TYPE, headers=headers)


def not_modified_response(etag: str, max_age: int, *, private: bool) -> Response:
    return Response(status_code=304, headers=cache_headers(etag, max_age, private=private))

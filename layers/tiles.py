"""The one MVT builder: one SQL query per tile, for any tile matrix set.

The tile's envelope comes from morecantile (so WebMercatorQuad, WorldCRS84Quad and any other
registered grid work). Two ways to a tile:

* WebMercatorQuad tiles of a table that has its geometry materialised in EPSG:3857
  (:data:`TILE_GEOMETRY`, migration 0011) find rows with the GiST index of ``tile_geom``
  through a box in the tile's own CRS and encode that geometry with ``ST_AsMVTGeom`` as it is:
  no geometry is transformed per tile. Zooms up to 8 read the copy generalised for their zoom
  (``tile_geom_z4`` .. ``tile_geom_z8``: simplified to a pixel of that zoom, as the
  transforming path simplifies), so a tile of a large range polygon does not go through
  thousands of vertices per pixel.
* Everything else (other grids, views, and the public tiles of layers whose locations are
  generalised) finds rows through a CRS84 box around the tile, clips and simplifies them to
  the tile's pixel size in the storage CRS, then transforms them into the grid's CRS.

The same privacy rules as for features apply (see :class:`layers.sql.LayerSQL`): the
materialised columns hold the stored geometry, so they are only read where the principal
sees the stored geometry; the public tiles of a generalised layer are built from the
generalised geometry.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
)

import morecantile
from morecantile import TileMatrixSet

from geo.errors import InvalidInput, NotFound
from layers.sql import GEOMETRY, TILE_GEOMETRY_TYPE, LayerSQL

#: Tile matrix sets served, by id.
TMS_IDS = ("WebMercatorQuad", "WorldCRS84Quad")
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: How raster tiles are drawn (:mod:`layers.rastertiles`), part of their version
#: (:func:`api.ogc.rasters_version`): a tile kept forever under ``?v=`` by a browser or a CDN
#: is asked again under a new URL when the drawing changes, as when the data changes. Bump it
#: with any change to the rendering (2: DEMs resampled cubic, a smooth hillshade at site
#: scale). Kept here, not beside the rendering, so reading it imports no raster library.
RASTER_RENDERING = "2"

#: Tables with their geometry materialised in EPSG:3857 (migration 0011), and the zoom bands
#: of their generalised copies: (last zoom served, column). Zooms past the last band read
#: ``tile_geom``, the stored geometry in EPSG:3857.
TILE_GEOMETRY: dict[str, tuple[tuple[int, str], ...]] = {
    **dict.fromkeys(("occurrences", "places", "peaks"), ()),
    **dict.fromkeys(
        (
            "protected_areas",
            "species_ranges",
            "field_sites",
            "threats",
            "ecosystems",
            "countries",
            "admin_units",
            "regions",
            "glaciers",
            "lakes",
            "rivers",
        ),
        tuple((z, f"tile_geom_z{z}") for z in range(4, 9)),
    ),
}


@lru_cache(maxsize=8)
def get_tms(tms_id: str) -> TileMatrixSet:
    """A served tile matrix set, or NotFound."""
    if tms_id not in TMS_IDS:
        raise NotFound(f"There is no tile matrix set {tms_id!r}; available: {', '.join(TMS_IDS)}.")
    return morecantile.tms.get(tms_id)


def tms_srid(tms: TileMatrixSet) -> int:
    epsg = tms.crs._pyproj_crs.to_epsg()
    return 4326 if epsg is None else int(epsg)  # OGC:CRS84 has lon/lat axes like PostGIS 4326


@lru_cache(maxsize=8)
def _srid(tms_id: str) -> int:
    """:func:`tms_srid` of a served grid, looked up once (PROJ's lookup is slow)."""
    return tms_srid(get_tms(tms_id))


@dataclass(frozen=True)
class TileRequest:
    tms_id: str
    z: int
    x: int
    y: int


def check_tile(tms_id: str, z: int, x: int, y: int, *, min_zoom: int, max_zoom: int) -> TileRequest:
    """Check that z/x/y is inside the grid and the layer's zoom range (NotFound otherwise)."""
    tms = get_tms(tms_id)
    if z < tms.minzoom or z > tms.maxzoom or z < min_zoom or z > max_zoom:
        raise NotFound(f"zoom {z} is outside {min_zoom}..{min(max_zoom, tms.maxzoom)}")
    width, height = _matrix_size(tms_id, z)
    if not (0 <= x < width and 0 <= y < height):
        raise NotFound(
            f"tile row {y}, column {x} is outside the {tms_id} grid at zoom {z} "
            f"(rows 0..{height - 1}, columns 0..{width - 1})"
        )
    return TileRequest(tms_id, z, x, y)


#: The sphere of EPSG:3857 (WebMercatorQuad), in metres.
_MERCATOR_R = 6378137.0


@lru_cache(maxsize=512)
def _matrix_size(tms_id: str, z: int) -> tuple[int, int]:
    m = get_tms(tms_id).matrix(z)
    return m.matrixWidth, m.matrixHeight


def _geographic_bounds(
    tms_id: str, tile: morecantile.Tile, xy: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """The tile's bounds in longitude and latitude (west, south, east, north).

    In closed form for grids in EPSG:3857 (the inverse spherical Mercator) and EPSG:4326 (the
    grid's own coordinates); morecantile's ``bounds`` (a PROJ transformation, about a
    millisecond a tile) only for any other grid."""
    srid = _srid(tms_id)
    xmin, ymin, xmax, ymax = xy
    if srid == 3857:
        r = _MERCATOR_R
        return (
            math.degrees(xmin / r),
            math.degrees(math.atan(math.sinh(ymin / r))),
            math.degrees(xmax / r),
            math.degrees(math.atan(math.sinh(ymax / r))),
        )
    if srid == 4326:
        return xy
    w, s, e, n = get_tms(tms_id).bounds(tile)
    return w, s, e, n


def tile_params(tile: TileRequest, *, extent: int = 4096, buffer: int = 64) -> dict[str, float]:
    """The bound values of a tile: its envelope in the grid's CRS and a CRS84 search box."""
    tms = get_tms(tile.tms_id)
    t = morecantile.Tile(tile.x, tile.y, tile.z)
    xmin, ymin, xmax, ymax = tms.xy_bounds(t)
    w, s, e, n = _geographic_bounds(tile.tms_id, t, (xmin, ymin, xmax, ymax))
    # the CRS84 search box, grown by the buffer so features just outside still draw edges
    pad_x = (e - w) * buffer / extent
    pad_y = (n - s) * buffer / extent
    return {
        "xmin": xmin,
        "ymin": ymin,
        "xmax": xmax,
        "ymax": ymax,
        "sw": max(w - pad_x, -180.0),
        "ss": max(s - pad_y, -90.0),
        "se": min(e + pad_x, 180.0),
        "sn": min(n + pad_y, 90.0),
        # a tile pixel in degrees: detail finer than that cannot show
        "tol": (e - w) / extent,
        # the same search box in the grid's CRS, and the zoom (it picks a generalised copy)
        "bxmin": xmin - (xmax - xmin) * buffer / extent,
        "bymin": ymin - (ymax - ymin) * buffer / extent,
        "bxmax": xmax + (xmax - xmin) * buffer / extent,
        "bymax": ymax + (ymax - ymin) * buffer / extent,
        "z": tile.z,
    }


#: Built statements by layer (the spec's identity: hashing a spec costs more than the rest of
#: the lookup), principal class and grid, each with the spec it was built for.
_STATEMENTS: dict[tuple[Any, ...], tuple[Any, Select[Any]]] = {}


def tile_statement(
    layer: LayerSQL,
    tms_id: str,
    *,
    extent: int = 4096,
    buffer: int = 64,
    max_features: int = 20_000,
) -> Select[Any]:
    """The tile statement of a layer and grid, with the tile's values left as parameters.

    Built once per layer, principal class and grid, then reused for every tile (values from
    :func:`tile_params`), so a request pays neither for building nor compiling SQL.
    """
    spec = layer.spec
    key = (id(spec), layer.privileged, layer.cell_deg, tms_id, extent, buffer, max_features)
    got = _STATEMENTS.get(key)
    if got is None or got[0] is not spec:
        got = _STATEMENTS[key] = (spec, _build(layer, tms_id, extent, buffer, max_features))
    return got[1]


@dataclass(frozen=True)
class _Compiled:
    """A tile statement compiled for one dialect: its SQL, the values that are the same for
    every tile (already as the driver takes them), and how to convert each tile's own."""

    statement: Select[Any]
    dialect: Dialect
    sql: str
    fixed: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]


_COMPILED: dict[tuple[int, int], _Compiled] = {}
#: Compiled statements kept at most (a few layers, principal classes and grids per engine; every
#: app, as the tests make many, has engines of its own): beyond, the cache starts again.
_COMPILED_MAX = 256


def _compiled(dialect: Dialect, stmt: Select[Any], values: dict[str, Any]) -> _Compiled:
    got = _COMPILED.get((id(stmt), id(dialect)))
    if got is not None and got.statement is stmt and got.dialect is dialect:
        return got
    compiled = stmt.compile(dialect=dialect)
    processors: dict[str, Callable[[Any], Any]] = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    fixed = {
        name: processors[name](value) if name in processors else value
        for name, value in compiled.construct_params(values).items()
        if name not in values
    }
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    got = _COMPILED[(id(stmt), id(dialect))] = _Compiled(
        stmt, dialect, str(compiled), fixed, processors
    )
    return got


def fetch_tile(conn: Connection, stmt: Select[Any], values: dict[str, Any]) -> bytes:
    """The encoded tile of ``stmt`` (:func:`tile_statement`) at ``values`` (:func:`tile_params`).

    The statement is compiled once per dialect and each tile is sent on the driver's cursor
    the way SQLAlchemy sends its own internal statements (``Connection._cursor_execute``): the
    engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners see it, a driver
    error is raised as SQLAlchemy's (``DBAPIError``, with a dead connection invalidated), and
    the statement runs in the connection's transaction as ``conn.execute`` would run it. What
    is skipped is SQLAlchemy's per-execution context and result object: about half a
    millisecond of CPU per tile, as much as psycopg's own work for a small tile.
    """
    c = _compiled(conn.dialect, stmt, values)
    params = dict(c.fixed)
    for name, value in values.items():
        process = c.processors.get(name)
        params[name] = value if process is None else process(value)
    if not conn.in_transaction():
        conn.begin()  # as conn.execute begins one (rolled back as the connection closes)
    cursor = conn.connection.cursor()
    try:
        conn._cursor_execute(cursor, c.sql, params)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return bytes(row[0] or b"") if row else b""


def reads_tile_geometry(layer: LayerSQL, tms_id: str) -> bool:
    """Whether tiles of this layer and grid read the materialised EPSG:3857 geometry."""
    return (
        layer.spec.table in TILE_GEOMETRY
        and layer.spec.geom_column == "geom"
        and not layer.generalises
        and _srid(tms_id) == 3857
    )


def _build(
    layer: LayerSQL, tms_id: str, extent: int, buffer: int, max_features: int
) -> Select[Any]:
    if reads_tile_geometry(layer, tms_id):
        return _build_3857(layer, extent, buffer, max_features)
    spec = layer.spec
    srid = tms_srid(get_tms(tms_id))
    f = float
    env = func.ST_MakeEnvelope(
        *(bindparam(k, type_=Float) for k in ("xmin", "ymin", "xmax", "ymax")), srid, type_=GEOMETRY
    )
    search = func.ST_MakeEnvelope(
        *(bindparam(k, type_=Float) for k in ("sw", "ss", "se", "sn")), 4326, type_=GEOMETRY
    )
    g = layer.geom()
    if not layer.generalises and spec.geometry_type not in ("Point", "MultiPoint"):
        # clip to the search box, then drop detail finer than a pixel (collapsed parts kept)
        g = func.ST_Simplify(
            func.ST_ClipByBox2D(g, search), bindparam("tol", type_=Float), True, type_=GEOMETRY
        )
    if srid != 4326:
        g = func.ST_Transform(g, srid, type_=GEOMETRY)
    mvt_geom = func.ST_AsMVTGeom(g, env, extent, buffer, True).label("geom")

    props = _properties(layer)

    # the index condition uses the raw geometry (generalised points move less than a cell,
    # so the search box is grown by a cell for generalised layers)
    raw_box = search
    if layer.generalises:
        raw_box = func.ST_Expand(search, literal(f(layer.cell_deg)), type_=GEOMETRY)
    conds = [layer.raw_geom.op("&&")(raw_box), *layer.where_public()]
    if layer.generalises:
        conds.append(layer.geom().op("&&")(search))

    return _encode(layer, mvt_geom, props, conds, extent, max_features)


def _build_3857(layer: LayerSQL, extent: int, buffer: int, max_features: int) -> Select[Any]:
    """The tile statement reading ``tile_geom`` (and its generalised copies) in EPSG:3857."""
    env = func.ST_MakeEnvelope(
        *(bindparam(k, type_=Float) for k in ("xmin", "ymin", "xmax", "ymax")),
        3857,
        type_=TILE_GEOMETRY_TYPE,
    )
    search = func.ST_MakeEnvelope(
        *(bindparam(k, type_=Float) for k in ("bxmin", "bymin", "bxmax", "bymax")),
        3857,
        type_=TILE_GEOMETRY_TYPE,
    )
    full = layer.tile_geom("tile_geom")
    g: Any = full
    zoom = bindparam("z", type_=Integer)
    bands = TILE_GEOMETRY[layer.spec.table]
    if bands:
        # only the chosen branch is read (and detoasted), one copy per row
        g = case(
            *((zoom <= last, layer.tile_geom(col)) for last, col in bands),
            else_=full,
        )
    mvt_geom = func.ST_AsMVTGeom(g, env, extent, buffer, True).label("geom")
    conds = [full.op("&&")(search), *layer.where_public()]
    return _encode(layer, mvt_geom, _properties(layer), conds, extent, max_features)


def _properties(layer: LayerSQL) -> list[Any]:
    # the id is the MVT feature id and, for clients that only see properties, a property
    props: list[Any] = [layer.id_col.label("mvt_id"), layer.id_col.label("id")]
    for c in layer.columns():
        if not c.in_tiles:
            continue
        expr = layer.column_expr(c)
        if c.type in ("date", "datetime"):
            expr = cast(expr, Text)
        elif c.type == "integer":
            expr = cast(expr, Integer)
        props.append(expr.label(c.name))
    return props


def _encode(
    layer: LayerSQL,
    mvt_geom: Any,
    props: list[Any],
    conds: list[Any],
    extent: int,
    max_features: int,
) -> Select[Any]:
    spec = layer.spec
    rows = (
        select(mvt_geom, *props)
        .select_from(layer.from_clause())
        .where(*conds)
        .limit(max_features)
        .subquery("t")
    )
    return select(
        func.coalesce(
            func.ST_AsMVT(rows.table_valued(), spec.id, extent, "geom", "mvt_id"),
            literal(b""),
        ).label("mvt")
    ).where(rows.c.geom.is_not(None))


def tile_sql(
    layer: LayerSQL,
    tile: TileRequest,
    *,
    extent: int = 4096,
    buffer: int = 64,
    max_features: int = 20_000,
) -> Select[Any]:
    """One statement returning the tile as ``bytea`` (empty when no feature falls in it)."""
    stmt = tile_statement(
        layer, tile.tms_id, extent=extent, buffer=buffer, max_features=max_features
    )
    return stmt.params(**tile_params(tile, extent=extent, buffer=buffer))


class TileCache:
    """A small in-process LRU of encoded tiles, keyed by data version + request.

    Keys include the versions of every table a layer reads, so a write makes the next request
    miss the cache and see the new data; nothing is served stale.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            v = self._items.get(key)
            if v is not None:
                self._items.move_to_end(key)
            return v

    def put(self, key: str, value: bytes) -> None:
        if self.max_bytes <= 0 or len(value) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and self._items:
                _, v = self._items.popitem(last=False)
                self._size -= len(v)


def check_format(f: str | None) -> None:
    if f not in (None, "mvt", "pbf"):
        raise InvalidInput(f"tiles are served as mvt only, not {f!r}")

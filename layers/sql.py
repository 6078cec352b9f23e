"""All feature SQL: items, counts, single items and layer versions, in SQLAlchemy Core.

Identifiers come only from a :class:`~layers.spec.LayerSpec`; every value is bound. Who is
asking matters: for a principal who does not see sensitive data, private columns are not
selected, rows hidden from the public are filtered out, and sensitive locations are snapped to
the centre of a grid cell *in SQL*, so precise coordinates never leave the database. Filters
(bbox, CQL2) are applied to that generalised geometry too, so they cannot be used to probe
precise positions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    FromClause,
    Select,
    TableClause,
    and_,
    bindparam,
    case,
    cast,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
)

from geoalchemy2 import Geometry

from geo.errors import InvalidInput, NotFound
from geo.lazy import lazy_module
from layers.params import BBox, Interval, bbox_parts
from layers.spec import Column, LayerSpec
from layers.tables import GEOMETRY, layer_versions

if TYPE_CHECKING:
    from layers import cql
else:  # pygeofilter: only a request with a filter needs it (cold start, geo.lazy)
    cql = lazy_module("layers.cql")

#: Geometry in the CRS of WebMercatorQuad tiles (the materialised ``tile_geom`` columns).
TILE_GEOMETRY_TYPE = Geometry(srid=3857)


@dataclass(frozen=True)
class Query:
    """What a request asks of a layer (already parsed)."""

    bbox: BBox | None = None
    datetime: Interval | None = None
    filter: Any = None  # a pygeofilter AST
    properties: list[str] | None = None
    limit: int = 10
    offset: int = 0
    #: ``sortby``: (property, descending) pairs; the feature id breaks ties, so pages are stable.
    sortby: tuple[tuple[str, bool], ...] = ()


class LayerSQL:
    """SQL for one layer as seen by one kind of principal.

    Parameters
    ----------
    spec
        The layer.
    privileged
        Whether the principal sees sensitive data (``Principal.sees_sensitive``).
    cell_deg
        Grid cell (degrees) to which sensitive locations are snapped for the public.
    """

    def __init__(self, spec: LayerSpec, *, privileged: bool, cell_deg: float = 0.2) -> None:
        self.spec = spec
        self.privileged = privileged
        self.cell_deg = float(cell_deg)
        self._tables: dict[str, TableClause] = {}
        self.main = self._table(spec.table)

    # -- identifiers (from the spec only) --------------------------------------------------
    def _table(self, name: str) -> TableClause:
        t = self._tables.get(name)
        if t is None:
            t = table(name)
            self._tables[name] = t
        return t

    def _col(self, table_name: str | None, name: str, type_: Any = None) -> ColumnElement[Any]:
        t = self._table(table_name or self.spec.table)
        if name not in t.c:
            t.append_column(column(name, type_))
        return t.c[name]

    def from_clause(self) -> FromClause:
        f: FromClause = self.main
        for j in self.spec.joins:
            f = f.outerjoin(
                self._table(j.table),
                self._col(None, j.local) == self._col(j.table, j.remote),
            )
        return f

    @property
    def raw_geom(self) -> ColumnElement[Any]:
        return self._col(None, self.spec.geom_column, GEOMETRY)

    def tile_geom(self, column: str) -> ColumnElement[Any]:
        """A geometry column of the layer's table materialised in EPSG:3857 (``tile_geom``,
        ``tile_geom_z4`` ...): the stored geometry, for principals who see it."""
        return self._col(None, column, TILE_GEOMETRY_TYPE)

    def column_of(self, name: str, type_: Any = None) -> ColumnElement[Any]:
        """A column of the layer's table by name (an identifier from code, never a request)."""
        return self._col(None, name, type_)

    @property
    def id_col(self) -> ColumnElement[Any]:
        return self._col(None, self.spec.id_column)

    def geom(self) -> ColumnElement[Any]:
        """The geometry this principal may see: generalised where the layer says so."""
        g = self.raw_geom
        sens = self.spec.sensitivity
        if sens is None or self.privileged:
            return g
        c = self.cell_deg
        half = c / 2.0
        centre = func.ST_Centroid(g)
        snapped = func.ST_SetSRID(
            func.ST_MakePoint(
                func.floor(func.ST_X(centre) / c) * c + half,
                func.floor(func.ST_Y(centre) / c) * c + half,
            ),
            4326,
            type_=GEOMETRY,
        )
        if sens.flag is None:
            return snapped
        t, col = sens.flag.split(".", 1) if "." in sens.flag else (None, sens.flag)
        flag = func.coalesce(self._col(t, col, Boolean), true())
        return case((flag, snapped), else_=g)

    @property
    def generalises(self) -> bool:
        return self.spec.sensitivity is not None and not self.privileged

    def columns(self) -> tuple[Column, ...]:
        return self.spec.visible_columns(self.privileged)

    def column_expr(self, c: Column) -> ColumnElement[Any]:
        t, name = c.table_and_column
        return self._col(t, name)

    def resolve(self, name: str) -> tuple[ColumnElement[Any], str]:
        """A queryable property's column and kind, or InvalidInput naming what is allowed."""
        c = self.spec.column(name, self.privileged)
        if c is None:
            allowed = ", ".join(["geometry", *(c.name for c in self.columns())])
            raise InvalidInput(f"unknown property {name!r} in filter; queryables: {allowed}")
        expr = self.column_expr(c)
        if c.type in ("date", "datetime"):
            return cast(expr, DateTime(timezone=True)), "datetime"
        return expr, cql.KIND_OF_TYPE[c.type]

    # -- conditions ------------------------------------------------------------------------
    def where_public(self) -> list[ColumnElement[bool]]:
        """Rows hidden from principals who do not see sensitive data."""
        if self.spec.public_where and not self.privileged:
            return [self._col(None, self.spec.public_where, Boolean).is_(True)]
        return []

    def where(self, q: Query) -> list[ColumnElement[bool]]:
        conds = self.where_public()
        geom = self.geom()
        if q.bbox is not None:
            envs = [
                func.ST_MakeEnvelope(
                    bindparam(None, p[0]),
                    bindparam(None, p[1]),
                    bindparam(None, p[2]),
                    bindparam(None, p[3]),
                    4326,
                    type_=GEOMETRY,
                )
                for p in bbox_parts(q.bbox)
            ]
            conds.append(or_(*[func.ST_Intersects(geom, e) for e in envs]))
        if q.datetime is not None:
            conds.append(self.datetime_condition(q.datetime))
        if q.filter is not None:
            conds.append(cql.to_sql(q.filter, self.resolve, geom))
        return conds

    def datetime_condition(self, iv: Interval) -> ColumnElement[bool]:
        if self.spec.datetime_column is None:
            return true()  # OGC API: datetime is ignored for collections without time
        c = self.spec.column(self.spec.datetime_column, True)
        assert c is not None
        col = cast(self.column_expr(c), DateTime(timezone=True))
        parts: list[ColumnElement[bool]] = []
        if iv.start is not None:
            parts.append(col >= bindparam(None, iv.start, type_=DateTime(timezone=True)))
        if iv.end is not None:
            end = bindparam(None, iv.end, type_=DateTime(timezone=True))
            parts.append(col <= end if iv.end_inclusive else col < end)
        return and_(*parts) if parts else true()

    # -- statements ------------------------------------------------------------------------
    def selected(self, names: list[str] | None) -> tuple[Column, ...]:
        cols = self.columns()
        if names is None:
            return cols
        by = {c.name: c for c in cols}
        return tuple(by[n] for n in names if n in by)

    def items(self, q: Query, *, precision: int = 6) -> Select[Any]:
        """id, the selected properties and the geometry as GeoJSON text, paged by id."""
        props = [self.column_expr(c).label(f"p_{c.name}") for c in self.selected(q.properties)]
        stmt = (
            select(
                self.id_col.label("fid"),
                *props,
                func.ST_AsGeoJSON(self.geom(), precision).label("geojson"),
            )
            .select_from(self.from_clause())
            .where(*self.where(q))
            .order_by(*self.order(q.sortby))
            .limit(q.limit)
            .offset(q.offset)
        )
        return stmt

    def order(self, sortby: tuple[tuple[str, bool], ...]) -> list[ColumnElement[Any]]:
        """ORDER BY of ``sortby`` over the properties this principal may see (empty values
        last either way), then the feature id."""
        keys: list[ColumnElement[Any]] = []
        for name, descending in sortby:
            c = self.spec.column(name, self.privileged)
            if c is None:
                allowed = ", ".join(c.name for c in self.columns())
                raise InvalidInput(f"unknown property {name!r} in sortby; properties: {allowed}")
            expr = self.column_expr(c)
            keys.append(expr.desc().nulls_last() if descending else expr.asc().nulls_last())
        return [*keys, self.id_col]

    def count(self, q: Query) -> Select[Any]:
        return select(func.count().label("n")).select_from(self.from_clause()).where(*self.where(q))

    def item(self, fid: int, q: Query | None = None) -> Select[Any]:
        """One feature by id, under the same rules as :meth:`items` (hidden rows stay hidden)."""
        q = Query(properties=q.properties if q else None, limit=1)
        stmt = self.items(q).where(self.id_col == bindparam(None, fid)).offset(None)
        return stmt

    def extent(self) -> Select[Any]:
        """The layer's extent (of what this principal may see) and its time span."""
        g = self.geom()
        cols: list[Any] = [
            func.ST_XMin(func.ST_Extent(g)).label("xmin"),
            func.ST_YMin(func.ST_Extent(g)).label("ymin"),
            func.ST_XMax(func.ST_Extent(g)).label("xmax"),
            func.ST_YMax(func.ST_Extent(g)).label("ymax"),
        ]
        if self.spec.datetime_column:
            c = self.spec.column(self.spec.datetime_column, True)
            assert c is not None
            e = cast(self.column_expr(c), DateTime(timezone=True))
            cols += [func.min(e).label("tmin"), func.max(e).label("tmax")]
        return select(*cols).select_from(self.from_clause()).where(*self.where(Query()))


def versions(tables: tuple[str, ...]) -> Select[Any]:
    """The data versions of ``tables`` (bumped by every write, see ``api.db.history``)."""
    lv = layer_versions
    return (
        select(lv.c.table_name, lv.c.version)
        .where(lv.c.table_name.in_(bindparam("tables", list(tables), expanding=True)))
        .order_by(lv.c.table_name)
    )


def parse_feature_id(value: str) -> int:
    """Feature ids are integers; anything else is simply not found."""
    try:
        fid = int(value)
    except ValueError:
        raise NotFound(f"There is no feature {value!r} in this collection.") from None
    if not -(2**63) < fid < 2**63:
        raise NotFound(f"There is no feature {value!r} in this collection.")
    return fid


def row_properties(row: Any, cols: tuple[Column, ...]) -> dict[str, Any]:
    """The properties of a result row, JSON-ready (dates as ISO strings)."""
    m = row._mapping
    out: dict[str, Any] = {}
    for c in cols:
        v = m[f"p_{c.name}"]
        if isinstance(v, dt.datetime | dt.date):
            v = v.isoformat()
        elif v is not None and c.type == "number":
            v = float(v)
        out[c.name] = v
    return out


__all__ = ["LayerSQL", "Query", "false", "literal_column", "parse_feature_id", "versions"]

"""CQL2 filters (OGC API Features Part 3): pygeofilter parses, this module builds SQL.

The parsed AST is walked into SQLAlchemy Core expressions. A property name is resolved
through the layer's allowed columns only (anything else is an error); every literal is a
bound parameter. Geometries are read as GeoJSON in EPSG:4326 (CRS84).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from pygeofilter import ast
from pygeofilter import values as pv
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Text,
    and_,
    bindparam,
    func,
    literal,
    not_,
    or_,
)

from geo.errors import InvalidInput

#: Resolves a property name to a column expression (raises InvalidInput if unknown).
Resolver = Callable[[str], ColumnElement[Any]]

FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 20_000


def parse_filter(text: str, lang: str | None = None) -> ast.Node:
    """Parse a CQL2 text or JSON filter into a pygeofilter AST.

    Raises
    ------
    InvalidInput
        For an unknown ``filter-lang`` or a filter that does not parse.
    """
    lang = lang or ("cql2-json" if text.lstrip().startswith("{") else "cql2-text")
    if lang not in FILTER_LANGS:
        raise InvalidInput(f"filter-lang must be one of {', '.join(FILTER_LANGS)}, not {lang!r}")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(f"filter is longer than {MAX_FILTER_CHARS} characters")
    try:
        if lang == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_json

            node = parse_json(json.loads(text))
        else:
            from pygeofilter.parsers.cql2_text import parse as parse_text

            node = parse_text(text)
    except InvalidInput:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"filter is not valid {lang}: {first[:300]}") from None
    if not isinstance(node, ast.Node):
        raise InvalidInput("filter must be a condition, not a bare value")
    return node


_COMPARE = {
    ast.Equal: lambda a, b: a == b,
    ast.NotEqual: lambda a, b: a != b,
    ast.LessThan: lambda a, b: a < b,
    ast.LessEqual: lambda a, b: a <= b,
    ast.GreaterThan: lambda a, b: a > b,
    ast.GreaterEqual: lambda a, b: a >= b,
}

_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}

_ARITH = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mul: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


class _Builder:
    def __init__(self, resolve: Resolver, geometry: ColumnElement[Any]) -> None:
        self.resolve = resolve
        self.geometry = geometry

    # -- values ---------------------------------------------------------------------------
    def value(self, v: Any) -> ColumnElement[Any]:
        if isinstance(v, ast.Attribute):
            if v.name in ("geometry", "geom"):
                return self.geometry
            return self.resolve(v.name)
        if type(v) in _ARITH:
            return _ARITH[type(v)](self.value(v.lhs), self.value(v.rhs))
        if isinstance(v, pv.Geometry | pv.Envelope) or (
            isinstance(v, ast.Function) and v.name.lower() == "bbox"
        ):
            return self.geom_value(v)
        if isinstance(v, ast.Function):
            raise InvalidInput(f"the function {v.name!r} is not supported in filters")
        if isinstance(v, ast.Node):
            return self.condition(v)
        if isinstance(v, bool):
            return bindparam(None, v, type_=Boolean)
        if isinstance(v, int | float):
            return bindparam(None, v, type_=Float if isinstance(v, float) else None)
        if isinstance(v, str):
            return bindparam(None, v, type_=Text)
        if isinstance(v, dt.datetime):
            return bindparam(None, v, type_=DateTime(timezone=True))
        if isinstance(v, dt.date):
            return bindparam(None, v, type_=Date)
        raise InvalidInput(f"unsupported value in filter: {v!r}")

    def geom_value(self, v: Any) -> ColumnElement[Any]:
        if isinstance(v, pv.Geometry):
            gj = dict(v.geometry)
            gj.pop("crs", None)
            return func.ST_SetSRID(func.ST_GeomFromGeoJSON(bindparam(None, json.dumps(gj))), 4326)
        # pygeofilter's CQL2-JSON parser fills Envelope positionally from [minx,miny,maxx,maxy]
        nums = [v.x1, v.x2, v.y1, v.y2] if isinstance(v, pv.Envelope) else list(v.arguments)
        if len(nums) == 6:
            nums = [nums[0], nums[1], nums[3], nums[4]]
        if len(nums) != 4 or not all(isinstance(n, int | float) for n in nums):
            raise InvalidInput("BBOX in a filter takes 4 numbers: minx, miny, maxx, maxy")
        return func.ST_MakeEnvelope(*[bindparam(None, float(n)) for n in nums], 4326)

    # -- conditions ------------------------------------------------------------------------
    def condition(self, n: Any) -> ColumnElement[bool]:
        if isinstance(n, ast.And):
            return and_(self.condition(n.lhs), self.condition(n.rhs))
        if isinstance(n, ast.Or):
            return or_(self.condition(n.lhs), self.condition(n.rhs))
        if isinstance(n, ast.Not):
            return not_(self.condition(n.sub_node))
        if isinstance(n, ast.Include):
            return literal(True) if not n.not_ else literal(False)
        if type(n) in _COMPARE:
            return _COMPARE[type(n)](self.value(n.lhs), self.value(n.rhs))
        if isinstance(n, ast.Between):
            e = self.value(n.lhs).between(self.value(n.low), self.value(n.high))
            return not_(e) if n.not_ else e
        if isinstance(n, ast.Like):
            pattern = n.pattern if isinstance(n.pattern, str) else str(n.pattern)
            # CQL2 wildcards are % and _; pygeofilter reports them, map to SQL LIKE
            if n.wildcard != "%":
                pattern = pattern.replace(n.wildcard, "%")
            col = self.value(n.lhs)
            e = col.ilike(pattern) if n.nocase else col.like(pattern)
            return not_(e) if n.not_ else e
        if isinstance(n, ast.In):
            e = self.value(n.lhs).in_([self.value(s) for s in n.sub_nodes])
            return not_(e) if n.not_ else e
        if isinstance(n, ast.IsNull):
            col = self.value(n.lhs)
            return col.is_not(None) if n.not_ else col.is_(None)
        if type(n) in _SPATIAL:
            fn = getattr(func, _SPATIAL[type(n)])
            return fn(self.value(n.lhs), self.value(n.rhs))
        if isinstance(n, ast.BBox):
            env = func.ST_MakeEnvelope(
                *[bindparam(None, float(x)) for x in (n.minx, n.miny, n.maxx, n.maxy)], 4326
            )
            return func.ST_Intersects(self.value(n.lhs), env)
        if isinstance(n, ast.TimeBefore | ast.TimeAfter | ast.TimeEquals):
            lhs, rhs = self.value(n.lhs), self.value(n.rhs)
            if isinstance(n, ast.TimeBefore):
                return lhs < rhs
            if isinstance(n, ast.TimeAfter):
                return lhs > rhs
            return lhs == rhs
        if isinstance(n, ast.TimeDuring):
            rhs = n.rhs
            if isinstance(rhs, pv.Interval):
                lhs = self.value(n.lhs)
                parts = []
                if rhs.start is not None and not isinstance(rhs.start, dt.timedelta):
                    parts.append(lhs >= self.value(rhs.start))
                if rhs.end is not None and not isinstance(rhs.end, dt.timedelta):
                    parts.append(lhs <= self.value(rhs.end))
                return and_(*parts) if parts else literal(True)
        if isinstance(n, ast.Attribute):
            col = self.resolve(n.name)
            return col.is_(True)
        raise InvalidInput(f"this filter operation is not supported: {type(n).__name__}")


def to_sql(node: ast.Node, resolve: Resolver, geometry: ColumnElement[Any]) -> ColumnElement[bool]:
    """A SQLAlchemy boolean expression for a parsed CQL2 filter.

    Parameters
    ----------
    node
        The AST from :func:`parse_filter`.
    resolve
        Maps a property name to its column (only the layer's queryables), raising
        :class:`~geo.errors.InvalidInput` for an unknown name.
    geometry
        The geometry expression the principal may query (generalised where needed).
    """
    return _Builder(resolve, geometry).condition(node)

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

#: Resolves a property name to its column and kind (raises InvalidInput if unknown).
Resolver = Callable[[str], tuple[ColumnElement[Any], str]]

#: The kinds of values a filter compares: "string", "number", "boolean", "datetime",
#: "geometry" (and "condition" for nested predicates).
KIND_OF_TYPE = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "date": "datetime",
    "datetime": "datetime",
}

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


Typed = tuple[ColumnElement[Any], str]


class _Builder:
    def __init__(self, resolve: Resolver, geometry: ColumnElement[Any]) -> None:
        self.resolve = resolve
        self.geometry = geometry

    # -- values (each with its kind, so mismatches are the user's error, not the database's)
    def typed(self, v: Any) -> Typed:
        if isinstance(v, ast.Attribute):
            if v.name in ("geometry", "geom"):
                return self.geometry, "geometry"
            return self.resolve(v.name)
        if type(v) in _ARITH:
            lhs, rhs = self.typed(v.lhs), self.typed(v.rhs)
            if lhs[1] != "number" or rhs[1] != "number":
                raise InvalidInput("arithmetic in filters works on numbers only")
            if isinstance(v, ast.Div) and isinstance(v.rhs, int | float) and v.rhs == 0:
                raise InvalidInput("division by zero in filter")
            return _ARITH[type(v)](lhs[0], rhs[0]), "number"
        if isinstance(v, pv.Geometry | pv.Envelope) or (
            isinstance(v, ast.Function) and v.name.lower() == "bbox"
        ):
            return self.geom_value(v), "geometry"
        if isinstance(v, ast.Function):
            raise InvalidInput(f"the function {v.name!r} is not supported in filters")
        if isinstance(v, ast.Node):
            return self.condition(v), "boolean"
        if isinstance(v, bool):
            return bindparam(None, v, type_=Boolean), "boolean"
        if isinstance(v, int | float):
            return bindparam(None, v, type_=Float if isinstance(v, float) else None), "number"
        if isinstance(v, str):
            return bindparam(None, v, type_=Text), "string"
        if isinstance(v, dt.datetime):
            return bindparam(None, v, type_=DateTime(timezone=True)), "datetime"
        if isinstance(v, dt.date):
            when = dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC)
            return bindparam(None, when, type_=DateTime(timezone=True)), "datetime"
        raise InvalidInput(f"unsupported value in filter: {v!r}")

    def value(self, v: Any) -> ColumnElement[Any]:
        return self.typed(v)[0]

    def same(self, what: str, *nodes: Any) -> list[ColumnElement[Any]]:
        """Values that must be of one kind (comparison, BETWEEN, IN)."""
        typed = [self.typed(n) for n in nodes]
        kinds = {k for _, k in typed}
        if len(kinds) > 1:
            raise InvalidInput(
                f"{what} compares values of different types: {', '.join(sorted(kinds))}"
            )
        if "geometry" in kinds:
            raise InvalidInput(f"{what} does not apply to geometries; use S_INTERSECTS and friends")
        return [e for e, _ in typed]

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
            lhs, rhs = self.same("a comparison", n.lhs, n.rhs)
            return _COMPARE[type(n)](lhs, rhs)
        if isinstance(n, ast.Between):
            col, low, high = self.same("BETWEEN", n.lhs, n.low, n.high)
            e = col.between(low, high)
            return not_(e) if n.not_ else e
        if isinstance(n, ast.Like):
            pattern = n.pattern if isinstance(n.pattern, str) else str(n.pattern)
            # CQL2 wildcards are % and _; pygeofilter reports them, map to SQL LIKE
            if n.wildcard != "%":
                pattern = pattern.replace(n.wildcard, "%")
            col, kind = self.typed(n.lhs)
            if kind != "string":
                raise InvalidInput("LIKE applies to text properties only")
            e = col.ilike(pattern) if n.nocase else col.like(pattern)
            return not_(e) if n.not_ else e
        if isinstance(n, ast.In):
            col, *items = self.same("IN", n.lhs, *n.sub_nodes)
            e = col.in_(items)
            return not_(e) if n.not_ else e
        if isinstance(n, ast.IsNull):
            col = self.value(n.lhs)
            return col.is_not(None) if n.not_ else col.is_(None)
        if type(n) in _SPATIAL:
            (lhs, lk), (rhs, rk) = self.typed(n.lhs), self.typed(n.rhs)
            if lk != "geometry" or rk != "geometry":
                raise InvalidInput(
                    "spatial predicates take geometries (the geometry property, WKT or BBOX)"
                )
            return getattr(func, _SPATIAL[type(n)])(lhs, rhs)  # type: ignore[no-any-return]
        if isinstance(n, ast.BBox):
            env = func.ST_MakeEnvelope(
                *[bindparam(None, float(x)) for x in (n.minx, n.miny, n.maxx, n.maxy)], 4326
            )
            col, kind = self.typed(n.lhs)
            if kind != "geometry":
                raise InvalidInput("BBOX applies to the geometry property")
            return func.ST_Intersects(col, env)
        if isinstance(n, ast.TimeBefore | ast.TimeAfter | ast.TimeEquals):
            lhs, rhs = self.same("a time comparison", n.lhs, n.rhs)
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
            col, kind = self.typed(n)
            if kind != "boolean":
                raise InvalidInput(f"{n.name!r} is not a true/false property")
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

"""CQL2 filters (OGC API Features Part 3): pygeofilter parses, this module builds SQL.

The parsed AST is translated into SQLAlchemy Core expressions by :class:`SQLEvaluator`, a
pygeofilter ``Evaluator`` with one ``@handle`` method per node type. A property name is resolved
through the layer's allowed columns only (anything else is an error); every literal is a
bound parameter. Geometries are read as GeoJSON in EPSG:4326 (CRS84).

A filter's cost is bounded before any SQL is built (:class:`Limits`): its nesting depth, its
number of parts and the vertices of its literal geometries, and every spatial predicate must
compare with a literal geometry (``S_TOUCHES(geometry, geometry)`` would compare each row with
itself at full cost and select nothing useful). Deep or long filters are measured without
recursion first, so they are refused with a message, never by a RecursionError.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pygeofilter import ast
from pygeofilter import values as pv
from pygeofilter.backends.evaluator import Evaluator, handle
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


class FilterTooCostly(InvalidInput):
    """A filter ran longer than its caller may keep the database busy."""

    code = "filter_too_costly"


FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 20_000


#: The deepest nesting any setting may allow: SQL for a filter this deep still compiles well
#: within the stack of a worker thread (measured: about 7 Python frames per level).
HARD_MAX_DEPTH = 1000


@dataclass(frozen=True)
class Limits:
    """What one filter may cost (``settings.features.filter_max_*``).

    ``max_depth``
        Nesting depth: each comparison, NOT, arithmetic operation, function call and change
        between AND and OR is one level (a chain of one of AND/OR is one level, whatever its
        length). At most :data:`HARD_MAX_DEPTH`.
    ``max_nodes``
        Parts: every operator, property and value (a geometry counts once).
    ``max_vertices``
        Vertices of all the literal geometries together.
    """

    max_depth: int = 400
    max_nodes: int = 2000
    max_vertices: int = 1000

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= HARD_MAX_DEPTH:
            raise ValueError(f"max_depth must be between 1 and {HARD_MAX_DEPTH}")


DEFAULT_LIMITS = Limits()

#: Words, quoted strings and operators of CQL2 text (numbers and punctuation left out): every
#: one is part of at most one node, and a node takes at most two (``DATE('...')``).
_TEXT_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|[A-Za-z_][\w.:]*|<>|[<>]=?|=|[-+*/]")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _refuse_long(nodes: int, limits: Limits) -> InvalidInput:
    return InvalidInput(
        f"the filter has {nodes} parts (conditions, properties and values); at most "
        f"{limits.max_nodes} are allowed: split it into several requests"
    )


def _refuse_deep(depth: int, limits: Limits) -> InvalidInput:
    return InvalidInput(
        f"the filter is nested {depth} levels deep; at most {limits.max_depth} are allowed"
    )


def _check_text(text: str, limits: Limits) -> None:
    """Cheap bounds on CQL2 text before the parser spends time on it."""
    depth = deepest = 0
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted  # '' inside a string toggles twice: still quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    # a geometry literal adds at most three levels of parentheses (MULTIPOLYGON(((...))))
    if deepest > limits.max_depth + 3:
        raise _refuse_deep(deepest, limits)
    tokens = len(_TEXT_TOKEN.findall(text))
    if tokens > 2 * limits.max_nodes:
        raise _refuse_long(tokens // 2, limits)
    numbers = len(_NUMBER.findall(text))
    if numbers > limits.max_nodes + 2 * limits.max_vertices:
        raise InvalidInput(
            f"the filter holds {numbers} numbers; at most {limits.max_vertices} vertices of "
            f"literal geometries and {limits.max_nodes} parts are allowed"
        )


def _json_depth(data: Any) -> int:
    """How deeply CQL2-JSON operations nest (the measure of :func:`check_filter`), without
    recursion."""
    deepest = 0
    stack: list[tuple[Any, int, str | None]] = [(data, 0, None)]
    while stack:
        item, depth, parent = stack.pop()
        if isinstance(item, dict):
            op = item.get("op")
            if isinstance(op, str):
                op = op.lower()
                if not (op in ("and", "or") and op == parent):
                    depth += 1
                deepest = max(deepest, depth)
                stack.extend((a, depth, op) for a in item.get("args") or () if _container(a))
            else:
                stack.extend((v, depth, None) for v in item.values() if _container(v))
        elif isinstance(item, list):
            stack.extend((v, depth, parent) for v in item if _container(v))
    return deepest


def _container(v: Any) -> bool:
    return isinstance(v, dict | list)


def _ensure_stack(depth: int) -> None:
    """Room on the Python stack for parsing, walking and compiling a filter ``depth`` deep
    (pygeofilter's CQL2-JSON parser and SQLAlchemy's compiler recurse, about 7 frames a
    level). The limit is only ever raised, and stays within what a worker thread's stack
    holds (``HARD_MAX_DEPTH``)."""
    want = 2_000 + 8 * min(depth, HARD_MAX_DEPTH)
    if sys.getrecursionlimit() < want:
        sys.setrecursionlimit(want)


def parse_filter(text: str, lang: str | None = None, limits: Limits = DEFAULT_LIMITS) -> ast.Node:
    """Parse a CQL2 text or JSON filter into a pygeofilter AST, within ``limits``.

    The outcome for a text of at most :data:`PARSE_CACHE_MAX_CHARS` is kept (the last
    :data:`PARSE_CACHE_SIZE` texts, by language and limits): a page of results and the next
    one carry the same filter, and a refused filter asked again is refused without parsing
    it again. The tree is shared, so it is only ever read.

    Raises
    ------
    InvalidInput
        For an unknown ``filter-lang``, a filter that does not parse, or one beyond
        ``limits`` or :func:`check_filter`'s rules (with the reason).
    """
    lang = lang or ("cql2-json" if text.lstrip().startswith("{") else "cql2-text")
    if lang not in FILTER_LANGS:
        raise InvalidInput(f"filter-lang must be one of {', '.join(FILTER_LANGS)}, not {lang!r}")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(f"filter is longer than {MAX_FILTER_CHARS} characters")
    if len(text) <= PARSE_CACHE_MAX_CHARS:
        outcome = _parsed_cached(text, lang, limits)
    else:
        outcome = _parsed(text, lang, limits)
    if isinstance(outcome, _Refused):
        raise outcome.error(outcome.message)
    return outcome


#: Parsed filters kept by :func:`parse_filter` (each up to about 100 kB for the longest).
PARSE_CACHE_SIZE = 128
#: Longer texts are parsed each time (a tree takes about 25 bytes a character).
PARSE_CACHE_MAX_CHARS = 4_000


@dataclass(frozen=True)
class _Refused:
    """A kept refusal: raised anew each time (a kept exception would keep its traceback)."""

    error: type[InvalidInput]
    message: str


def _parsed(text: str, lang: str, limits: Limits) -> ast.Node | _Refused:
    try:
        return _parse(text, lang, limits)
    except InvalidInput as exc:
        return _Refused(type(exc), exc.message)


_parsed_cached = functools.lru_cache(maxsize=PARSE_CACHE_SIZE)(_parsed)


def _parse(text: str, lang: str, limits: Limits) -> ast.Node:
    try:
        if lang == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_json

            data = json.loads(text)
            depth = _json_depth(data)
            if depth > limits.max_depth:
                raise _refuse_deep(depth, limits)
            _ensure_stack(depth)
            node = parse_json(data)
        else:
            from pygeofilter.parsers.cql2_text import parse as parse_text

            _check_text(text, limits)
            node = parse_text(text)
    except InvalidInput:
        raise
    except RecursionError:
        raise InvalidInput(
            f"the filter is nested too deeply; at most {limits.max_depth} levels are allowed"
        ) from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"filter is not valid {lang}: {first[:300]}") from None
    if not isinstance(node, ast.Node):
        raise InvalidInput("filter must be a condition, not a bare value")
    check_filter(node, limits)
    return node


def _is_literal_geometry(v: Any) -> bool:
    return isinstance(v, pv.Geometry | pv.Envelope) or (
        isinstance(v, ast.Function) and v.name.lower() == "bbox"
    )


def _vertices(geometry: Any) -> int:
    """Positions in a GeoJSON geometry (collections too), without recursion."""
    count = 0
    stack = [geometry.get("coordinates")] if isinstance(geometry, dict) else []
    if isinstance(geometry, dict):
        stack += [g.get("coordinates") for g in geometry.get("geometries") or ()]
    while stack:
        c = stack.pop()
        if isinstance(c, list | tuple):
            if c and all(isinstance(x, int | float) for x in c):
                count += 1
            else:
                stack.extend(c)
    return count


def _children(v: Any) -> list[Any]:
    if isinstance(v, ast.Node):
        return list(v.get_sub_nodes())
    if isinstance(v, pv.Interval):
        return [v.start, v.end]
    if isinstance(v, list | tuple):
        return list(v)
    return []


#: Spatial predicates: each must compare with a literal geometry.
_SPATIAL_NODES = (ast.SpatialComparisonPredicate, ast.Relate, ast.SpatialDistancePredicate)


def check_filter(node: ast.Node, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a parsed filter beyond ``limits`` or with a spatial predicate that has no
    literal geometry, walking it without recursion.

    Raises
    ------
    InvalidInput
        Saying which bound the filter exceeds, or which predicate compares the geometry
        with itself.
    """
    nodes = vertices = deepest = 0
    stack: list[tuple[Any, int, type | None]] = [(node, 0, None)]
    while stack:
        v, depth, parent = stack.pop()
        if v is None:
            continue
        nodes += 1
        if nodes > limits.max_nodes:
            raise _refuse_long(nodes, limits)
        if isinstance(v, pv.Geometry):
            vertices += _vertices(v.geometry)
            if vertices > limits.max_vertices:
                raise InvalidInput(
                    f"the literal geometries in the filter have more than "
                    f"{limits.max_vertices} vertices; simplify them or use BBOX"
                )
            continue
        chained = isinstance(v, ast.And | ast.Or) and type(v) is parent
        if isinstance(v, ast.Node) and not isinstance(v, ast.Attribute) and not chained:
            depth += 1
            if depth > limits.max_depth:
                raise _refuse_deep(depth, limits)
            deepest = max(deepest, depth)
        if isinstance(v, _SPATIAL_NODES) and not (
            _is_literal_geometry(v.lhs) or _is_literal_geometry(v.rhs)
        ):
            raise InvalidInput(
                f"{_spatial_name(v)} must compare the geometry with a literal geometry "
                "(WKT, GeoJSON or BBOX); comparing the geometry with itself or another "
                "property is not allowed, as it reads every row at full cost"
            )
        # reversed, so that the walk (and the first error it reports) runs left to right
        stack.extend((c, depth, type(v)) for c in reversed(_children(v)))
    _ensure_stack(deepest)


def _spatial_name(v: Any) -> str:
    name = type(v).__name__.removeprefix("Geometry")
    return {"Relate": "S_RELATE"}.get(name, f"S_{name.upper()}")


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


#: A translated value: its SQL expression and its kind (see :data:`KIND_OF_TYPE`; a nested
#: predicate is a "condition").
Typed = tuple[ColumnElement[Any], str]


def _negated(node: Any, e: ColumnElement[bool]) -> Typed:
    return (not_(e) if node.not_ else e), "condition"


class SQLEvaluator(Evaluator):
    """Translates a parsed CQL2 filter into SQLAlchemy Core, one ``@handle`` per node type.

    pygeofilter's :class:`~pygeofilter.backends.evaluator.Evaluator` evaluates the operands of
    a node first and passes them to its handler; every handler returns a :data:`Typed` pair so
    that comparing values of different kinds is the user's error, reported before SQL runs.
    Handlers that need an operand as written (a LIKE pattern, BBOX numbers, an interval) read
    it from the node itself.
    """

    def __init__(self, resolve: Resolver, geometry: ColumnElement[Any]) -> None:
        self.resolve = resolve
        self.geometry = geometry

    def evaluate(self, node: Any, adopt_result: bool = True) -> Any:
        # a chain of one operator (a AND b AND c ...) becomes one flat AND/OR, evaluated
        # without recursing along the chain
        if isinstance(node, ast.And | ast.Or):
            join = and_ if isinstance(node, ast.And) else or_
            return join(*[_condition(self.evaluate(c, False)) for c in _chain(node)]), "condition"
        if isinstance(node, pv.Interval):
            return node  # its ends may be open (None) or durations: read by TimeDuring
        return super().evaluate(node, adopt_result)

    def adopt(self, node: Any, *sub_args: Any) -> Typed:
        if isinstance(node, ast.Function):
            raise InvalidInput(f"the function {node.name!r} is not supported in filters")
        if isinstance(node, ast.Node):
            raise InvalidInput(f"this filter operation is not supported: {type(node).__name__}")
        raise InvalidInput(f"unsupported value in filter: {node!r}")

    # -- values ----------------------------------------------------------------------------
    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> Typed:
        if node.name in ("geometry", "geom"):
            return self.geometry, "geometry"
        return self.resolve(node.name)

    @handle(bool)
    def boolean(self, v: bool) -> Typed:
        return bindparam(None, v, type_=Boolean), "boolean"

    @handle(int, float)
    def number(self, v: float) -> Typed:
        return bindparam(None, v, type_=Float if isinstance(v, float) else None), "number"

    @handle(str)
    def string(self, v: str) -> Typed:
        return bindparam(None, v, type_=Text), "string"

    @handle(dt.datetime)
    def timestamp(self, v: dt.datetime) -> Typed:
        return bindparam(None, v, type_=DateTime(timezone=True)), "datetime"

    @handle(dt.date)
    def date(self, v: dt.date) -> Typed:
        when = dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC)
        return bindparam(None, when, type_=DateTime(timezone=True)), "datetime"

    @handle(pv.Geometry)
    def geometry_literal(self, v: pv.Geometry) -> Typed:
        gj = dict(v.geometry)
        gj.pop("crs", None)
        geojson = func.ST_GeomFromGeoJSON(bindparam(None, json.dumps(gj)))
        return func.ST_SetSRID(geojson, 4326), "geometry"

    @handle(pv.Envelope)
    def envelope(self, v: pv.Envelope) -> Typed:
        # pygeofilter's CQL2-JSON parser fills Envelope positionally from [minx,miny,maxx,maxy]
        return _envelope([v.x1, v.x2, v.y1, v.y2]), "geometry"

    @handle(ast.Function)
    def function(self, node: ast.Function, *args: Any) -> Typed:
        if node.name.lower() != "bbox":
            return self.adopt(node)
        return _envelope(list(node.arguments)), "geometry"

    @handle(ast.Add, ast.Sub, ast.Mul, ast.Div)
    def arithmetic(self, node: Any, lhs: Typed, rhs: Typed) -> Typed:
        if lhs[1] != "number" or rhs[1] != "number":
            raise InvalidInput("arithmetic in filters works on numbers only")
        if isinstance(node, ast.Div) and isinstance(node.rhs, int | float) and node.rhs == 0:
            raise InvalidInput("division by zero in filter")
        return _ARITH[type(node)](lhs[0], rhs[0]), "number"

    # -- conditions ------------------------------------------------------------------------
    @handle(ast.Not)
    def negation(self, node: ast.Not, sub: Typed) -> Typed:
        return not_(_condition(sub)), "condition"

    @handle(ast.Include)
    def include(self, node: ast.Include) -> Typed:
        return literal(not node.not_), "condition"

    @handle(*_COMPARE)
    def comparison(self, node: Any, lhs: Typed, rhs: Typed) -> Typed:
        a, b = _same("a comparison", lhs, rhs)
        return _COMPARE[type(node)](a, b), "condition"

    @handle(ast.Between)
    def between(self, node: ast.Between, col: Typed, low: Typed, high: Typed) -> Typed:
        c, lo, hi = _same("BETWEEN", col, low, high)
        return _negated(node, c.between(lo, hi))

    @handle(ast.Like)
    def like(self, node: ast.Like, col: Typed, *_: Any) -> Typed:
        pattern = node.pattern if isinstance(node.pattern, str) else str(node.pattern)
        # CQL2 wildcards are % and _; pygeofilter reports them, map to SQL LIKE
        if node.wildcard != "%":
            pattern = pattern.replace(node.wildcard, "%")
        if col[1] != "string":
            raise InvalidInput("LIKE applies to text properties only")
        return _negated(node, col[0].ilike(pattern) if node.nocase else col[0].like(pattern))

    @handle(ast.In)
    def within_list(self, node: ast.In, col: Typed, *items: Typed) -> Typed:
        c, *values = _same("IN", col, *items)
        return _negated(node, c.in_(values))

    @handle(ast.IsNull)
    def is_null(self, node: ast.IsNull, col: Typed) -> Typed:
        return (col[0].is_not(None) if node.not_ else col[0].is_(None)), "condition"

    @handle(*_SPATIAL)
    def spatial(self, node: Any, lhs: Typed, rhs: Typed) -> Typed:
        if not (_is_literal_geometry(node.lhs) or _is_literal_geometry(node.rhs)):
            raise InvalidInput(f"{_spatial_name(node)} must compare with a literal geometry")
        if lhs[1] != "geometry" or rhs[1] != "geometry":
            raise InvalidInput(
                "spatial predicates take geometries (the geometry property, WKT or BBOX)"
            )
        return getattr(func, _SPATIAL[type(node)])(lhs[0], rhs[0]), "condition"

    @handle(ast.BBox)
    def bbox(self, node: ast.BBox, col: Typed, *_: Any) -> Typed:
        if col[1] != "geometry":
            raise InvalidInput("BBOX applies to the geometry property")
        env = _envelope([node.minx, node.miny, node.maxx, node.maxy])
        return func.ST_Intersects(col[0], env), "condition"

    @handle(ast.TimeBefore, ast.TimeAfter, ast.TimeEquals)
    def time_comparison(self, node: Any, lhs: Typed, rhs: Typed) -> Typed:
        a, b = _same("a time comparison", lhs, rhs)
        if isinstance(node, ast.TimeBefore):
            return a < b, "condition"
        if isinstance(node, ast.TimeAfter):
            return a > b, "condition"
        return a == b, "condition"

    @handle(ast.TimeDuring)
    def during(self, node: ast.TimeDuring, lhs: Typed, rhs: Any) -> Typed:
        if not isinstance(node.rhs, pv.Interval):
            return self.adopt(node)
        parts = [
            op(lhs[0], self.evaluate(end, False)[0])
            for end, op in ((node.rhs.start, _at_least), (node.rhs.end, _at_most))
            if end is not None and not isinstance(end, dt.timedelta)
        ]
        return (and_(*parts) if parts else literal(True)), "condition"


def _at_least(a: Any, b: Any) -> Any:
    return a >= b


def _at_most(a: Any, b: Any) -> Any:
    return a <= b


def _envelope(nums: list[Any]) -> ColumnElement[Any]:
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or not all(isinstance(n, int | float) for n in nums):
        raise InvalidInput("BBOX in a filter takes 4 numbers: minx, miny, maxx, maxy")
    return func.ST_MakeEnvelope(*[bindparam(None, float(n)) for n in nums], 4326)


def _same(what: str, *typed: Typed) -> list[ColumnElement[Any]]:
    """Values that must be of one kind (comparison, BETWEEN, IN)."""
    kinds = {"boolean" if k == "condition" else k for _, k in typed}
    if len(kinds) > 1:
        raise InvalidInput(f"{what} compares values of different types: {', '.join(sorted(kinds))}")
    if "geometry" in kinds:
        raise InvalidInput(f"{what} does not apply to geometries; use S_INTERSECTS and friends")
    return [e for e, _ in typed]


def _condition(typed: Typed) -> ColumnElement[bool]:
    """A value used as a condition: predicates as they are, a boolean property as ``IS TRUE``."""
    expr, kind = typed
    if kind == "condition":
        return expr
    if kind == "boolean":
        return expr.is_(True)
    raise InvalidInput(f"a {kind} value is not a condition; compare it with something")


def _chain(n: ast.And | ast.Or) -> Iterator[Any]:
    """The operands of a chain of one operator (``a AND b AND c``), left to right."""
    stack: list[Any] = [n]
    while stack:
        v = stack.pop()
        if type(v) is type(n):
            stack += [v.rhs, v.lhs]
        else:
            yield v


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
    try:
        return _condition(SQLEvaluator(resolve, geometry).evaluate(node))
    except RecursionError:
        raise InvalidInput("the filter is nested too deeply to be run") from None

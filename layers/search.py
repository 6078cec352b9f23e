"""Name search over Irbis's own published names: settlements, places, districts, protected
areas, lakes, peaks, ranges and grants (by code or title), in English, Russian and Kazakh.

A name matches when it, or one of its words, starts with the query, case-insensitively
(PostgreSQL ``ILIKE``; ``%`` and ``_`` in the query are literal). Each layer is read through
:class:`~layers.sql.LayerSQL` as the public sees it (``where_public``); layers that generalise
locations for the public are never searched. Exact names come first, then the more important
kinds (cities before villages), then shorter names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from geo.errors import InvalidInput
from layers.registry import get_layer, layer_ids
from layers.sql import LayerSQL

#: The longest query accepted (characters).
MAX_QUERY = 80
#: The most results answered.
MAX_RESULTS = 20


@dataclass(frozen=True)
class SearchSource:
    """One layer's searchable names.

    ``columns``: the columns searched; ``names``: per language, the columns tried in order for
    the name shown; ``rank``: lower first among equally good matches; ``weight``: a numeric
    column, higher first within a rank (population).
    """

    layer: str
    columns: tuple[str, ...]
    names: dict[str, tuple[str, ...]]
    rank: int
    weight: str | None = None


SOURCES: tuple[SearchSource, ...] = (
    SearchSource(
        "settlements",
        ("name", "name_en", "name_ru", "name_kk"),
        {
            "en": ("name_en", "name"),
            "ru": ("name_ru", "name", "name_en"),
            "kk": ("name_kk", "name_ru", "name", "name_en"),
        },
        rank=1,
        weight="population",
    ),
    SearchSource(
        "places",
        ("name", "name_ru"),
        {"en": ("name",), "ru": ("name_ru", "name"), "kk": ("name_ru", "name")},
        rank=2,
        weight="population",
    ),
    SearchSource(
        "protected_areas",
        ("name", "original_name"),
        {"en": ("name",), "ru": ("name",), "kk": ("original_name", "name")},
        rank=3,
    ),
    SearchSource(
        "districts",
        ("name_en", "name_ru", "name_kk"),
        {"en": ("name_en",), "ru": ("name_ru", "name_en"), "kk": ("name_kk", "name_ru")},
        rank=4,
    ),
    SearchSource("grants", ("code", "title"), {"en": ("title", "code")}, rank=5),
    SearchSource("lakes", ("name",), {"en": ("name",)}, rank=6),
    SearchSource("regions", ("name",), {"en": ("name",)}, rank=6),
    SearchSource("peaks", ("name",), {"en": ("name",)}, rank=7),
)

_LIKE_ESCAPE = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def clean_query(q: str | None) -> str:
    """The query as searched: trimmed, spaces collapsed; :class:`InvalidInput` if empty,
    longer than :data:`MAX_QUERY` characters or with control characters."""
    text = " ".join((q or "").split())
    if not text:
        raise InvalidInput("Type a name to search for (the parameter q is empty).")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput("The search text contains control characters; type a name.")
    if len(text) > MAX_QUERY:
        raise InvalidInput(
            f"The search text is {len(text)} characters long; at most {MAX_QUERY} are searched."
        )
    return text


def _name(view: LayerSQL, cols: tuple[str, ...]) -> ColumnElement[Any]:
    exprs = [func.nullif(func.btrim(view.column_of(c, String)), "") for c in cols]
    return func.coalesce(*exprs) if len(exprs) > 1 else exprs[0]


def search_query(
    q: str, lang: str, *, limit: int = 10, sources: tuple[SearchSource, ...] = SOURCES
) -> Select[Any]:
    """Rows of ``layer``, ``id``, ``name`` (in ``lang``, falling back), ``matched`` (the name
    that matched), ``lon``, ``lat`` (a point on the feature) and its bbox (``xmin`` ...)."""
    text = clean_query(q)
    limit = max(1, min(int(limit), MAX_RESULTS))
    escaped = text.translate(_LIKE_ESCAPE)
    prefix = bindparam("prefix", escaped + "%", type_=String)
    word = bindparam("word", "% " + escaped + "%", type_=String)
    exact = bindparam("exact", text.lower(), type_=String)
    published = set(layer_ids())
    parts = []
    for src in sources:
        if src.layer not in published:
            continue
        spec = get_layer(src.layer)
        if spec.sensitivity is not None:
            raise ValueError(f"layer {spec.id!r} generalises locations: it is never searched")
        view = LayerSQL(spec, privileged=False)
        cols = [view.column_of(c, String) for c in src.columns]
        hits = [or_(c.ilike(prefix, escape="\\"), c.ilike(word, escape="\\")) for c in cols]
        matched = func.coalesce(
            *(case((h, c), else_=null()) for h, c in zip(hits, cols, strict=True))
        )
        is_exact = or_(*(func.lower(c) == exact for c in cols))
        geom = view.raw_geom
        point = func.ST_PointOnSurface(geom)
        names = src.names.get(lang) or src.names["en"]
        weight = (
            cast(func.coalesce(view.column_of(src.weight, Float), 0), Float)
            if src.weight
            else literal(0.0, Float)
        )
        parts.append(
            select(
                literal(src.layer, String).label("layer"),
                cast(view.id_col, Integer).label("id"),
                _name(view, names).label("name"),
                matched.label("matched"),
                case((is_exact, 0), else_=1).label("exact"),
                literal(src.rank, Integer).label("rank"),
                weight.label("weight"),
                func.round(cast(func.ST_X(point), Numeric), 5).label("lon"),
                func.round(cast(func.ST_Y(point), Numeric), 5).label("lat"),
                cast(func.ST_XMin(geom), Float).label("xmin"),
                cast(func.ST_YMin(geom), Float).label("ymin"),
                cast(func.ST_XMax(geom), Float).label("xmax"),
                cast(func.ST_YMax(geom), Float).label("ymax"),
            )
            .select_from(view.from_clause())
            .where(*view.where_public(), geom.is_not(null()), or_(*hits))
        )
    u = union_all(*parts).subquery("found")
    return (
        select(u)
        .order_by(
            u.c.exact, u.c.rank, u.c.weight.desc(), func.length(u.c.matched), u.c.matched, u.c.id
        )
        .limit(limit)
    )

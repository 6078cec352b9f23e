"""Name search over Irbis's own published names: settlements, places, districts, protected
areas, lakes, peaks, ranges and grants (by code or title), in English, Russian and Kazakh, and
in Latin letters for names the data has in Cyrillic only.

A name matches when it, or one of its words, starts with the query, case-insensitively
(PostgreSQL ``ILIKE``; ``%`` and ``_`` in the query are literal). Settlements also match by the
Latin forms of their Cyrillic names (``settlements.name_latin``, :mod:`geo.names`): "Kaskelen"
finds Қаскелең. A query of letters only (at least :data:`MIN_FUZZY`) also matches names that
are spelt a little differently: its word similarity (``pg_trgm``'s ``<%``) to a name, or to
a stretch of one, is at least :data:`SIMILARITY`, so "Shimkent" finds Shymkent and "Jambyl"
Zhambyl. Settlement names have trigram indexes (migration 0014), so neither scans them.

Such a query is also matched by its search key (:func:`geo.names.search_key`: the spelling
variants of one name, and the Cyrillic letters they stand for, folded onto one spelling) in the
same three ways: against the keys stored among the settlements' Latin forms, and against the
names of the other layers (English, Russian and Kazakh) folded by the database with the same
steps (:func:`fold`; those layers are small). So "Beineu" finds Бейнеу (Beyneu), "Issyk" the
lake Иссык-Куль, "Ystyqkol" Ыстықкөл and "Mangystau" Маңғыстау, whatever the script of the name
in the data.

Each layer is read through :class:`~layers.sql.LayerSQL` as the public sees it
(``where_public``); layers that generalise locations for the public are never searched. Exact
names come first, then names that start with the query, then names alike by similarity (the
more alike first); among equals the more important kinds (cities before villages), then
shorter names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
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
from geo.names import FOLD, SEPARATOR, search_key
from layers.registry import get_layer, layer_ids
from layers.sql import LayerSQL

#: The longest query accepted (characters).
MAX_QUERY = 80
#: The most results answered.
MAX_RESULTS = 20
#: The fewest letters a query needs to match names by similarity as well as by their beginning.
MIN_FUZZY = 4
#: How alike a query and a name (or a stretch of it) must be: ``pg_trgm``'s word similarity
#: (the share of the query's trigrams found in the name's most alike stretch). 0.5 takes
#: "Shimkent" for Shymkent, "Jambyl" for Zhambyl and "Kaskelen" for Qaskeleng.
SIMILARITY = 0.5


@dataclass(frozen=True)
class SearchSource:
    """One layer's searchable names.

    ``columns``: the columns searched; ``names``: per language, the columns tried in order for
    the name shown; ``rank``: lower first among equally good matches; ``weight``: a numeric
    column, higher first within a rank (population); ``latin``: a column of Latin forms of the
    names and their search keys (:func:`geo.names.latin_names`), searched like ``columns``
    and by the query's key, and shown as ``name``; ``fold``: whether ``columns`` are also
    matched by the query's key, folded by the database (:func:`fold`: for small layers, as it
    reads every row).
    """

    layer: str
    columns: tuple[str, ...]
    names: dict[str, tuple[str, ...]]
    rank: int
    weight: str | None = None
    latin: str | None = None
    fold: bool = True


#: Names in the reader's language where the data has them (Kazakh falls back to Russian).
_NATIVE_NAMES = {
    "en": ("name",),
    "ru": ("name_ru", "name"),
    "kk": ("name_kk", "name_ru", "name"),
}

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
        latin="name_latin",
        fold=False,
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
        ("name", "original_name", "name_ru", "name_kk"),
        {
            "en": ("name",),
            "ru": ("name_ru", "name"),
            "kk": ("name_kk", "original_name", "name_ru", "name"),
        },
        rank=3,
    ),
    SearchSource(
        "districts",
        ("name_en", "name_ru", "name_kk"),
        {"en": ("name_en",), "ru": ("name_ru", "name_en"), "kk": ("name_kk", "name_ru")},
        rank=4,
    ),
    SearchSource("grants", ("code", "title"), {"en": ("title", "code")}, rank=5, fold=False),
    SearchSource("lakes", ("name", "name_ru", "name_kk"), _NATIVE_NAMES, rank=6),
    SearchSource(
        "regions",
        ("name", "name_en", "name_ru", "name_kk"),
        {
            "en": ("name_en", "name"),
            "ru": ("name_ru", "name_en", "name"),
            "kk": ("name_kk", "name_ru", "name_en", "name"),
        },
        rank=6,
    ),
    SearchSource("peaks", ("name", "name_ru", "name_kk"), _NATIVE_NAMES, rank=7),
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


def fuzzy(text: str) -> bool:
    """Whether the (clean) query also matches names by similarity: letters, spaces, hyphens,
    apostrophes and dots only, with at least :data:`MIN_FUZZY` letters."""
    letters = sum(c.isalpha() for c in text)
    return letters >= MIN_FUZZY and all(c.isalpha() or c in " -'’." for c in text)


def fold(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """:func:`geo.names.search_key` of ``expr``, computed by the database with the same steps
    (:data:`geo.names.FOLD`: ``translate`` and ``regexp_replace``)."""
    out: ColumnElement[Any] = func.lower(expr)
    for step in FOLD:
        if step.kind == "translate":
            out = func.translate(out, step.source, step.target)
        else:
            out = func.regexp_replace(out, step.source, step.target, "g")
    return func.btrim(out)


def _name(view: LayerSQL, cols: tuple[str, ...]) -> ColumnElement[Any]:
    exprs = [func.nullif(func.btrim(view.column_of(c, String)), "") for c in cols]
    return func.coalesce(*exprs) if len(exprs) > 1 else exprs[0]


def _first(pairs: list[tuple[ColumnElement[bool], ColumnElement[Any]]]) -> ColumnElement[Any]:
    """The value of the first pair whose condition holds (else NULL)."""
    return func.coalesce(*(case((cond, value), else_=null()) for cond, value in pairs))


def _whereabouts(geom: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """A found feature's ``lon``, ``lat`` (a point on it, 5 decimals) and bbox (``xmin`` ...)."""
    point = func.ST_PointOnSurface(geom)
    return [
        func.round(cast(func.ST_X(point), Numeric), 5).label("lon"),
        func.round(cast(func.ST_Y(point), Numeric), 5).label("lat"),
        cast(func.ST_XMin(geom), Float).label("xmin"),
        cast(func.ST_YMin(geom), Float).label("ymin"),
        cast(func.ST_XMax(geom), Float).label("xmax"),
        cast(func.ST_YMax(geom), Float).label("ymax"),
    ]


def search_query(
    q: str, lang: str, *, limit: int = 10, sources: tuple[SearchSource, ...] = SOURCES
) -> Select[Any]:
    """Rows of ``layer``, ``id``, ``name`` (in ``lang``, falling back), ``matched`` (the name
    that matched), ``lon``, ``lat`` (a point on the feature) and its bbox (``xmin`` ...).

    Matching by similarity uses ``pg_trgm``'s ``<%`` operator, whose bound is the setting
    ``pg_trgm.word_similarity_threshold``: :func:`prepare` sets it to :data:`SIMILARITY` for
    the query's transaction (on its own, the operator uses the server's bound, 0.6 by
    default). :func:`find` runs it so."""
    text = clean_query(q)
    limit = max(1, min(int(limit), MAX_RESULTS))
    escaped = text.translate(_LIKE_ESCAPE)
    prefix = bindparam("prefix", escaped + "%", type_=String)
    word = bindparam("word", "% " + escaped + "%", type_=String)
    exact = bindparam("exact", text.lower(), type_=String)
    alike = bindparam("alike", text, type_=String)
    by_similarity = fuzzy(text)
    key = search_key(text) if by_similarity else ""
    key_exact = bindparam("key", key, type_=String)
    key_hits = (
        bindparam("key_prefix", key.translate(_LIKE_ESCAPE) + "%", type_=String),
        bindparam("key_word", "% " + key.translate(_LIKE_ESCAPE) + "%", type_=String),
    )
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
        shown = cols.copy()  # what a match on each searched column shows as ``matched``
        is_exact = [func.lower(c) == exact for c in cols]
        keyed: list[ColumnElement[Any]] = []  # matched by the query's key
        keyed_shown: list[ColumnElement[Any]] = []
        stored = 0  # how many of ``keyed`` are stored keys (the Latin forms), first
        if src.latin:
            latin = view.column_of(src.latin, String)
            cols.append(latin)
            shown.append(_name(view, ("name", *src.columns)))
            forms = func.string_to_array(func.lower(latin), SEPARATOR)
            is_exact.append(exact == func.any(forms))
            if key and key != text.lower():  # else the query itself finds the key
                keyed.append(latin)
                keyed_shown.append(shown[-1])
                stored = 1
                is_exact.append(key_exact == func.any(forms))
        found_in = view.from_clause()
        if key and src.fold:
            # each name folded once (a materialised CTE): the expressions would be computed
            # for each of their five uses otherwise
            keys = (
                select(
                    view.id_col.label("id"),
                    *(fold(c).label(f"key{i}") for i, c in enumerate(cols[: len(src.columns)])),
                )
                .select_from(view.from_clause())
                .cte(f"{src.layer}_keys")
                .prefix_with("MATERIALIZED")
            )
            found_in = found_in.join(keys, keys.c.id == view.id_col)
            for i, c in enumerate(cols[: len(src.columns)]):
                keyed.append(keys.c[f"key{i}"])
                keyed_shown.append(c)
                is_exact.append(keyed[-1] == key_exact)
        hits = [or_(c.ilike(prefix, escape="\\"), c.ilike(word, escape="\\")) for c in cols]
        hits += [or_(*(c.like(p, escape="\\") for p in key_hits)) for c in keyed]
        # the rows: the stored keys are found by similarity alone (a key that starts one of
        # them is alike enough), so that the settlements' Latin forms are read through one
        # index scan rather than three, which the planner would rather not pay for
        found = hits[: len(cols)] + hits[len(cols) + stored :]
        pairs = list(zip(hits, shown + keyed_shown, strict=True))
        alikes: list[ColumnElement[bool]] = []
        score: ColumnElement[Any] = literal(0.0, Float)
        if by_similarity:
            alikes = [alike.op("<%", is_comparison=True)(c) for c in cols]
            alikes += [key_exact.op("<%", is_comparison=True)(c) for c in keyed]
            pairs += zip(alikes, shown + keyed_shown, strict=True)
            similar = [func.word_similarity(alike, c) for c in cols]
            similar += [func.word_similarity(key_exact, c) for c in keyed]
            score = func.greatest(*(func.coalesce(s, 0) for s in similar))
        started = or_(*hits)
        matched = _first(pairs)
        geom = view.raw_geom
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
                case((or_(*is_exact), 0), else_=1).label("exact"),
                case((started, 0), else_=1).label("alike"),
                case((started, 1.0), else_=cast(score, Float)).label("score"),
                literal(src.rank, Integer).label("rank"),
                weight.label("weight"),
                *_whereabouts(geom),
            )
            .select_from(found_in)
            .where(*view.where_public(), or_(*found, *alikes))
        )
    u = union_all(*parts).subquery("found")
    return (
        select(u)
        # features without a geometry cannot be shown: asked of the found rows (as
        # ``geom IS NOT NULL`` in each part, it would let the planner read a whole table
        # through its spatial index rather than its names through their trigram indexes)
        .where(u.c.lon.is_not(null()))
        .order_by(
            u.c.exact,
            u.c.alike,
            u.c.score.desc(),
            u.c.rank,
            u.c.weight.desc(),
            func.length(u.c.matched),
            u.c.matched,
            u.c.id,
        )
        .limit(limit)
    )


#: Settings of the search's transaction (``set_config(..., true)``). ``<%``'s bound; and the
#: planner: it prices ``ILIKE`` and ``<%`` like an equality, so a sequential scan of the ten
#: thousand settlements, comparing each of five names three ways (hundreds of milliseconds),
#: looks cheaper to it than the trigram indexes (a millisecond); for the same reason it would
#: JIT-compile the query, which costs more than running it.
SESSION = {
    "pg_trgm.word_similarity_threshold": str(SIMILARITY),
    "enable_seqscan": "off",
    "jit": "off",
}


def prepare(conn: Connection) -> None:
    """Apply :data:`SESSION` to ``conn``'s transaction (it ends with it)."""
    conn.execute(select(*(func.set_config(k, v, True) for k, v in SESSION.items())))


def find(engine: Engine, q: str, lang: str, *, limit: int = 10) -> list[Any]:
    """The rows of :func:`search_query`, read in a transaction of their own with
    :data:`SESSION`'s settings (set locally: the connection goes back to the pool as it
    came)."""
    query = search_query(q, lang, limit=limit)
    with engine.connect() as conn, conn.begin():
        prepare(conn)
        return list(conn.execute(query).all())

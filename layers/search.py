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

Settlements and places also match by their well-known former names (``former_names``,
migration 0017, from the reviewed list ``api/demo/former_names.csv``), each of them like a
name, and are shown by their current name: "Issyk" finds the town Esik, "Semipalatinsk" Semey,
"Frunze" Bishkek.

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
from geo.messages import en
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
    reads every row); ``listed``: those of ``columns`` that hold several names separated by
    :data:`~geo.names.SEPARATOR` (former names), each of which matches exactly.
    """

    layer: str
    columns: tuple[str, ...]
    names: dict[str, tuple[str, ...]]
    rank: int
    weight: str | None = None
    latin: str | None = None
    fold: bool = True
    listed: tuple[str, ...] = ()


#: Names in the reader's language where the data has them (Kazakh falls back to Russian).
_NATIVE_NAMES = {
    "en": ("name",),
    "ru": ("name_ru", "name"),
    "kk": ("name_kk", "name_ru", "name"),
}

SOURCES: tuple[SearchSource, ...] = (
    SearchSource(
        "settlements",
        ("name", "name_en", "name_ru", "name_kk", "former_names"),
        {
            "en": ("name_en", "name"),
            "ru": ("name_ru", "name", "name_en"),
            "kk": ("name_kk", "name_ru", "name", "name_en"),
        },
        rank=1,
        weight="population",
        latin="name_latin",
        fold=False,
        listed=("former_names",),
    ),
    SearchSource(
        "places",
        ("name", "name_ru", "former_names"),
        {"en": ("name",), "ru": ("name_ru", "name"), "kk": ("name_ru", "name")},
        rank=2,
        weight="population",
        listed=("former_names",),
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
        raise InvalidInput(en("Type a name to search for (the parameter q is empty)."))
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput(en("The search text contains control characters; type a name."))
    if len(text) > MAX_QUERY:
        raise InvalidInput(
            en(
                "The search text is {length} characters long; at most {most} are searched.",
                length=len(text),
                most=MAX_QUERY,
            )
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


@dataclass(frozen=True)
class _Query:
    """A clean query's bound values, shared by every layer's part of the search."""

    text: str
    prefix: Any  # ``text%``
    word: Any  # ``% text%``: a later word starts with it
    exact: Any  # the text, lower case
    alike: Any  # the text, for similarity
    by_similarity: bool
    key: str  # its search key ("" when it is not matched by similarity)
    key_exact: Any
    key_hits: tuple[Any, Any]  # the key as a prefix, and starting a later word

    def values(self) -> dict[str, str]:
        """The query's values by the names of their bound parameters."""
        params = (self.prefix, self.word, self.exact, self.alike, self.key_exact, *self.key_hits)
        return {p.key: p.value for p in params}

    def shape(self) -> tuple[bool, bool]:
        """What decides the statement's form besides the language and the limit: matching by
        similarity (and by the key), and whether the key differs from the text."""
        return self.by_similarity, bool(self.key) and self.key != self.text.lower()

    @classmethod
    def of(cls, text: str) -> _Query:
        escaped = text.translate(_LIKE_ESCAPE)
        by_similarity = fuzzy(text)
        key = search_key(text) if by_similarity else ""
        return cls(
            text=text,
            prefix=bindparam("prefix", escaped + "%", type_=String),
            word=bindparam("word", "% " + escaped + "%", type_=String),
            exact=bindparam("exact", text.lower(), type_=String),
            alike=bindparam("alike", text, type_=String),
            by_similarity=by_similarity,
            key=key,
            key_exact=bindparam("key", key, type_=String),
            key_hits=(
                bindparam("key_prefix", key.translate(_LIKE_ESCAPE) + "%", type_=String),
                bindparam("key_word", "% " + key.translate(_LIKE_ESCAPE) + "%", type_=String),
            ),
        )


@dataclass
class _Columns:
    """What one layer's part compares with the query: ``cols`` (matched by the text) shown
    as ``shown``; ``keyed`` (matched by the query's key) shown as ``keyed_shown``, of which
    the first ``stored`` are stored keys (the Latin forms); ``is_exact`` the conditions of an
    exact match; ``found_in`` the rows, joined to their folded names."""

    cols: list[ColumnElement[Any]]
    shown: list[ColumnElement[Any]]
    is_exact: list[ColumnElement[bool]]
    keyed: list[ColumnElement[Any]]
    keyed_shown: list[ColumnElement[Any]]
    stored: int
    found_in: Any


def _columns(src: SearchSource, view: LayerSQL, query: _Query) -> _Columns:
    cols = [view.column_of(c, String) for c in src.columns]
    shown = cols.copy()  # what a match on each searched column shows as ``matched``
    exact = [
        query.exact == func.any(func.string_to_array(func.lower(c), SEPARATOR))
        if name in src.listed
        else func.lower(c) == query.exact
        for name, c in zip(src.columns, cols, strict=True)
    ]
    out = _Columns(cols, shown, exact, [], [], 0, None)
    key = query.key
    if src.latin:
        latin = view.column_of(src.latin, String)
        cols.append(latin)
        shown.append(_name(view, ("name", *src.columns)))
        forms = func.string_to_array(func.lower(latin), SEPARATOR)
        out.is_exact.append(query.exact == func.any(forms))
        if key and key != query.text.lower():  # else the query itself finds the key
            out.keyed.append(latin)
            out.keyed_shown.append(shown[-1])
            out.stored = 1
            out.is_exact.append(query.key_exact == func.any(forms))
    out.found_in = view.from_clause()
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
        out.found_in = out.found_in.join(keys, keys.c.id == view.id_col)
        for i, c in enumerate(cols[: len(src.columns)]):
            out.keyed.append(keys.c[f"key{i}"])
            out.keyed_shown.append(c)
            out.is_exact.append(out.keyed[-1] == query.key_exact)
    return out


def _part(src: SearchSource, query: _Query, lang: str) -> Select[Any]:
    """One layer's rows of :func:`search_query`."""
    view = LayerSQL(get_layer(src.layer), privileged=False)
    c = _columns(src, view, query)
    hits = [
        or_(col.ilike(query.prefix, escape="\\"), col.ilike(query.word, escape="\\"))
        for col in c.cols
    ]
    hits += [or_(*(k.like(p, escape="\\") for p in query.key_hits)) for k in c.keyed]
    # the rows: the stored keys are found by similarity alone (a key that starts one of
    # them is alike enough), so that the settlements' Latin forms are read through one
    # index scan rather than three, which the planner would rather not pay for
    found = hits[: len(c.cols)] + hits[len(c.cols) + c.stored :]
    pairs = list(zip(hits, c.shown + c.keyed_shown, strict=True))
    alikes: list[ColumnElement[bool]] = []
    score: ColumnElement[Any] = literal(0.0, Float)
    if query.by_similarity:
        alikes = [query.alike.op("<%", is_comparison=True)(col) for col in c.cols]
        alikes += [query.key_exact.op("<%", is_comparison=True)(k) for k in c.keyed]
        pairs += zip(alikes, c.shown + c.keyed_shown, strict=True)
        similar = [func.word_similarity(query.alike, col) for col in c.cols]
        similar += [func.word_similarity(query.key_exact, k) for k in c.keyed]
        score = func.greatest(*(func.coalesce(s, 0) for s in similar))
    started = or_(*hits)
    names = src.names.get(lang) or src.names["en"]
    weight = (
        cast(func.coalesce(view.column_of(src.weight, Float), 0), Float)
        if src.weight
        else literal(0.0, Float)
    )
    return (
        select(
            literal(src.layer, String).label("layer"),
            cast(view.id_col, Integer).label("id"),
            _name(view, names).label("name"),
            _first(pairs).label("matched"),
            case((or_(*c.is_exact), 0), else_=1).label("exact"),
            case((started, 0), else_=1).label("alike"),
            case((started, 1.0), else_=cast(score, Float)).label("score"),
            literal(src.rank, Integer).label("rank"),
            weight.label("weight"),
            *_whereabouts(view.raw_geom),
        )
        .select_from(c.found_in)
        .where(*view.where_public(), or_(*found, *alikes))
    )


def search_query(
    q: str, lang: str, *, limit: int = 10, sources: tuple[SearchSource, ...] = SOURCES
) -> Select[Any]:
    """Rows of ``layer``, ``id``, ``name`` (in ``lang``, falling back), ``matched`` (the name
    that matched), ``lon``, ``lat`` (a point on the feature) and its bbox (``xmin`` ...).

    Matching by similarity uses ``pg_trgm``'s ``<%`` operator, whose bound is the setting
    ``pg_trgm.word_similarity_threshold``: :func:`prepare` sets it to :data:`SIMILARITY` for
    the query's transaction (on its own, the operator uses the server's bound, 0.6 by
    default). :func:`find` runs it so."""
    return _statement(_Query.of(clean_query(q)), lang, limit, sources)


def _statement(
    query: _Query, lang: str, limit: int, sources: tuple[SearchSource, ...] = SOURCES
) -> Select[Any]:
    limit = max(1, min(int(limit), MAX_RESULTS))
    published = set(layer_ids())
    parts = []
    for src in sources:
        if src.layer not in published:
            continue
        if get_layer(src.layer).sensitivity is not None:
            raise ValueError(f"layer {src.layer!r} generalises locations: it is never searched")
        parts.append(_part(src, query, lang))
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


#: Statements already built, by language, limit and the query's shape (:meth:`_Query.shape`):
#: a query of the same shape runs the same statement with its own values. Building the
#: statement over eight layers, and SQLAlchemy's key for its compiled form, took longer than
#: the database took to answer it.
_BUILT: dict[tuple[str, int, bool, bool], Select[Any]] = {}


def find(engine: Engine, q: str, lang: str, *, limit: int = 10) -> list[Any]:
    """The rows of :func:`search_query`, read in a transaction of their own with
    :data:`SESSION`'s settings (set locally: the connection goes back to the pool as it
    came)."""
    query = _Query.of(clean_query(q))
    key = (lang, max(1, min(int(limit), MAX_RESULTS)), *query.shape())
    statement = _BUILT.get(key)
    if statement is None:
        if len(_BUILT) >= 512:  # languages other than Irbis's three (a caller's): start again
            _BUILT.clear()
        statement = _BUILT.setdefault(key, _statement(query, lang, limit))
    with engine.connect() as conn, conn.begin():
        prepare(conn)
        return list(conn.execute(statement, query.values()).all())

"""Map labels: place, peak, lake, river, range and protected-area names in the reader's
language.

Each :class:`LabelSource` reads one published layer through :class:`~layers.sql.LayerSQL` as
the public sees it (``where_public``); a layer whose locations are generalised for the public
(a :class:`~layers.spec.Sensitivity`) can never be a source. A name is chosen per language from
the columns the layer has (Kazakh, then Russian, then the English or local name for ``kk``;
Russian, then the local name for ``ru``; English, then the local name otherwise). Each row has
a zoom from which it is labelled (cities before towns before villages; large lakes before
small) and an importance; the map draws the most important first and skips a label that would
overlap one already drawn (``api/static/irbis-map.js``).

Rivers are labelled along their lines: at the middle of the longest stretch of the river
inside the view, with ``angle``, the direction of the river there on a Web Mercator map in
degrees clockwise from the horizontal (-90 to 90, so the text reads left to right); other
labels have no angle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    column,
    func,
    literal,
    null,
    select,
    union_all,
)

from geoalchemy2 import Geometry

from layers.registry import get_layer, layer_ids
from layers.sql import LayerSQL

GEOMETRY = Geometry(srid=4326)
LANGUAGES = ("en", "ru", "kk")
#: At most this many labels are sent for one view (the most important first).
LIMIT = 400
#: Labels are asked for at zooms 0-18.
MAX_ZOOM = 18

Expr = Callable[[LayerSQL], ColumnElement[Any]]


def _zero(_: LayerSQL) -> ColumnElement[Any]:
    return literal(0.0, Float)


@dataclass(frozen=True)
class LabelSource:
    """One layer's names as map labels.

    Parameters
    ----------
    layer
        The registry id of the layer.
    kind
        What the label names (``settlement``, ``place``, ``peak``, ``lake``, ``range``,
        ``region``, ``protected_area``): it styles the label.
    names
        Per language, the columns tried in order (the first that is not empty is the label).
    min_zoom
        The zoom from which a row is labelled (an SQL expression over the row).
    tier
        Importance: lower is drawn first (and wins where labels would overlap).
    weight
        Importance within a tier: higher first (population, area).
    max_zoom
        The zoom above which the layer is not labelled (ranges are meaningless up close).
    kind_of
        The kind per row, where it depends on the row (``Range/mtn`` or another region).
    area
        Whether the features are areas (labelled at a point inside, centred).
    where
        A condition on the rows labelled.
    line
        Whether the features are lines (labelled along their longest stretch in the view).
    """

    layer: str
    kind: str
    names: Mapping[str, tuple[str, ...]]
    min_zoom: Expr
    tier: Expr
    weight: Expr = _zero
    max_zoom: int = MAX_ZOOM
    kind_of: Expr | None = None
    area: bool = False
    where: Expr | None = None
    line: bool = False

    def name(self, view: LayerSQL, lang: str) -> ColumnElement[Any]:
        cols = self.names.get(lang) or self.names["en"]
        exprs = [func.nullif(func.btrim(view.column_of(c, String)), "") for c in cols]
        return func.coalesce(*exprs) if len(exprs) > 1 else exprs[0]


def _col(name: str, type_: Any = Integer) -> Expr:
    return lambda v: v.column_of(name, type_)


def _plus(name: str, n: int) -> Expr:
    return lambda v: func.coalesce(v.column_of(name, Integer), 10) + n


_SETTLEMENT_ZOOM = {"city": 5, "town": 8, "village": 10, "hamlet": 12}
_SETTLEMENT_TIER = {"city": 1, "town": 4, "village": 7, "hamlet": 9}


def _by_place(table: Mapping[str, int], other: int) -> Expr:
    def expr(v: LayerSQL) -> ColumnElement[Any]:
        place = v.column_of("place", String)
        return case(*((place == k, n) for k, n in table.items()), else_=other)

    return expr


def _population(v: LayerSQL) -> ColumnElement[Any]:
    return cast(func.coalesce(v.column_of("population", Float), 0), Float)


def _area(v: LayerSQL) -> ColumnElement[Any]:
    return cast(func.ST_Area(v.raw_geom), Float)


def _region_kind(v: LayerSQL) -> ColumnElement[Any]:
    return case((v.column_of("featurecla", String) == "Range/mtn", "range"), else_="region")


#: Names in the reader's language where the data has them (a Kazakh reader falls back to
#: Russian), else as stored.
_NATIVE_NAMES = {
    "en": ("name",),
    "ru": ("name_ru", "name"),
    "kk": ("name_kk", "name_ru", "name"),
}

#: The labelled layers, most important kinds first.
SOURCES: tuple[LabelSource, ...] = (
    LabelSource(
        "settlements",
        "settlement",
        {
            "en": ("name_en", "name"),
            "ru": ("name_ru", "name", "name_en"),
            "kk": ("name_kk", "name_ru", "name", "name_en"),
        },
        min_zoom=_by_place(_SETTLEMENT_ZOOM, 14),
        tier=_by_place(_SETTLEMENT_TIER, 11),
        weight=_population,
    ),
    LabelSource(
        "places",
        "place",
        {"en": ("name",), "ru": ("name_ru", "name"), "kk": ("name_ru", "name")},
        min_zoom=_plus("scalerank", 1),
        # Kazakhstan's settlements come from OpenStreetMap, with their current names
        where=lambda v: func.coalesce(v.column_of("iso_a3", String), "") != "KAZ",
        # after a settlement of the same rank: its name is the one kept where both exist
        tier=lambda v: func.coalesce(v.column_of("scalerank", Integer), 10) + 0.5,
        weight=_population,
    ),
    LabelSource(
        "regions",
        "range",
        {
            "en": ("name_en", "name"),
            "ru": ("name_ru", "name_en", "name"),
            "kk": ("name_kk", "name_ru", "name_en", "name"),
        },
        min_zoom=_plus("scalerank", 2),
        tier=_plus("scalerank", 1),
        max_zoom=10,
        kind_of=_region_kind,
        area=True,
    ),
    LabelSource(
        "lakes",
        "lake",
        _NATIVE_NAMES,
        min_zoom=_plus("scalerank", 2),
        tier=_plus("scalerank", 3),
        weight=_area,
        area=True,
    ),
    LabelSource(
        "rivers",
        "river",
        _NATIVE_NAMES,
        # the Irtysh and the Ural from zoom 5, the Syr and Amu Darya and the Naryn from 5 or
        # 6, the Ili from 7; Natural Earth's lines are too coarse to follow beyond zoom 11
        min_zoom=lambda v: func.greatest(
            func.least(func.coalesce(v.column_of("scalerank", Integer), 9), 7), 5
        ),
        tier=lambda v: func.coalesce(v.column_of("scalerank", Integer), 10) + 3.5,
        weight=lambda v: cast(func.ST_Length(v.raw_geom), Float),
        max_zoom=11,
        line=True,
    ),
    LabelSource(
        "peaks",
        "peak",
        _NATIVE_NAMES,
        min_zoom=lambda v: func.greatest(func.coalesce(v.column_of("scalerank", Integer), 9), 6),
        tier=_plus("scalerank", 4),
        weight=lambda v: cast(func.coalesce(v.column_of("elevation_m", Float), 0), Float),
    ),
    LabelSource(
        "protected_areas",
        "protected_area",
        {
            "en": ("name",),
            "ru": ("name_ru", "name"),
            "kk": ("name_kk", "original_name", "name_ru", "name"),
        },
        min_zoom=lambda _: literal(7),
        tier=lambda _: literal(6),
        weight=_area,
        area=True,
    ),
)


def _along(
    geom: ColumnElement[Any], envelope: ColumnElement[Any]
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The point at the middle of the longest stretch of the line ``geom`` inside
    ``envelope``, and the line's direction there (see the module's text)."""
    pieces = func.ST_Dump(func.ST_LineMerge(func.ST_Intersection(geom, envelope))).table_valued(
        "path", column("geom", GEOMETRY)
    )
    longest = (
        select(pieces.c.geom)
        .where(func.GeometryType(pieces.c.geom) == "LINESTRING")
        .order_by(func.ST_Length(pieces.c.geom).desc())
        .limit(1)
        .scalar_subquery()
    )
    mercator = func.ST_Transform(longest, 3857, type_=GEOMETRY)
    azimuth = func.degrees(
        func.ST_Azimuth(
            func.ST_LineInterpolatePoint(mercator, 0.45),
            func.ST_LineInterpolatePoint(mercator, 0.55),
        )
    )
    # clockwise from the horizontal, turned by half a turn where the text would read upside
    # down: an azimuth a (0-360, clockwise from north) gives a - 90 within [-90, 90)
    turned = func.mod(cast(azimuth, Numeric), 180) - 90
    return func.ST_LineInterpolatePoint(longest, 0.5, type_=GEOMETRY), turned


def label_query(
    bbox: tuple[float, float, float, float],
    zoom: int,
    lang: str,
    *,
    sources: tuple[LabelSource, ...] = SOURCES,
    limit: int = LIMIT,
) -> Select[Any]:
    """The labels of a view (``bbox`` in WGS 84 as west, south, east, north; ``zoom``), in
    ``lang``, most important first: rows of ``name``, ``kind``, ``lon``, ``lat`` and
    ``angle`` (rivers only, else NULL).

    Raises
    ------
    ValueError
        If a source's layer generalises locations for the public (it may not be labelled).
    """
    lang = lang if lang in LANGUAGES else "en"
    west, south, east, north = bbox
    envelope = func.ST_MakeEnvelope(
        bindparam("w", west),
        bindparam("s", south),
        bindparam("e", east),
        bindparam("n", north),
        4326,
        type_=GEOMETRY,
    )
    published = set(layer_ids())
    parts = []
    for src in sources:
        if zoom > src.max_zoom or src.layer not in published:
            continue
        spec = get_layer(src.layer)
        if spec.sensitivity is not None:
            raise ValueError(f"layer {spec.id!r} generalises locations: it is never labelled")
        view = LayerSQL(spec, privileged=False)
        name = src.name(view, lang)
        geom = view.raw_geom
        point = func.ST_PointOnSurface(geom) if src.area else geom
        angle: ColumnElement[Any] = null()
        if src.line:
            point, angle = _along(geom, envelope)
        kind = src.kind_of(view) if src.kind_of else literal(src.kind, String)
        parts.append(
            select(
                name.label("name"),
                cast(kind, String).label("kind"),
                func.round(cast(func.ST_X(point), Numeric), 5).label("lon"),
                func.round(cast(func.ST_Y(point), Numeric), 5).label("lat"),
                func.round(cast(angle, Numeric), 1).label("angle"),
                cast(src.tier(view), Float).label("tier"),
                cast(src.weight(view), Float).label("weight"),
            )
            .select_from(view.from_clause())
            .where(
                *view.where_public(),
                geom.op("&&")(envelope),  # the bounding boxes meet: cheap, on the index
                src.min_zoom(view) <= zoom,
                name.is_not(null()),
                *([src.where(view)] if src.where else []),
            )
        )
    if not parts:
        cols: list[Any] = [literal(None).label(n) for n in ("name", "kind", "lon", "lat", "angle")]
        return select(*cols).where(literal(False))
    u = union_all(*parts).subquery("labels")
    return (
        select(u.c.name, u.c.kind, u.c.lon, u.c.lat, u.c.angle)
        .where(u.c.lon.is_not(null()))  # a line that only touches the view has no stretch
        .order_by(u.c.tier, u.c.weight.desc(), u.c.name)
        .limit(limit)
    )

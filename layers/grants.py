"""Figures of a grant's page, computed in PostGIS (areas and distances on the ellipsoid)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Connection,
    Float,
    Numeric,
    Select,
    String,
    Text,
    and_,
    any_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from geoalchemy2 import Geography

from layers.public import published_threats
from layers.tables import ecosystems as _ecosystems
from layers.tables import field_sites as _sites
from layers.tables import grant_features as _features
from layers.tables import grant_species as _grant_species
from layers.tables import grants as _records
from layers.tables import habitat as _habitat
from layers.tables import protected_areas as _protected
from layers.tables import species as _species


#: Degrees of longitude that ``metres`` may span at the region's northern edge (56 N), with a
#: margin: the index prefilter on geometry before the exact geodesic test.
def _degrees(metres: float) -> float:
    return metres / 111_320.0 / math.cos(math.radians(56.0)) * 1.01


#: Geometry types that count as area (a protected area may be stored as a point).
_AREAS = ("POLYGON", "MULTIPOLYGON")


def _ha(geom: Any) -> ColumnElement[Any]:
    """The area of ``geom`` on the ellipsoid, in ha."""
    return func.ST_Area(cast(geom, Geography)) / 1e4


def _union(grant_id: int) -> Any:
    """The grant's union of sites and its area in m² on the ellipsoid (no row without sites)."""
    g = _g
    return (
        select(g.c.geom, func.ST_Area(cast(g.c.geom, Geography)).label("area"))
        .where(g.c.id == grant_id, g.c.geom.is_not(None))
        .cte("g")
    )


def _designated(g: Any) -> Any:
    """The union of the designated (not proposed) protected areas that meet ``g`` (a CTE;
    one row, NULL when none)."""
    p = _protected.alias("p")
    return (
        select(func.ST_Union(p.c.geom).label("geom"))
        .select_from(p.join(g, func.ST_Intersects(p.c.geom, g.c.geom)))
        .where(p.c.status != "Proposed", func.GeometryType(p.c.geom).in_(_AREAS))
        .cte("pa")
        .prefix_with("MATERIALIZED")  # computed once, not again for each row joined to it
    )


def _outside(geom: Any, pa: Any) -> ColumnElement[Any]:
    """``geom`` less the protected areas ``pa`` (when there are any)."""
    return case((pa.is_(None), geom), else_=func.ST_Difference(geom, pa))


def _sites_stmt(grant_id: int) -> Select[Any]:
    s = _sites
    area = cast(func.round(cast(_ha(s.c.geom), Numeric), 1), Float).label("area_ha")
    return (
        select(s.c.id, s.c.name, area, s.c.uploaded_at, s.c.method)
        .where(s.c.grant_id == grant_id)
        .order_by(s.c.name)
    )


def _bounds(geom: Any) -> tuple[Any, ...]:
    return (
        func.ST_XMin(geom).label("xmin"),
        func.ST_YMin(geom).label("ymin"),
        func.ST_XMax(geom).label("xmax"),
        func.ST_YMax(geom).label("ymax"),
    )


def _footprint_stmt(grant_id: int) -> Select[Any]:
    g = _g
    return select(
        func.ST_AsGeoJSON(g.c.geom, 6).label("geojson"),
        _ha(g.c.geom).label("area_ha"),
        *_bounds(g.c.geom),
    ).where(g.c.id == grant_id, g.c.geom.is_not(None))


def _outline_stmt(grant_id: int) -> Select[Any]:
    g = _g
    return select(func.ST_AsSVG(g.c.geom, 0, 5).label("path"), *_bounds(g.c.geom)).where(
        g.c.id == grant_id, g.c.geom.is_not(None)
    )


def _protected_stmt(grant_id: int) -> Select[Any]:
    g, p = _union(grant_id), _protected.alias("p")
    inter = func.ST_Area(cast(func.ST_Intersection(p.c.geom, g.c.geom), Geography))
    overlap = (inter / 1e4).label("overlap_ha")
    return (
        select(
            p.c.name,
            p.c.designation,
            p.c.status,
            p.c.method,
            overlap,
            (inter / func.nullif(g.c.area, 0.0, type_=Float)).label("share"),
        )
        .select_from(p.join(g, func.ST_Intersects(p.c.geom, g.c.geom)))
        .where(func.GeometryType(p.c.geom).in_(_AREAS))
        .order_by(overlap.desc(), p.c.name)
    )


def _habitat_stmt(grant_id: int) -> Select[Any]:
    g, hab, sp = _union(grant_id), _habitat.alias("hab"), _species.alias("sp")
    latest = select(func.max(_habitat.c.analysis_run_id)).scalar_subquery()
    h = (
        select(
            sp.c.scientific_name.label("species"),
            hab.c.ecosystem,
            hab.c.analysis_run_id.label("run"),
            func.ST_Union(func.ST_Intersection(hab.c.geom, g.c.geom)).label("geom"),
            func.array_agg(distinct(hab.c.method)).label("methods"),
        )
        .select_from(
            hab.join(sp, sp.c.id == hab.c.species_id).join(
                g, func.ST_Intersects(hab.c.geom, g.c.geom)
            )
        )
        .where(hab.c.analysis_run_id == latest)
        .group_by(sp.c.scientific_name, hab.c.ecosystem, hab.c.analysis_run_id)
        .cte("h")
    )
    pa = _designated(g)
    return (
        select(
            h.c.species,
            h.c.ecosystem,
            h.c.run,
            h.c.methods,
            _ha(h.c.geom).label("habitat_ha"),
            _ha(_outside(h.c.geom, pa.c.geom)).label("added_ha"),
        )
        .select_from(h.join(pa, true()))
        .order_by(h.c.species, h.c.ecosystem)
    )


def _ecosystems_stmt(grant_id: int) -> Select[Any]:
    g, eco = _union(grant_id), _ecosystems.alias("eco")
    latest = select(func.max(_ecosystems.c.analysis_run_id)).scalar_subquery()
    e = (
        select(
            eco.c.kind,
            eco.c.analysis_run_id.label("run"),
            func.ST_Union(func.ST_Intersection(eco.c.geom, g.c.geom)).label("geom"),
            func.array_agg(distinct(eco.c.method)).label("methods"),
        )
        .select_from(eco.join(g, func.ST_Intersects(eco.c.geom, g.c.geom)))
        .where(eco.c.analysis_run_id == latest)
        .group_by(eco.c.kind, eco.c.analysis_run_id)
        .cte("e")
    )
    area = func.ST_Area(cast(e.c.geom, Geography))
    area_ha = (area / 1e4).label("area_ha")
    return (
        select(
            e.c.kind.label("ecosystem"),
            e.c.run,
            e.c.methods,
            area_ha,
            (area / func.nullif(g.c.area, 0.0, type_=Float)).label("share"),
        )
        .select_from(e.join(g, true()))
        .order_by(area_ha.desc(), e.c.kind)
    )


def _gap_stmt() -> Select[Any]:
    latest = select(func.max(_habitat.c.analysis_run_id)).scalar_subquery()
    h = (
        select(_habitat.c.ecosystem, _habitat.c.geom)
        .where(_habitat.c.analysis_run_id == latest)
        .cte("h")
    )
    p = _protected
    pa = (
        select(func.ST_Union(p.c.geom).label("geom"))
        .where(func.GeometryType(p.c.geom).in_(_AREAS), p.c.status != "Proposed")
        .cte("pa")
        # Computed once: inlined, PostgreSQL would compute the union again for each habitat
        # row joined to it (12 times on the demo: 280 of 340 ms).
        .prefix_with("MATERIALIZED")
    )
    km2 = 1e6
    return (
        select(
            h.c.ecosystem,
            (func.sum(func.ST_Area(cast(h.c.geom, Geography))) / km2).label("habitat_km2"),
            (func.sum(func.ST_Area(cast(_outside(h.c.geom, pa.c.geom), Geography))) / km2).label(
                "gap_km2"
            ),
        )
        .select_from(h.join(pa, true()))
        .group_by(h.c.ecosystem)
        .order_by(h.c.ecosystem)
    )


def _features_stmt(codes: list[str]) -> Select[Any]:
    f = _features
    props = [f.c[c].label(f"p_{c}") for c in EXPORT_COLUMNS]
    return (
        select(f.c.id.label("fid"), *props, func.ST_AsGeoJSON(f.c.geom, 6).label("geojson"))
        .where(f.c.code.in_(codes))
        .order_by(f.c.code)
    )


def _near(metres: float) -> tuple[Any, Any, Any, ColumnElement[float]]:
    """Published threats (from the registry: what the public sees) joined to field sites
    within ``metres`` on the ellipsoid, and the rounded distance in metres."""
    t = published_threats("id", "name", "kind", "status", "updated_at", "geom", name="t")
    s = _sites.alias("s")
    tg, sg = cast(t.c.geom, Geography), cast(s.c.geom, Geography)
    on = and_(
        s.c.geom.op("&&")(func.ST_Expand(t.c.geom, _degrees(metres))),
        func.ST_DWithin(tg, sg, metres),
    )
    distance = cast(func.round(cast(func.ST_Distance(tg, sg), Numeric), 0), Float)
    return t, s, t.join(s, on), distance.label("distance_m")


def _threats_near_stmt(grant_id: int, metres: float) -> Select[Any]:
    t, s, joined, distance = _near(metres)
    return (
        select(
            *(t.c[n].label(n) for n in ("id", "name", "kind", "status", "updated_at")),
            s.c.name.label("site"),
            distance,
        )
        .select_from(joined)
        .where(s.c.grant_id == grant_id)
        .order_by(distance, t.c.name, s.c.name)
    )


def _sites_under_threat_stmt(where: list[ColumnElement[bool]], metres: float) -> Select[Any]:
    t, s, joined, distance = _near(metres)
    g = _g
    return (
        select(
            g.c.code.label("grant_code"),
            s.c.name.label("site"),
            t.c.id.label("threat_id"),
            t.c.name.label("threat"),
            t.c.kind.label("kind"),
            t.c.status.label("status"),
            distance,
        )
        .select_from(joined.join(g, g.c.id == s.c.grant_id))
        .where(*where)
        .order_by(g.c.code, s.c.name, distance)
    )


#: The columns of the grants collection an export carries.
EXPORT_COLUMNS = (
    "code", "title", "organisation", "status", "call", "countries", "species",
    "ecosystem_focus", "amount", "currency", "amount_usd", "start_date", "end_date",
)  # fmt: skip


def habitat_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Modelled habitat (the latest habitat run) inside the grant's sites, per species and
    ecosystem kind, in ha on the ellipsoid: all of it (``habitat_ha``) and the part outside
    designated protected areas (``added_ha``, what the grant adds to coverage)."""
    return [dict(r._mapping) for r in conn.execute(_habitat_stmt(grant_id))]


def ecosystem_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Ecosystem classes (the latest ecosystems run) inside the grant's sites: ha on the
    ellipsoid and share of the sites' area, largest first."""
    return [dict(r._mapping) for r in conn.execute(_ecosystems_stmt(grant_id))]


def sites(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(_sites_stmt(grant_id))]


def footprint(conn: Connection, grant_id: int) -> dict[str, Any] | None:
    """The union of the grant's sites: GeoJSON, area and bounds (None without sites)."""
    row = conn.execute(_footprint_stmt(grant_id)).first()
    return dict(row._mapping) if row is not None else None


def protected_overlaps(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    """Protected areas the grant's sites overlap, with hectares and the share of the sites
    (``status`` and ``method`` too: a proposed area does not count as protection)."""
    return [dict(r._mapping) for r in conn.execute(_protected_stmt(grant_id))]


def threats_near(conn: Connection, grant_id: int, metres: float) -> list[dict[str, Any]]:
    """Published threats within ``metres`` of a site of the grant (geodesic), nearest first."""
    return [dict(r._mapping) for r in conn.execute(_threats_near_stmt(grant_id, metres))]


def sites_under_threat(
    conn: Connection, where: list[ColumnElement[bool]], metres: float
) -> list[dict[str, Any]]:
    """Field sites of the grants kept by ``where`` (:func:`grant_filter`) with a published
    threat within ``metres``."""
    return [dict(r._mapping) for r in conn.execute(_sites_under_threat_stmt(where, metres))]


def features(conn: Connection, codes: list[str]) -> list[Any]:
    """Rows of ``grant_features`` for exports (``fid``, ``p_<column>``, ``geojson``), in the
    shape of :mod:`layers.export`; :data:`EXPORT_COLUMNS` names the columns."""
    return list(conn.execute(_features_stmt(codes)))


def habitat_gap(conn: Connection) -> dict[str, dict[str, float]]:
    """Modelled habitat (latest run) and its part outside designated protected areas, in km²
    on the ellipsoid, per ecosystem kind (empty without a habitat model)."""
    return {
        r.ecosystem: {"habitat_km2": float(r.habitat_km2), "gap_km2": float(r.gap_km2)}
        for r in conn.execute(_gap_stmt())
    }


def geometry_digest(conn: Connection, grant_id: int) -> str | None:
    """A digest of the union of the grant's sites (None without sites): what the figures
    computed from the geometry alone depend on, beside the tables they intersect."""
    g = _g
    stmt = select(func.md5(func.ST_AsEWKB(g.c.geom))).where(g.c.id == grant_id)
    digest: str | None = conn.execute(stmt).scalar_one_or_none()
    return digest


def outline_svg(conn: Connection, grant_id: int) -> dict[str, Any] | None:
    """The union of the grant's sites as an SVG path (y down) with its view box, for pages
    that must not load tiles (the donor report, its PDF)."""
    row = conn.execute(_outline_stmt(grant_id)).first()
    if row is None:
        return None
    pad = max(row.xmax - row.xmin, row.ymax - row.ymin, 0.01) * 0.1
    w, h = row.xmax - row.xmin + 2 * pad, row.ymax - row.ymin + 2 * pad
    return {
        "path": row.path,
        "view_box": f"{row.xmin - pad:.5f} {-row.ymax - pad:.5f} {w:.5f} {h:.5f}",
        "stroke": max(w, h) / 300,
    }


# --------------------------------------------------------------------------------------------
# The portfolio: every grant as one JSON text, its sums per species × ecosystem × country
# --------------------------------------------------------------------------------------------

_STR = ARRAY(String)
#: The one alias of ``grants`` that :func:`grant_filter`'s conditions and the statements share.
_g = _records.alias("g")
#: Text in the order Python sorts it (code points), whatever the database's collation.
_C = "C"


def _usd(g: Any) -> ColumnElement[Decimal]:
    """The amount in USD: as recorded, or divided by its rate and rounded to the cent, half
    to even (as :class:`decimal.Decimal` rounds; amounts and rates are positive)."""
    q = g.c.amount / g.c.rate
    cents = q * 100
    floor = func.floor(cents)
    even_half = and_(cents - floor == literal(Decimal("0.5")), func.mod(floor, 2) == 0)
    rounded = case((even_half, floor / 100), else_=func.round(q, 2))
    return case((or_(g.c.currency == "USD", g.c.rate.is_(None)), g.c.amount), else_=rounded)


def _iso(ts: Any) -> ColumnElement[str]:
    """A timestamp as Python's ``isoformat()`` writes it in UTC (microseconds when not 0)."""
    utc = func.timezone("UTC", ts)
    whole = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    micro = func.to_char(utc, '"."US')
    has_micro = func.date_trunc("second", utc) != utc
    return case((ts.is_(None), null()), else_=whole + case((has_micro, micro), else_="") + "+00:00")


def _names() -> Any:
    """Each grant's species' scientific names, sorted (grants without species have no row)."""
    gs, sp = _grant_species, _species
    return (
        select(
            gs.c.grant_id,
            func.array_agg(aggregate_order_by(sp.c.scientific_name, sp.c.scientific_name)).label(
                "species"
            ),
        )
        .select_from(gs.join(sp, sp.c.id == gs.c.species_id))
        .group_by(gs.c.grant_id)
        .subquery("names")
    )


def grant_filter(
    call: str | None = None,
    status: str | None = None,
    country: str | None = None,
    species: str | None = None,
) -> list[ColumnElement[bool]]:
    """Conditions on ``grants`` (any alias named ``g``) that keep the grants of a call, a
    status, a country and a species (each when given)."""
    g = _g
    out: list[ColumnElement[bool]] = []
    if call:
        out.append(g.c.call == call)
    if status:
        out.append(g.c.status == status)
    if country:
        out.append(literal(country, String) == any_(g.c.countries))
    if species:
        gs, sp = _grant_species.alias("fgs"), _species.alias("fsp")
        out.append(
            exists(
                select(literal(1))
                .select_from(gs.join(sp, sp.c.id == gs.c.species_id))
                .where(gs.c.grant_id == g.c.id, sp.c.scientific_name == species)
            )
        )
    return out


def _kept(where: list[ColumnElement[bool]]) -> Any:
    """The grants kept by ``where``, each with its record as JSON and what the sums need."""
    g, names = _g, _names()
    species = func.coalesce(names.c.species, cast(literal("{}"), _STR))
    focus = func.coalesce(g.c.ecosystem_focus, cast(literal("{}"), _STR))
    ecos = case((func.cardinality(focus) == 0, cast(literal("{unspecified}"), _STR)), else_=focus)
    usd = _usd(g)
    item = _item(g, usd, species)
    return (
        select(
            g.c.code,
            g.c.status,
            g.c.countries,
            usd.label("usd"),
            species.label("species"),
            ecos.label("ecos"),
            func.to_json(item.table_valued()).label("item"),
        )
        .select_from(g.outerjoin(names, names.c.grant_id == g.c.id).join(item, true()))
        .where(*where)
        .cte("kept")
        .prefix_with("MATERIALIZED")  # read once by the array and each sum
    )


def _item(g: Any, usd: Any, species: Any) -> Any:
    """A grant as :func:`api.services.grants.as_dict` gives it, as a lateral row (its JSON is
    compact and keeps the columns' order, where json_build_object adds spaces)."""
    fields: dict[str, Any] = {
        "code": g.c.code,
        "title": g.c.title,
        "grantee_organisation": g.c.grantee_organisation,
        "partners": func.coalesce(g.c.partners, cast(literal("{}"), _STR)),
        "countries": g.c.countries,
        "species": species,
        "ecosystem_focus": func.coalesce(g.c.ecosystem_focus, cast(literal("{}"), _STR)),
        "amount": g.c.amount,
        "currency": g.c.currency,
        "rate": g.c.rate,
        "rate_date": g.c.rate_date,
        "amount_usd": usd,
        "call": g.c.call,
        "start_date": g.c.start_date,
        "end_date": g.c.end_date,
        "status": g.c.status,
        "objectives": g.c.objectives,
        "description": g.c.description,
        "documents": func.coalesce(g.c.documents, cast(literal("[]"), JSONB)),
        "method": g.c.method,
        "source": g.c.source,
        "updated_at": _iso(g.c.updated_at),
        "url": literal("/grants/", String) + g.c.code,
    }
    return select(*(v.label(k) for k, v in fields.items())).correlate_except(None).lateral("item")


def _json_text(agg: Any, empty: str = "[]") -> ColumnElement[str]:
    return cast(func.coalesce(agg, cast(literal(empty), JSON)), Text)


def grants_json(where: list[ColumnElement[bool]] | None = None) -> Select[Any]:
    """The grants kept by ``where`` (:func:`grant_filter`) as one JSON array text, ordered by
    code: one value for the database to build and Python to decode once (or pass on)."""
    kept = _kept(where or [])
    return select(_json_text(func.json_agg(aggregate_order_by(kept.c.item, kept.c.code))))


def portfolio(where: list[ColumnElement[bool]]) -> Select[Any]:
    """The portfolio of the grants kept by ``where`` in one row of JSON texts (exact decimal
    sums; each grant's amount in USD split equally over the combinations of its species,
    ecosystems, ``unspecified`` when none, and countries):

    - ``items``: the grants' records, ordered by code;
    - ``cells``: ``[species, ecosystem, country, funds_usd]``, rounded to the cent;
    - ``by_status``: ``[status, grants, funds_usd]`` in the order of each status's first grant;
    - ``by_ecosystem``: ``[ecosystem, funds_usd]`` (each amount split over its ecosystems);
    - ``total``: the sum in USD.
    """
    kept = _kept(where)
    s = func.unnest(kept.c.species).table_valued("name").render_derived(name="s")
    e = func.unnest(kept.c.ecos).table_valued("name").render_derived(name="e")
    c = func.unnest(kept.c.countries).table_valued("name").render_derived(name="c")
    n = func.cardinality(kept.c.species) * func.cardinality(kept.c.ecos)
    n = n * func.cardinality(kept.c.countries)
    cells = (
        select(
            s.c.name.label("species"),
            e.c.name.label("ecosystem"),
            c.c.name.label("country"),
            func.round(func.sum(kept.c.usd / n), 2).label("funds_usd"),
        )
        .select_from(kept.join(s, true()).join(e, true()).join(c, true()))
        .group_by(s.c.name, e.c.name, c.c.name)
        .subquery("cells")
    )
    statuses = (
        select(
            kept.c.status,
            func.count().label("grants"),
            func.sum(kept.c.usd).label("funds_usd"),
            func.min(kept.c.code).label("first"),
        )
        .group_by(kept.c.status)
        .subquery("statuses")
    )
    e2 = func.unnest(kept.c.ecos).table_valued("name").render_derived(name="e2")
    ecosystems = (
        select(
            e2.c.name.label("ecosystem"),
            func.sum(kept.c.usd / func.cardinality(kept.c.ecos)).label("funds_usd"),
        )
        .select_from(kept.join(e2, true()))
        .group_by(e2.c.name)
        .subquery("ecosystems")
    )

    def rows(sub: Any, *cols: str, order: list[Any]) -> ColumnElement[str]:
        row = func.json_build_array(*(sub.c[k] for k in cols))
        return select(_json_text(func.json_agg(aggregate_order_by(row, *order)))).scalar_subquery()

    return select(
        select(_json_text(func.json_agg(aggregate_order_by(kept.c.item, kept.c.code))))
        .scalar_subquery()
        .label("items"),
        rows(
            cells,
            "species",
            "ecosystem",
            "country",
            "funds_usd",
            order=[cells.c[k].collate(_C) for k in ("species", "ecosystem", "country")],
        ).label("cells"),
        rows(statuses, "status", "grants", "funds_usd", order=[statuses.c.first]).label(
            "by_status"
        ),
        rows(
            ecosystems, "ecosystem", "funds_usd", order=[ecosystems.c.ecosystem.collate(_C)]
        ).label("by_ecosystem"),
        select(func.coalesce(func.sum(kept.c.usd), 0)).scalar_subquery().label("total"),
    )


def calls() -> Select[Any]:
    """The calls or rounds of every grant, in code-point order."""
    g = _g
    return (
        select(g.c.call)
        .where(g.c.call.is_not(None), g.c.call != "")
        .group_by(g.c.call)
        .order_by(g.c.call.collate(_C))
    )

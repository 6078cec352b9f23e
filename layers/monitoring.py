"""Field monitoring as published: time series of records and their observation points.

SQL for monitoring lives here (SQLAlchemy Core over light table clauses, like
:mod:`layers.sql`); the rules of who sees what come from the ``monitoring_points`` layer of
the registry, so a page, a chart's data, a download and a tile generalise sensitive points
the same way. Series aggregate values by indicator and period (a month or a year, from the
start of each record's period); the public sees accepted records only.

A small line chart is drawn on the server as SVG (:func:`svg_chart`): no script, no CDN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Literal

from sqlalchemy import Connection, Date, func, select
from sqlalchemy.sql.elements import ColumnElement

from layers.registry import get_layer
from layers.sql import LayerSQL
from layers.tables import field_sites as sites
from layers.tables import monitoring_indicators as indicators
from layers.tables import monitoring_records as records

Step = Literal["month", "year"]
STEPS: tuple[str, ...] = ("month", "year")


#: The published layer of observation points.
POINTS_LAYER = "monitoring_points"


@dataclass(frozen=True)
class SeriesFilter:
    """What a series is about: a grant, a site and/or an indicator (all optional)."""

    grant_id: int | None = None
    site_id: int | None = None
    indicator_code: str | None = None


def _period(step: Step) -> ColumnElement[Any]:
    return func.date_trunc(step, records.c.period_start).cast(Date)


def series(
    conn: Connection, where: SeriesFilter, *, public: bool, step: Step = "month"
) -> list[dict[str, Any]]:
    """One series per indicator: ``{indicator, name, name_ru, name_kk, unit, points: [{period,
    value, records}]}`` (``name_ru``, ``name_kk``: the indicator's Russian and Kazakh names, if
    it has them).

    Values of the records in the same period (and, across sites, the same indicator) are
    summed; ``records`` counts them. ``public`` keeps accepted records only.
    """
    period = _period(step).label("period")
    joined = records.join(indicators, indicators.c.id == records.c.indicator_id)
    if where.grant_id is not None:  # only a grant's series needs the sites
        joined = joined.join(sites, sites.c.id == records.c.site_id)
    i = indicators.c
    keys = (i.code, i.name_en, i.name_ru, i.name_kk, i.unit, period)  # one series per period
    stmt = (
        select(
            *keys,
            func.sum(records.c.value).label("value"),
            func.count().label("n"),
            func.bool_and(records.c.method == "example").label("example"),
        )
        .select_from(joined)
        .group_by(*keys)
        .order_by(i.code, period)
    )
    if public:
        stmt = stmt.where(records.c.state == "accepted")
    if where.grant_id is not None:
        stmt = stmt.where(sites.c.grant_id == where.grant_id)
    if where.site_id is not None:
        stmt = stmt.where(records.c.site_id == where.site_id)
    if where.indicator_code is not None:
        stmt = stmt.where(indicators.c.code == where.indicator_code)
    out: dict[str, dict[str, Any]] = {}
    for code, name, name_ru, name_kk, unit, p, value, n, example in conn.execute(stmt):
        s = out.setdefault(
            code,
            {
                "indicator": code,
                "name": name,
                "name_ru": name_ru,
                "name_kk": name_kk,
                "unit": unit,
                "example": True,
                "points": [],
            },
        )
        s["example"] = s["example"] and bool(example)
        s["points"].append(
            {"period": p.isoformat()[: 7 if step == "month" else 4], "value": value, "records": n}
        )
    return list(out.values())


def observation_points(
    conn: Connection, record_ids: Sequence[int], *, privileged: bool, cell_deg: float
) -> list[dict[str, Any]]:
    """The observation points of ``record_ids`` as the caller may see them: through the
    ``monitoring_points`` layer's rules (accepted only and sensitive ones generalised for
    the public). ``generalised`` says whether a point was snapped to a grid cell."""
    if not record_ids:
        return []
    sql = LayerSQL(get_layer(POINTS_LAYER), privileged=privileged, cell_deg=cell_deg)
    geom = sql.geom()
    rid = sql.column_expr(next(c for c in sql.spec.columns if c.name == "record_id"))
    stmt = (
        select(
            sql.id_col.label("id"),
            rid.label("record_id"),
            func.ST_X(geom).label("lon"),
            func.ST_Y(geom).label("lat"),
            func.ST_Equals(geom, sql.raw_geom).label("exact"),
        )
        .select_from(sql.from_clause())
        .where(rid.in_(list(record_ids)), *sql.where_public())
        .order_by(sql.id_col)
    )
    return [
        {
            "id": r.id,
            "record_id": r.record_id,
            "lon": round(float(r.lon), 6),
            "lat": round(float(r.lat), 6),
            "generalised": sql.generalises and not r.exact,
        }
        for r in conn.execute(stmt)
    ]


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------

CHART_W, CHART_H = 560, 200
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 12, 16, 36


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** (len(str(int(v))) - 1)
    for f in (1, 2, 2.5, 5, 10):
        if v <= f * mag:
            return float(f * mag)
    return float(10 * mag)


def svg_chart(s: dict[str, Any], *, title: str | None = None) -> str:
    """A line chart of one series (from :func:`series`) as an inline SVG element.

    The y axis starts at zero (counts, distances and areas are never negative in the
    catalogue's defaults; a negative value moves the axis down)."""
    pts = s["points"]
    label = escape(title or f"{s['name']} ({s['unit']})")
    if not pts:
        return ""
    values = [float(p["value"]) for p in pts]
    vmin = min(0.0, min(values))
    vmax = _nice_max(max(values)) if max(values) > 0 else 1.0
    w = CHART_W - _PAD_L - _PAD_R
    h = CHART_H - _PAD_T - _PAD_B
    n = len(pts)

    def x(i: int) -> float:
        return _PAD_L + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: float) -> float:
        return _PAD_T + h - (v - vmin) / (vmax - vmin) * h

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = [
        f'<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
        f'<line x1="{_PAD_L}" y1="{y(vmin):.1f}" x2="{_PAD_L + w}" y2="{y(vmin):.1f}" '
        'stroke="#999"/>',
        f'<line x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{_PAD_T + h}" stroke="#999"/>',
    ]
    for v in (vmin, (vmin + vmax) / 2, vmax):
        parts.append(
            f'<text x="{_PAD_L - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{v:,.4g}</text>"
        )
    every = max(1, n // 8)
    for i, p in enumerate(pts):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{CHART_H - 12}" font-size="11" '
                f'text-anchor="middle">{escape(p["period"])}</text>'
            )
    parts.append(f'<polyline fill="none" stroke="#00695c" stroke-width="2" points="{line}"/>')
    for i, v in enumerate(values):
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="#00695c">'
            f"<title>{escape(pts[i]['period'])}: {v:,.6g} {escape(s['unit'])}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)

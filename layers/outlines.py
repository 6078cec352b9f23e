"""Outlines drawn under forms for orientation (the programme countries), as GeoJSON."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from layers.tables import countries


def programme_outline(conn: Connection, *, tolerance: float = 0.01) -> dict[str, Any]:
    """The programme countries, simplified (``tolerance`` degrees), as a FeatureCollection."""
    simple = func.ST_SimplifyPreserveTopology(countries.c.geom, tolerance)
    rows = conn.execute(
        select(countries.c.name, func.ST_AsGeoJSON(simple, 5).label("geojson"))
        .where(countries.c.programme)
        .order_by(countries.c.name)
    )
    features = [
        {"type": "Feature", "properties": {"name": r.name}, "geometry": json.loads(r.geojson)}
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}

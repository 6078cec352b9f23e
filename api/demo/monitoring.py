"""Example monitoring series for the demo's example grants (2019-2022, labelled example).

Each site of an example grant gets quarterly values of the indicators that fit its species
(camera-trap effort, detections and prey counts in the mountains; gazelle counts, restoration
and agreements in the lowlands; patrols everywhere), accepted, with ``method = 'example'``;
the detections and counts get a few example observation points inside the site, which the
public sees generalised like every sensitive location. Values are drawn from a generator
seeded by the site, so every load gives the same numbers. Loading twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point

from api.db.engine import set_actor
from api.db.models import (
    FieldSite,
    Grant,
    MonitoringIndicator,
    MonitoringPoint,
    MonitoringRecord,
    MonitoringState,
)
from api.services.monitoring import link_species

SOURCE = "Irbis demo: example monitoring series (illustrative, not real data)"
LICENCE = "CC0 1.0 (illustrative example)"
YEARS = range(2019, 2023)
#: indicator code -> (typical quarterly value, spread, points per record)
MOUNTAIN = {
    "camera_trap_nights": (900.0, 0.25, 0),
    "snow_leopard_detections": (12.0, 0.5, 2),
    "ibex_count": (140.0, 0.3, 0),
    "patrol_km": (320.0, 0.3, 0),
    "poaching_incidents": (2.0, 0.8, 0),
}
LOWLAND = {
    "goitered_gazelle_count": (260.0, 0.35, 2),
    "patrol_km": (410.0, 0.3, 0),
    "restoration_ha": (150.0, 0.4, 0),
    "community_agreements": (2.0, 0.5, 0),
}


def _quarters() -> list[tuple[dt.date, dt.date]]:
    out = []
    for y in YEARS:
        for q in range(4):
            start = dt.date(y, 3 * q + 1, 1)
            end = dt.date(y, 3 * q + 4, 1) - dt.timedelta(days=1) if q < 3 else dt.date(y, 12, 31)
            out.append((start, end))
    return out


def load_monitoring(engine: Engine) -> int:
    """Add the example series (commits); returns how many records were added."""
    added = 0
    with Session(engine) as s:
        link_species(s)
        set_actor(s, "demo")
        indicators = {i.code: i for i in s.scalars(select(MonitoringIndicator))}
        sites = s.scalars(
            select(FieldSite)
            .join(Grant, Grant.id == FieldSite.grant_id)
            .where(Grant.method == "example")
            .order_by(FieldSite.id)
        ).all()
        for site in sites:
            has = s.scalar(
                select(MonitoringRecord.id).where(
                    MonitoringRecord.site_id == site.id, MonitoringRecord.method == "example"
                )
            )
            if has is not None:
                continue
            names = {sp.scientific_name for sp in site.grant.species}
            plan = MOUNTAIN if "Panthera uncia" in names else LOWLAND
            rng = random.Random(zlib.crc32(f"{site.grant.code}/{site.name}".encode()))
            area = to_shape(site.geom)
            minx, miny, maxx, maxy = area.bounds
            for code, (typical, spread, n_points) in plan.items():
                ind = indicators.get(code)
                if ind is None:
                    continue
                trend = rng.uniform(-0.05, 0.12)  # per year
                for start, end in _quarters():
                    years = start.year - YEARS.start + (start.month - 1) / 12
                    v = typical * (1 + trend * years) * rng.uniform(1 - spread, 1 + spread)
                    value = float(round(v)) if ind.unit != "km" else round(v, 1)
                    rec = MonitoringRecord(
                        site_id=site.id,
                        indicator_id=ind.id,
                        period_start=start,
                        period_end=end,
                        value=max(value, 0.0),
                        method_note="Example value for the demo; not a real observation.",
                        state=MonitoringState.accepted,
                        submitted_by_name="example",
                        reviewed_by_name="example",
                        reviewed_at=dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC),
                        source=SOURCE,
                        licence=LICENCE,
                        method="example",
                    )
                    for _ in range(n_points):
                        for _try in range(50):
                            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
                            if area.contains(p):
                                break
                        else:
                            p = area.representative_point()
                        rec.points.append(
                            MonitoringPoint(
                                indicator_id=ind.id,
                                observed_on=start,
                                accepted=True,
                                source=SOURCE,
                                licence=LICENCE,
                                method="example",
                                geom=from_shape(p, srid=4326),
                            )
                        )
                    s.add(rec)
                    added += 1
        s.commit()
    return added

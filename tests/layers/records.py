"""Records the demo does not hold, added for a test module and removed afterwards with their
audit rows: occurrences of a sensitive and a non-sensitive species, and an unpublished threat."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, delete, select, tuple_

from geoalchemy2.shape import from_shape
from shapely.geometry import Point, Polygon

from api.db import models as m
from api.db.engine import transaction

SNOW_LEOPARD = "Panthera uncia"
ARGALI = "Ovis ammon"
#: precise positions; with 0.2 degree cells the public sees the cell centres
SENSITIVE_POINTS = [(77.0871, 43.0512), (76.9031, 43.1988)]
SENSITIVE_CENTRES = [(77.1, 43.1), (76.9, 43.1)]
PUBLIC_POINT = (75.5432, 42.3456)
OBSERVER = "Jane Q. Observer"
UNPUBLISHED = "Unpublished test road"


@contextmanager
def extra_records(engine: Engine) -> Iterator[dict[str, Any]]:
    ids: dict[str, Any] = {"occurrences": []}
    with transaction(engine, actor="tests") as s:
        leopard = s.scalar(select(m.Species).where(m.Species.scientific_name == SNOW_LEOPARD))
        assert leopard is not None and leopard.sensitive
        argali = m.Species(
            scientific_name=ARGALI,
            common_name_en="Argali",
            iucn_category="NT",
            sensitive=False,
            source="test",
        )
        s.add(argali)
        s.flush()
        ids["argali"] = argali.id
        rows = [(leopard.id, p, 990_000_001 + i) for i, p in enumerate(SENSITIVE_POINTS)]
        rows.append((argali.id, PUBLIC_POINT, 990_000_010))
        for species_id, (x, y), gbif in rows:
            o = m.Occurrence(
                species_id=species_id,
                gbif_id=gbif,
                occurrence_id=f"urn:test:{gbif}",
                event_date=dt.date(2021, 6, 1 + gbif % 10),
                basis_of_record="HUMAN_OBSERVATION",
                recorded_by=OBSERVER,
                country_code="KZ",
                source="test records",
                licence="CC0",
                method="observed",
                geom=from_shape(Point(x, y), srid=4326),
            )
            s.add(o)
            s.flush()
            ids["occurrences"].append(o.id)
        t = m.Threat(
            name=UNPUBLISHED,
            kind="road",
            status="proposed",
            published=False,
            source="test",
            licence="CC0",
            method="example",
            links=[],
            properties={},
            geom=from_shape(
                Polygon([(76.0, 43.0), (76.1, 43.0), (76.1, 43.1), (76.0, 43.1)]), srid=4326
            ),
        )
        s.add(t)
        s.flush()
        ids["unpublished_threat"] = t.id
    try:
        yield ids
    finally:
        with transaction(engine, actor="tests") as s:
            s.execute(delete(m.Occurrence).where(m.Occurrence.id.in_(ids["occurrences"])))
            s.execute(delete(m.Threat).where(m.Threat.id == ids["unpublished_threat"]))
            s.execute(delete(m.Species).where(m.Species.id == ids["argali"]))
            made = [("occurrences", str(i)) for i in ids["occurrences"]]
            made += [("threats", str(ids["unpublished_threat"])), ("species", str(ids["argali"]))]
            a = m.AuditLog
            s.execute(delete(a).where(tuple_(a.table_name, a.row_id).in_(made)))

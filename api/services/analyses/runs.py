"""Runs read back: summaries, result tables and result layers of stored runs."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import i18n
from api.db import models as m
from api.services.analyses.recorder import ERROR_DETAIL, jsonable, message_from_json
from geo.errors import NotFound
from geo.messages import en
from layers import analyses as la

log = logging.getLogger("irbis")


def run_summary(run: m.AnalysisRun, *, full: bool = False, staff: bool = False) -> dict[str, Any]:
    """A run as JSON. Who ran it, and the text of an unexpected error, only for ``staff``
    (analysts and administrators): the public sees that a run failed, not why inside. The
    error is in English; where the request asked for another language, ``local_error`` says
    it in that language too."""
    d: dict[str, Any] = {
        "id": run.id,
        "kind": run.kind,
        "title": run.title,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "links": [{"rel": "self", "href": f"/analyses/{run.id}"}],
    }
    if run.error and i18n.current_locale() != i18n.DEFAULT:
        said = i18n.translate(run_error(run))
        if said != run.error:
            d["local_error"] = said
    if staff:
        d["created_by"] = run.created_by
        d["error_detail"] = error_detail(run)
    if full:
        d |= {"parameters": run.parameters, "inputs": run.inputs, "results": public_results(run)}
    return d


def run_error(run: m.AnalysisRun) -> str | None:
    """The public error of a failed run, as the message it was made from where that was kept
    (``error_values``: pages say it in the reader's language), else as stored."""
    if run.error and run.error_values:
        try:
            return message_from_json(run.error_values)
        except (KeyError, TypeError, AttributeError):
            log.warning("run %s keeps its error in a form not understood", run.id)
    return run.error


def error_detail(run: m.AnalysisRun) -> str | None:
    """The exception text of a run that failed unexpectedly (for analysts and admins)."""
    return (run.results or {}).get(ERROR_DETAIL) if run.status == "failed" else None


def public_results(run: m.AnalysisRun) -> dict[str, Any] | None:
    """The results of a run, without the exception text of a failed one."""
    if run.status == "failed":
        return None
    return run.results


def list_runs(session: Session, kind: str | None = None, limit: int = 100) -> list[m.AnalysisRun]:
    q = select(m.AnalysisRun).order_by(m.AnalysisRun.id.desc()).limit(limit)
    if kind:
        q = q.where(m.AnalysisRun.kind == kind)
    return list(session.scalars(q))


def get_run(session: Session, run_id: int) -> m.AnalysisRun:
    run = session.get(m.AnalysisRun, run_id)
    if run is None:
        raise NotFound(en("no analysis run {run}", run=run_id))
    return run


def run_features(
    session: Session, run: m.AnalysisRun, kind: str | None = None, *, simplify: float = 0.0
) -> dict[str, Any]:
    """The run's result geometries as a GeoJSON FeatureCollection (habitat/ecosystem rows for
    those kinds); ``simplify`` (degrees) simplifies them for a map, 0 keeps them exact."""
    q = la.run_features(run.id, run.kind, kind, simplify=float(simplify))
    feats = []
    for row in session.execute(q).mappings():
        props = {k: v for k, v in row.items() if k not in ("g", "properties")}
        props |= row.get("properties") or {}
        feats.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": row["g"],
                "properties": jsonable(props),
            }
        )
    return {"type": "FeatureCollection", "features": feats, "run": run.id}


def run_table(run: m.AnalysisRun) -> pd.DataFrame:
    """The run's main result table."""
    r = run.results or {}
    key = {
        "ecosystems": "areas",
        "habitat": "habitat",
        "overlap": "table",
        "gaps": "table",
        "loss": "footprint",
    }.get(run.kind, "")
    df = pd.DataFrame(r.get(key, []))
    return df[ordered_columns(list(df.columns))] if not df.empty else df


_LEADING = (
    "zone",
    "zone_type",
    "zone_name",
    "epoch",
    "threat_id",
    "name",
    "status",
    "changed_on",
    "layer",
    "feature_id",
    "feature_label",
    "species",
    "ecosystem",
    "kind",
    "eco_class",
    "label",
    "iso3",
    "rank",
    "area_ha",
    "habitat_ha",
)


def ordered_columns(cols: list[str]) -> list[str]:
    """Result columns in a readable order (JSONB does not keep the order of keys)."""
    lead = [c for c in _LEADING if c in cols]
    return lead + sorted(c for c in cols if c not in lead)


def count_runs(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(m.AnalysisRun)) or 0)

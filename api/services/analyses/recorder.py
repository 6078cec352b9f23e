"""The one run recorder of every analysis kind: a run, its parameters, inputs and results.

:func:`execute` reads and computes first (``compute``), then writes the run, its parameters,
inputs, results and result geometries (``store``) in ONE transaction. If anything fails,
nothing of the results is written; a ``failed`` run with the error is recorded instead and the
error is raised again. What a run read is kept in its :class:`Inputs` (``layer_versions`` of
every table, the sha256 of every raster and reference file, the runs it built on); the rasters
it writes are written atomically (:func:`write_atomic`) and registered in one way
(:func:`register_raster`, through :func:`api.db.store.raster_columns`).

A run computed in the background (``POST /analyses`` with ``Prefer: respond-async``) is
recorded first as ``running`` (:func:`start_run`); its steps and heartbeat are written to that
record while it works (:func:`progress_recorder`, :mod:`api.services.background`), and
:func:`execute` with ``record=`` fills it in (results in one transaction as above) or marks it
failed. A record marked stopped meanwhile is never written over.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import math
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

import geopandas as gpd

from api.db import models as m
from api.db.engine import transaction
from api.db.store import raster_columns, rows_from_gdf
from api.services.background import STOPPED, RunStopped, analysis_running
from api.settings import Settings
from geo.errors import IrbisError, NotFound
from geo.messages import Message, en
from geo.raster import sha256_file

log = logging.getLogger("irbis")

#: What the public reads for a run that failed on an unexpected error (the exception text is
#: logged and kept in ``results[ERROR_DETAIL]``, shown to analysts and administrators only).
UNEXPECTED_FAILURE = en(
    "The analysis failed on an unexpected error; nothing of its results was stored. "
    "The error was logged: an analyst or administrator can see it on this run."
)
ERROR_DETAIL = "error_detail"

ACTOR = "irbis analyse"
DERIVED_LICENCE = (
    "Derived from public-domain data: GEBCO 2023 Grid (GEBCO terms of use: attribute GEBCO, "
    "not for navigation), USGS/NOAA terrain via Mapzen and pvlib (attribution requested), "
    "Natural Earth; example records as marked"
)
Progress = Callable[[str], None]


@dataclass
class Inputs:
    """What a run read: table versions and raster digests (stored with the run)."""

    tables: dict[str, int] = field(default_factory=dict)
    rasters: dict[str, dict[str, str]] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "rasters": self.rasters,
            "runs": self.runs,
            "files": self.files,
        }


def record_versions(session: Session, tables: Iterable[str], inputs: Inputs) -> None:
    """Record the ``layer_versions`` of ``tables`` (0 for a table never versioned)."""
    rows = session.execute(
        select(m.LayerVersion.table_name, m.LayerVersion.version).where(
            m.LayerVersion.table_name.in_(list(tables))
        )
    )
    for name, version in rows:
        inputs.tables[name] = int(version)
    for t in tables:
        inputs.tables.setdefault(t, 0)


def registered_raster(session: Session, settings: Settings, name: str, inputs: Inputs) -> Path:
    """The file of the registered raster ``name``, recorded with its digest."""
    r = session.scalar(select(m.RasterDataset).where(m.RasterDataset.name == name))
    if r is None:
        raise NotFound(
            en(
                "no raster named {name} is registered (load the demo or import it)",
                name=repr(name),
            )
        )
    path = Path(r.path)
    full = path if path.is_absolute() else settings.data_dir / path
    if not full.is_file():
        # where the file should be is the server's business: logged, not published
        log.error("raster %r is registered but its file %s is missing", name, full)
        raise NotFound(
            en(
                "raster {name} is registered but its file is missing from the data folder",
                name=repr(name),
            )
        )
    inputs.rasters[name] = {"sha256": r.sha256, "path": str(path)}
    return full


def data_file(settings: Settings, relpath: str, inputs: Inputs) -> Path:
    """A reference file of the data folder, recorded with its digest in the run's inputs."""
    full = settings.data_dir / relpath
    if not full.is_file():
        raise NotFound(
            en("the reference file {path} is missing from the data folder", path=relpath)
        )
    inputs.files[relpath] = {"sha256": sha256_file(full)}
    return full


#: Free bytes below which a failed raster write is taken for a full disk.
_DISK_FULL_BELOW = 1 << 20


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(final: Path, write: Callable[[Path], object]) -> Path:
    """Have ``write`` write a raster to a temporary file beside ``final``, flush it to disk,
    then rename it to ``final``: a reader never sees half a raster, and a write that fails
    (a full disk) leaves no partial file behind."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{secrets.token_hex(4)}.partial{final.suffix}")
    try:
        try:
            write(tmp)
        except Exception as exc:
            # GDAL reports a full disk only as "write error"; the file system says more
            st = os.statvfs(final.parent)
            unexplained = not isinstance(exc, OSError) or exc.errno is None
            if unexplained and st.f_bavail * st.f_frsize < _DISK_FULL_BELOW:
                raise OSError(errno.ENOSPC, "No space left on device") from exc
            raise
        _fsync(tmp)
        os.replace(tmp, final)
        _fsync(final.parent)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".aux.xml").unlink(missing_ok=True)
    return final


def register_raster(
    s: Session,
    path: Path,
    *,
    name: str,
    title: str,
    kind: str,
    units: str,
    source: str,
    run_id: int,
    epoch: str | None = None,
    **properties: Any,
) -> None:
    """Register the raster a run wrote at ``path`` as ``name`` (replacing a row of that name):
    its file columns from :func:`api.db.store.raster_columns`, ``properties`` and the run's id
    in its properties, modelled and under the derived licence."""
    s.execute(delete(m.RasterDataset).where(m.RasterDataset.name == name))
    s.execute(
        insert(m.RasterDataset).values(
            name=name,
            title=title,
            kind=kind,
            path=str(path.resolve()),
            units=units,
            epoch=epoch,
            source=source,
            licence=DERIVED_LICENCE,
            method="modelled",
            **raster_columns(path, analysis_run_id=run_id, **properties),
        )
    )


def jsonable(v: Any) -> Any:
    """JSON-safe values (numpy, NaN, dates, tuples) for JSONB columns."""
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if v is pd.NaT:
        return None
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe records (geometry dropped)."""
    if df is None or df.empty:
        return []
    d = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    return [jsonable(r) for r in d.to_dict("records")]


def store_features(
    session: Session, run_id: int, kind: str, gdf: gpd.GeoDataFrame, props: list[str]
) -> int:
    """Store a run's result geometries (``analysis_features``) with ``props`` as properties."""
    if gdf is None or gdf.empty:
        return 0
    g = gdf.copy()
    g["properties"] = [jsonable(r) for r in pd.DataFrame(g[props]).to_dict("records")]
    rows = rows_from_gdf(g, ["properties"], defaults={"run_id": run_id, "kind": kind})
    session.execute(insert(m.AnalysisFeature), rows)
    return len(rows)


def message_json(message: Message) -> dict[str, Any]:
    """``message`` as JSON, to be said again in any language (:func:`message_from_json`): its
    template and values (a value that is a message, the same way)."""
    values = {
        k: message_json(v) if isinstance(v, Message) else jsonable(v)
        for k, v in message.values.items()
    }
    return {"template": message.template, "values": values}


def message_from_json(stored: Mapping[str, Any]) -> Message:
    """The message :func:`message_json` kept."""
    values = {
        k: message_from_json(v) if isinstance(v, Mapping) and "template" in v else v
        for k, v in stored["values"].items()
    }
    return Message(stored["template"], values)


def _running(
    kind: str, title: str | None, parameters: dict[str, Any], actor: str, **values: Any
) -> m.AnalysisRun:
    """A new run, ``running``, with its parameters (its inputs and results come later)."""
    return m.AnalysisRun(
        kind=kind,
        title=title,
        status=m.RunStatus.running.value,
        parameters=jsonable(parameters),
        inputs={},
        created_by=actor,
        **values,
    )


def start_run(
    engine: Engine,
    kind: str,
    parameters: dict[str, Any],
    *,
    actor: str,
    title: str | None,
) -> int:
    """Record a run as ``running`` before its work starts (a run computed in the background,
    :mod:`api.services.background`); :func:`execute` with ``record=`` fills it in."""
    with transaction(engine, actor=actor) as s:
        run = _running(kind, title, parameters, actor, heartbeat_at=func.now())
        s.add(run)
        s.flush()
        return run.id


def progress_recorder(engine: Engine, run_id: int) -> Progress:
    """A ``progress`` for a run recorded by :func:`start_run`: each step is written to the
    record (``results.progress``) with the time in its heartbeat. A run marked stopped in the
    meantime (its server was taken for gone) ends there (:class:`RunStopped`)."""

    def say(step: str) -> None:
        with engine.begin() as conn:
            moved = conn.execute(
                update(m.AnalysisRun)
                .where(m.AnalysisRun.id == run_id, analysis_running())
                .values(results={"progress": step}, heartbeat_at=func.now())
            )
        if moved.rowcount == 0:
            raise RunStopped(STOPPED)

    return say


def _failure(kind: str, actor: str, error: BaseException) -> tuple[str, dict[str, Any] | None]:
    """What a run that failed on ``error`` says (its error, and for an unexpected one the
    exception text kept for analysts and administrators; it is logged)."""
    if isinstance(error, IrbisError):
        return error.message, None  # written for people: safe to publish
    log.error("%s analysis by %s failed", kind, actor, exc_info=error)
    return UNEXPECTED_FAILURE, {ERROR_DETAIL: f"{type(error).__name__}: {error}"}


def _fail_record(
    engine: Engine,
    run_id: int,
    actor: str,
    msg: str,
    detail: dict[str, Any] | None,
    **values: Any,
) -> None:
    """Mark the run recorded by :func:`start_run` as failed with ``msg``, where it is still
    running (a run marked stopped keeps that)."""
    with transaction(engine, actor=actor) as s:
        s.execute(
            update(m.AnalysisRun)
            .where(m.AnalysisRun.id == run_id, analysis_running())
            .values(
                status=m.RunStatus.failed.value,
                results=detail,
                error=msg,
                error_values=message_json(msg) if isinstance(msg, Message) else None,
                finished_at=dt.datetime.now(dt.UTC),
                **values,
            )
        )


def fail_started_run(
    engine: Engine, run_id: int, kind: str, error: BaseException, actor: str
) -> None:
    """Record how a run recorded by :func:`start_run` failed, where its work stopped before
    :func:`execute` could (a parameter refused by the analysis itself); a run that
    :func:`execute` has already ended, or that was marked stopped, is left as it is."""
    with engine.connect() as conn:
        still = conn.scalar(
            select(m.AnalysisRun.id).where(m.AnalysisRun.id == run_id, analysis_running())
        )
    if still is None:  # ended by execute (and logged there), or marked stopped
        return
    msg, detail = _failure(kind, actor, error)
    _fail_record(engine, run_id, actor, msg, detail)


def _record_failure(
    engine: Engine,
    kind: str,
    parameters: dict[str, Any],
    inputs: Inputs,
    started: dt.datetime,
    error: BaseException,
    actor: str,
    title: str | None,
    record: int | None = None,
) -> int:
    msg, detail = _failure(kind, actor, error)
    if record is not None:  # recorded at its start: the record says how it ended
        _fail_record(
            engine,
            record,
            actor,
            msg,
            detail,
            parameters=jsonable(parameters),
            inputs=inputs.as_json(),
        )
        return record
    with transaction(engine, actor=actor) as s:
        run = m.AnalysisRun(
            kind=kind,
            title=title,
            status="failed",
            parameters=jsonable(parameters),
            inputs=inputs.as_json(),
            results=detail,
            error=msg,
            error_values=message_json(msg) if isinstance(msg, Message) else None,
            created_by=actor,
            started_at=started,
            finished_at=dt.datetime.now(dt.UTC),
        )
        s.add(run)
        s.flush()
        return run.id


def execute(
    engine: Engine,
    kind: str,
    parameters: dict[str, Any],
    compute: Callable[[Inputs], Any],
    store: Callable[[Session, int, Any], dict[str, Any]],
    *,
    actor: str,
    title: str | None,
    record: int | None = None,
) -> int:
    """Run ``compute`` (reads and computes), then record the run and what ``store`` writes
    in one transaction; on any error record a failed run and raise the error again.

    ``record`` is a run recorded by :func:`start_run` (worked in the background): it is filled
    in rather than a new one written, unless it was marked stopped meanwhile
    (:class:`RunStopped`: nothing is written over it)."""
    started = dt.datetime.now(dt.UTC)
    inputs = Inputs()
    try:
        computed = compute(inputs)
        with transaction(engine, actor=actor) as s:
            if record is None:
                run = _running(kind, title, parameters, actor, started_at=started)
                s.add(run)
                s.flush()
            else:
                found = s.get(m.AnalysisRun, record, with_for_update=True)
                if found is None or found.status != m.RunStatus.running.value:
                    raise RunStopped(STOPPED)
                run = found
                run.parameters = jsonable(parameters)
            results = store(s, run.id, computed)
            run.results = jsonable(results)
            run.inputs = jsonable(inputs.as_json())
            run.status = m.RunStatus.succeeded.value
            run.finished_at = dt.datetime.now(dt.UTC)
            return run.id
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) or (
            record is not None and isinstance(exc, RunStopped)
        ):
            raise  # a run marked stopped keeps that record
        _record_failure(engine, kind, parameters, inputs, started, exc, actor, title, record)
        raise

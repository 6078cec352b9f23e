"""Threat reports: the form, submission with evidence, moderation, and evidence files."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from api import ogc
from api.auth.principal import PrincipalDep
from api.db.models import ReportState, ThreatKind, ThreatStatus
from api.deps import ReaderDep, SessionDep, SettingsDep
from api.errors import in_english
from api.evidence_uploads import checked_evidence, read_capped
from api.i18n import translate
from api.services import threat_reports as tr
from api.settings import Settings
from api.templating import map_tools, render
from geo.coordinates import EXAMPLES, parse_coordinates
from geo.errors import InvalidInput, IrbisError, TooLarge
from geo.lazy import lazy_module
from geo.messages import Message, en
from geo.threats import read_footprint
from geo.uploads import limits_from

if TYPE_CHECKING:
    from layers import threats as lt
else:  # pandas, geopandas and folium: not on the start path (geo.lazy)
    lt = lazy_module("layers.threats")

router = APIRouter(tags=["threat reports"])

#: Largest footprint file accepted (GeoJSON or KML).
MAX_FOOTPRINT_BYTES = 10 * 1024 * 1024


def _date(value: str | None, what: str) -> dt.date | None:
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            en("the {what} {value} is not a date (YYYY-MM-DD)", what=what, value=repr(value))
        ) from None


#: Words in the service's messages that say which field they are about.
_FIELD_WORDS = (
    ("title", "title"),
    ("description", "description"),
    ("kind", "kind"),
    ("status date", "status_on"),
    ("observation date", "observed_on"),
    ("status", "threat_status"),
    ("link", "links"),
    ("web address", "links"),
    ("threat", "threat_id"),
)


def _said(text: str) -> str:
    """``text`` in the reader's language where it is a message (a name stays as it is)."""
    return translate(text) if isinstance(text, Message) else text


def _field_of(message: str) -> str:
    for word, field in _FIELD_WORDS:
        if word in message:
            return field
    return "form"


def raise_fields(problems: dict[str, object]) -> NoReturn:
    """Refuse the form with every field's problem: English in the message (which the error
    handler also gives in the language of the request) and ``details.fields``, the language of
    the request in ``details.messages``."""
    english = {k: in_english(v) for k, v in problems.items()}
    parts = {
        f"p{i}": v if isinstance(v, Message) else english[k]
        for i, (k, v) in enumerate(problems.items())
    }
    raise InvalidInput(
        Message("; ".join(f"{{{p}}}" for p in parts), parts),
        details={"fields": english, "messages": {k: translate(v) for k, v in problems.items()}},
    )


async def _footprint(
    settings: Settings,
    session: Session,
    footprint: UploadFile | None,
    geometry: str | None,
    point: str | None,
    threat_id: int | None,
) -> BaseGeometry:
    if footprint is not None and footprint.filename:
        u = settings.uploads
        limits = limits_from(
            min(u.max_bytes, MAX_FOOTPRINT_BYTES),
            u.max_features,
            u.max_vertices,
            u.max_uncompressed_bytes,
            u.max_compression_ratio,
        )
        raw = await read_capped(footprint, limits.max_bytes, "footprint files")
        return await run_in_threadpool(
            read_footprint, data=raw, filename=footprint.filename, limits=limits
        )
    if (geometry or "").strip():
        return await run_in_threadpool(read_footprint, geometry)
    if point:
        return await run_in_threadpool(read_footprint, point)
    if threat_id is not None:
        return await run_in_threadpool(tr.threat_geometry, session, threat_id)
    return await run_in_threadpool(read_footprint, geometry)


@router.get("/reports/coordinates", summary="Read typed or pasted coordinates")
def coordinates_point(
    q: Annotated[str, Query(max_length=200, description="e.g. 43.2567, 76.9286")],
) -> JSONResponse:
    """Decimal degrees, degrees-minutes-seconds or UTM (zone and band, easting, northing) as
    longitude and latitude (WGS 84), or 400 saying how to write them."""
    lon, lat = parse_coordinates(q)
    return JSONResponse({"lon": round(lon, 7), "lat": round(lat, 7)})


@router.get("/reports/new", response_class=HTMLResponse, include_in_schema=False)
def new_report(
    request: Request, principal: PrincipalDep, engine: ReaderDep, threat: int | None = None
) -> Response:
    """The form: draw the threat on the map (or upload a file), describe it, attach evidence."""
    if principal.is_anonymous:
        return RedirectResponse(f"/login?next={quote('/reports/new')}", status_code=303)
    tr.require_reporter(principal)
    with engine.connect() as conn:
        m, drawn = lt.draw_map(
            lt.map_context(conn),
            tools=map_tools(request),
            versions=ogc.version_tokens(request, lt.site_context_layers()),
        )
        threats = lt.threat_index(conn)
    return render(
        request,
        "report_new.html",
        map=lt.map_parts(m),
        drawn=drawn,
        kinds=[k.value for k in ThreatKind],
        statuses=[s.value for s in ThreatStatus],
        threats=threats,
        about=threat,
        max_photo_mb=request.app.state.settings.uploads.max_photo_bytes / 1e6,
        licence=tr.REPORT_LICENCE,
        coordinate_examples=EXAMPLES,
    )


@router.post("/reports", status_code=201, summary="Submit a threat report with evidence")
async def submit(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    title: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "other",
    threat_status: Annotated[str, Form()] = "proposed",
    description: Annotated[str, Form()] = "",
    status_on: Annotated[str | None, Form()] = None,
    observed_on: Annotated[str | None, Form()] = None,
    links: Annotated[str, Form(description="web addresses, one a line")] = "",
    anonymous: Annotated[bool, Form()] = False,
    keep_location: Annotated[bool, Form()] = False,
    threat_id: Annotated[int | None, Form()] = None,
    geometry: Annotated[str | None, Form(description="GeoJSON drawn on the map")] = None,
    coordinates: Annotated[
        str | None,
        Form(max_length=200, description="a point: decimal degrees, DMS or UTM"),
    ] = None,
    footprint: Annotated[
        UploadFile | None, File(description="GeoJSON, KML/KMZ, zipped Shapefile, GeoPackage")
    ] = None,
    evidence: Annotated[list[UploadFile] | None, File(description="JPEG, PNG, PDF")] = None,
) -> JSONResponse:
    """Submit a report. Every field, the geometry and every file are checked before anything
    is stored; problems answer 400 with every field's problem at once
    (``details.fields``: English, ``details.messages``: in the language of the request), and
    nothing is kept."""
    tr.require_reporter(principal)
    problems, days, point = _field_problems(title, description, status_on, observed_on, coordinates)
    given = bool(
        (footprint is not None and footprint.filename)
        or (geometry or "").strip()
        or (coordinates or "").strip()
        or threat_id is not None
    )
    if not given:
        problems["geometry"] = en(
            "draw the threat on the map, type its coordinates or upload its footprint: "
            "nothing shows where it is"
        )
    data: tr.ReportInput | None = None
    try:
        data = tr.ReportInput(
            title=title,
            kind=kind,
            threat_status=threat_status,
            description=description,
            status_on=days["status_on"],
            observed_on=days["observed_on"],
            links=links.splitlines(),
            anonymous=anonymous,
            keep_location=keep_location,
            threat_id=threat_id,
        ).checked()
    except InvalidInput as exc:
        field = _field_of(exc.message)
        problems.setdefault(field, exc.message)
    geom = None
    if given and "coordinates" not in problems:
        geom = await _located(settings, session, footprint, geometry, point, threat_id, problems)
    if problems or data is None or geom is None:
        raise_fields(problems or {"form": en("the report could not be read")})
    checked = await _checked_evidence(evidence or [], settings, keep_location=data.keep_location)

    def store() -> dict[str, object]:
        report = tr.submit_report(session, settings, principal, data, geom, checked)
        return {
            "id": report.id,
            "state": report.state,
            "url": f"/reports/{report.id}",
            "evidence": [f"/evidence/{e.id}" for e in report.evidence],
        }

    body = await run_in_threadpool(store)  # database and file writes
    return JSONResponse(body, status_code=201, headers={"Location": str(body["url"])})


async def _located(
    settings: Settings,
    session: Session,
    footprint: UploadFile | None,
    geometry: str | None,
    point: str | None,
    threat_id: int | None,
    problems: dict[str, object],
) -> BaseGeometry | None:
    """The report's geometry, or None with the problem noted beside the field it came from."""
    try:
        return await _footprint(settings, session, footprint, geometry, point, threat_id)
    except TooLarge:
        raise
    except IrbisError as exc:
        if footprint is not None and footprint.filename:
            where = "footprint"
        else:
            where = "coordinates" if point else "geometry"
        problems[where] = exc.message
        return None


def _field_problems(
    title: str,
    description: str,
    status_on: str | None,
    observed_on: str | None,
    coordinates: str | None,
) -> tuple[dict[str, object], dict[str, dt.date | None], str | None]:
    """The problems of the plain fields, the dates read, and the typed point as GeoJSON."""
    problems: dict[str, object] = {}
    days: dict[str, dt.date | None] = {}
    for name, value, what in (
        ("status_on", status_on, en("status date")),
        ("observed_on", observed_on, en("observation date")),
    ):
        try:
            days[name] = _date(value, what)
        except InvalidInput as exc:
            problems[name], days[name] = exc.message, None
    if not title.strip():
        problems["title"] = en("the title is empty: give the threat a short name")
    if not description.strip():
        problems["description"] = en("the description is empty: say what the threat is and why")
    point = None
    if coordinates and coordinates.strip():
        try:
            lon, lat = parse_coordinates(coordinates)
            point = json.dumps({"type": "Point", "coordinates": [lon, lat]})
        except InvalidInput as exc:
            problems["coordinates"] = exc.message
    return problems, days, point


async def _checked_evidence(
    evidence: list[UploadFile], settings: Settings, *, keep_location: bool
) -> list[Any]:
    """Every evidence file within its limits, then decoded and stripped of its metadata."""
    files = [f for f in evidence if f.filename]
    if len(files) > tr.MAX_EVIDENCE_FILES:
        raise_fields(
            {"evidence": en("at most {n} evidence files per report", n=tr.MAX_EVIDENCE_FILES)}
        )
    return await checked_evidence(files, settings, keep_location=keep_location)


@router.get("/reports", summary="Threat reports: all for moderators, one's own for reporters")
def list_reports(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    f: Annotated[str, Query(pattern="^(html|json)$", description="html or json")] = "html",
    state: Annotated[ReportState | None, Query(description="Only reports in this state")] = None,
) -> Response:
    """Moderators see every report; reporters see their own (HTML, or JSON with ``f=json``)."""
    if principal.is_anonymous:
        if f == "json":
            tr.require_reporter(principal)
        return RedirectResponse(f"/login?next={quote('/reports')}", status_code=303)
    reports = [r for r in tr.reports_for(session, principal) if state is None or r.state == state]
    if f == "json":
        return JSONResponse(
            {
                "reports": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "kind": r.kind,
                        "threat_status": r.threat_status,
                        "state": r.state,
                        "reason": r.reason,
                        "reporter": tr.reporter_label(principal, r),
                        "threat_id": r.threat_id,
                        "submitted_at": r.created_at.isoformat(),
                        "url": f"/reports/{r.id}",
                        "evidence": [f"/evidence/{e.id}" for e in r.evidence],
                    }
                    for r in reports
                ]
            }
        )
    return render(
        request,
        "reports_list.html",
        reports=reports,
        moderator=tr.is_moderator(principal),
        label=lambda r: _said(tr.reporter_label(principal, r)),
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse, include_in_schema=False)
def report_page(
    request: Request, principal: PrincipalDep, session: SessionDep, report_id: int
) -> HTMLResponse:
    report = tr.visible_report(session, principal, report_id)
    geom = tr.report_geometry(report)
    m = lt.dossier_map(
        geom,
        report.title,
        {},
        relief=True,
        tools=map_tools(request),
        versions=ogc.version_tokens(request, lt.site_context_layers()),
    )
    moderator = tr.is_moderator(principal)
    return render(
        request,
        "report_detail.html",
        r=report,
        reporter=_said(tr.reporter_label(principal, report)),
        moderator=moderator,
        allowed=sorted(tr.TRANSITIONS[report.state]) if moderator else [],
        events=report.events,
        map=lt.map_parts(m),
        geojson=mapping(geom),
    )


@router.post("/reports/{report_id}/state", summary="Move a report on in moderation")
def change_state(
    principal: PrincipalDep,
    session: SessionDep,
    report_id: int,
    to_state: Annotated[ReportState, Form(description="under_review, published or rejected")],
    reason: Annotated[str | None, Form(description="why (required to reject)")] = None,
) -> JSONResponse:
    """Analysts and admins review, publish or reject; each step is kept with who and when."""
    report = tr.moderate(session, principal, report_id, to_state, reason=reason)
    return JSONResponse(
        {
            "id": report.id,
            "state": report.state,
            "threat_id": report.threat_id,
            "threat_url": f"/threats/{report.threat_id}" if report.threat_id else None,
        }
    )


@router.get("/evidence/{evidence_id}", summary="An evidence file (photo or PDF)")
def evidence_file(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, evidence_id: int
) -> FileResponse:
    """The stored file, if its report is published or the caller may see the report."""
    ev = tr.visible_evidence(session, principal, evidence_id)
    path = tr.evidence_path(settings, ev)
    public = ev.report.state == ReportState.published
    return FileResponse(
        path,
        media_type=ev.media_type,
        headers={
            "Cache-Control": "public, max-age=86400" if public else "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Content-Disposition": f'inline; filename="evidence-{ev.id}.{path.suffix[1:]}"',
            "ETag": f'"{ev.sha256}"',
        },
    )

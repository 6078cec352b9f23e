"""Field monitoring over HTTP: the indicator catalogue, records (form, API, CSV), review,
time series as JSON and as pages with charts, and evidence files."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth.principal import ANONYMOUS, Principal, PrincipalDep
from api.db.models import MonitoringState
from api.deps import ReaderDep, SessionDep, SettingsDep
from api.evidence_uploads import checked_evidence
from api.i18n import _, translate
from api.services import monitoring as ms
from api.services.sites import get_grant
from api.settings import Settings
from api.templating import render
from geo.errors import Conflict, InvalidInput, TooLarge
from geo.evidence import Evidence
from geo.messages import en
from layers import monitoring as lm

router = APIRouter(tags=["monitoring"])

Code = Annotated[
    str,
    Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="Grant code, e.g. SOS-CA-EX-01"),
]
Step = Annotated[str, Query(pattern="^(month|year)$", description="month or year")]


class IndicatorBody(BaseModel):
    code: str = Field(max_length=64, description="lower-case letters, digits and _")
    name_en: str = Field(max_length=200)
    unit: str = Field(max_length=40)
    sensitive: bool = False
    name_ru: str | None = Field(default=None, max_length=200)
    name_kk: str | None = Field(default=None, max_length=200)
    species: str | None = Field(default=None, max_length=200, description="scientific name")
    allow_negative: bool = False
    description: str | None = Field(default=None, max_length=2000)


class IndicatorChanges(BaseModel):
    name_en: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=40)
    sensitive: bool | None = None
    name_ru: str | None = Field(default=None, max_length=200)
    name_kk: str | None = Field(default=None, max_length=200)
    species: str | None = Field(default=None, max_length=200)
    allow_negative: bool | None = None
    description: str | None = Field(default=None, max_length=2000)


async def _evidence(settings: Settings, files: list[UploadFile] | None) -> list[Evidence]:
    """Read and check evidence files like threat evidence: every size limit first, then each
    file decoded and written again without its metadata. The location in a photo is never
    kept: a monitoring photo may show where a sensitive species was seen."""
    chosen = [f for f in (files or []) if f.filename]
    if len(chosen) > ms.MAX_EVIDENCE_FILES:
        raise InvalidInput(en("at most {n} evidence files per record", n=ms.MAX_EVIDENCE_FILES))
    return await checked_evidence(chosen, settings, keep_location=False)


# ---------------------------------------------------------------------------------------------
# The indicator catalogue
# ---------------------------------------------------------------------------------------------


@router.get("/api/monitoring/indicators", summary="The indicator catalogue")
def indicators(session: SessionDep) -> JSONResponse:
    """Every indicator: code, names, unit, whether it is sensitive, its species."""
    return JSONResponse({"indicators": [ms.indicator_dict(i) for i in ms.list_indicators(session)]})


@router.post("/api/monitoring/indicators", status_code=201, summary="Add an indicator (admins)")
def add_indicator(
    principal: PrincipalDep, session: SessionDep, body: IndicatorBody
) -> JSONResponse:
    ind = ms.create_indicator(session, principal, ms.IndicatorInput(**body.model_dump()))
    return JSONResponse(ms.indicator_dict(ind), status_code=201)


@router.patch("/api/monitoring/indicators/{code}", summary="Change an indicator (admins)")
def edit_indicator(
    principal: PrincipalDep,
    session: SessionDep,
    code: Annotated[str, Path(max_length=64)],
    body: IndicatorChanges,
) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True)
    ind = ms.update_indicator(session, principal, code, changes)
    return JSONResponse(ms.indicator_dict(ind))


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


def _created(record: Any) -> JSONResponse:
    body = ms.record_dict(record, private=True)
    return JSONResponse(body, status_code=201, headers={"Location": body["url"]})


@router.post("/api/grants/{code}/monitoring", status_code=201, summary="Submit a monitoring record")
async def submit(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    code: Code,
    site: Annotated[str, Form(max_length=300, description="site name or id")],
    indicator: Annotated[str, Form(max_length=64, description="indicator code")],
    period_start: Annotated[str, Form(max_length=20, description="date (YYYY-MM-DD)")],
    value: Annotated[str, Form(max_length=40)],
    period_end: Annotated[str, Form(max_length=20, description="end of a period")] = "",
    method_note: Annotated[str, Form(max_length=ms.MAX_NOTE)] = "",
    points: Annotated[
        str, Form(max_length=100_000, description="'lon lat' pairs, one a line or ; separated")
    ] = "",
    evidence: Annotated[list[UploadFile] | None, File(description="JPEG, PNG, PDF")] = None,
) -> JSONResponse:
    """A grantee submits a record for a site of its own grant (admins for any). Every field
    and file is checked before anything is stored."""
    grant = await run_in_threadpool(get_grant, session, code)
    ms.require_submitter(principal, grant)
    files = await _evidence(settings, evidence)
    data = ms.RecordInput(site, indicator, period_start, value, period_end, method_note, points)
    record = await run_in_threadpool(
        ms.submit_record, session, settings, principal, code, data, files
    )
    return _created(record)


@router.post(
    "/api/grants/{code}/monitoring/csv",
    summary="Submit monitoring records from a CSV file, or a ZIP of it and its evidence files "
    "(all or none)",
    responses={422: {"description": "a row is wrong: the report says which; nothing stored"}},
)
async def submit_csv(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    code: Code,
    file: Annotated[
        UploadFile,
        File(
            description=f"CSV, UTF-8: {', '.join(ms.CSV_COLUMNS)}; or an XLSX workbook with "
            "those columns (its first sheet); or a ZIP of the CSV and the evidence files (JPEG, "
            "PNG, PDF) its evidence column names"
        ),
    ],
    dry_run: Annotated[bool, Query(description="check only, store nothing")] = False,
) -> JSONResponse:
    """One row per record. Every row, and every evidence file a row names, is checked first;
    if any is wrong nothing is stored and the answer (422) says, row by row, what to fix.
    Evidence files are checked and cleaned like those sent with a single record."""
    grant = await run_in_threadpool(get_grant, session, code)
    ms.require_submitter(principal, grant)
    raw = await file.read(settings.uploads.max_bytes + 1)
    if len(raw) > settings.uploads.max_bytes:
        raise TooLarge(
            en(
                "the file is larger than {mb} MB",
                mb=format(settings.uploads.max_bytes / 1e6, ".0f"),
            )
        )
    report = await run_in_threadpool(
        ms.submit_csv, session, settings, principal, code, raw, dry_run=dry_run
    )
    status = 201 if report.stored else (200 if report.ok else 422)
    return JSONResponse(report.as_dict(), status_code=status)


@router.get("/api/grants/{code}/monitoring", summary="A grant's monitoring records")
def grant_records(
    principal: PrincipalDep,
    session: SessionDep,
    code: Code,
    state: Annotated[MonitoringState | None, Query(description="only this state")] = None,
) -> JSONResponse:
    """Accepted records for everyone; every state for the grant's grantees and reviewers."""
    grant, recs = ms.records_for_grant(session, principal, code, state)
    private = ms.sees_all_of(principal, grant.id)
    return JSONResponse(
        {"grant": grant.code, "records": [ms.record_dict(r, private=private) for r in recs]}
    )


def _record_json(
    request: Request, principal: Principal, session: Any, record_id: int
) -> dict[str, Any]:
    record = ms.visible_record(session, principal, record_id)
    private = ms.sees_all_of(principal, record.site.grant_id)
    body = ms.record_dict(record, private=private)
    body["points"] = lm.observation_points(
        session.connection(),
        [record.id],
        privileged=private,
        cell_deg=request.app.state.settings.features.sensitive_cell_deg,
    )
    if private:
        body["history"] = ms.record_history(session, record)
    return body


@router.get("/api/monitoring/records/{record_id}", summary="A monitoring record")
def record_json(
    request: Request, principal: PrincipalDep, session: SessionDep, record_id: int
) -> JSONResponse:
    """A record with its observation points (generalised for the public where sensitive)."""
    return JSONResponse(_record_json(request, principal, session, record_id))


@router.post("/api/monitoring/records/{record_id}/review", summary="Accept or return a record")
def review(
    principal: PrincipalDep,
    session: SessionDep,
    record_id: int,
    to_state: Annotated[str, Form(max_length=16, description="accepted or returned")],
    reason: Annotated[str | None, Form(max_length=ms.MAX_NOTE, description="why")] = None,
) -> JSONResponse:
    record = ms.review(session, principal, record_id, to_state, reason)
    return JSONResponse({"id": record.id, "state": record.state, "reason": record.reason})


@router.post(
    "/api/monitoring/records/{record_id}/resubmit",
    summary="Correct a returned record and submit it again (its grantees)",
)
async def resubmit(
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    record_id: int,
    site: Annotated[str, Form(max_length=300, description="site name or id")],
    indicator: Annotated[str, Form(max_length=64, description="indicator code")],
    period_start: Annotated[str, Form(max_length=20, description="date (YYYY-MM-DD)")],
    value: Annotated[str, Form(max_length=40)],
    period_end: Annotated[str, Form(max_length=20, description="end of a period")] = "",
    method_note: Annotated[str, Form(max_length=ms.MAX_NOTE)] = "",
    points: Annotated[
        str, Form(max_length=100_000, description="'lon lat' pairs; they replace the record's")
    ] = "",
    evidence: Annotated[
        list[UploadFile] | None, File(description="JPEG, PNG, PDF; added to the record's")
    ] = None,
) -> JSONResponse:
    """The whole corrected record, as in a submission; it goes back to review (submitted).
    Only a returned record, and only by a grantee of its grant or an administrator."""
    record = await run_in_threadpool(ms.visible_record, session, principal, record_id)
    ms.require_submitter(principal, record.site.grant)
    files = await _evidence(settings, evidence)
    data = ms.RecordInput(site, indicator, period_start, value, period_end, method_note, points)
    record = await run_in_threadpool(
        ms.resubmit, session, settings, principal, record_id, data, files
    )
    return JSONResponse(ms.record_dict(record, private=True))


@router.get("/api/monitoring/series", summary="Monitoring time series")
def series_json(
    principal: PrincipalDep,
    session: SessionDep,
    grant: Annotated[str | None, Query(max_length=64, description="a grant's code")] = None,
    site: Annotated[int | None, Query(description="a field site's id")] = None,
    indicator: Annotated[str | None, Query(max_length=64, description="indicator code")] = None,
    step: Step = "month",
) -> JSONResponse:
    """Values per indicator and period (summed over the sites asked about): per site, per
    grant, or per indicator across the portfolio. The public sees accepted records only."""
    g = get_grant(session, grant) if grant else None
    if indicator is not None:
        ms.get_indicator(session, indicator)
    s = ms.series(
        session.connection(), principal, grant=g, site_id=site, indicator=indicator, step=step
    )
    return JSONResponse(
        {"grant": grant, "site": site, "indicator": indicator, "step": step, "series": s}
    )


@router.get("/monitoring/evidence/{evidence_id}", summary="A monitoring evidence file")
def evidence_file(
    principal: PrincipalDep, session: SessionDep, settings: SettingsDep, evidence_id: int
) -> FileResponse:
    ev = ms.visible_evidence(session, principal, evidence_id)
    path = ms.stored_evidence_path(settings, ev)
    public = ev.record.state == MonitoringState.accepted
    return FileResponse(
        path,
        media_type=ev.media_type,
        headers={
            "Cache-Control": "public, max-age=86400" if public else "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Content-Disposition": f'inline; filename="monitoring-{ev.id}.{path.suffix[1:]}"',
            "ETag": f'"{ev.sha256}"',
        },
    )


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


@router.get("/monitoring", response_class=HTMLResponse, include_in_schema=False)
def portfolio_page(
    request: Request, principal: PrincipalDep, session: SessionDep, engine: ReaderDep
) -> HTMLResponse:
    """Every indicator across the portfolio, a chart each; reviewers also see what waits."""
    with engine.connect() as conn:
        s = ms.series(conn, ANONYMOUS, step="year")  # what the public sees
    waiting = ms.pending(session, principal) if ms.is_reviewer(principal) else []
    return render(
        request,
        "monitoring.html",
        series=s,
        charts=[ms.chart(x) for x in s],
        waiting=waiting,
        indicators=ms.list_indicators(session),
    )


@router.get("/grants/{code}/monitoring", response_class=HTMLResponse, include_in_schema=False)
def grant_page(
    request: Request, principal: PrincipalDep, session: SessionDep, code: Code
) -> HTMLResponse:
    grant, recs = ms.records_for_grant(session, principal, code)
    monitoring = ms.grant_monitoring(session.connection(), principal, grant.id, grant.code)
    return render(
        request,
        "monitoring_grant.html",
        grant=grant,
        records=recs,
        monitoring=monitoring,
        may_submit=not principal.is_anonymous and principal.may_edit_sites(grant.id),
    )


@router.get("/grants/{code}/monitoring/new", response_class=HTMLResponse, include_in_schema=False)
def new_record_page(
    request: Request, principal: PrincipalDep, session: SessionDep, code: Code
) -> Response:
    if principal.is_anonymous:
        return RedirectResponse(
            f"/login?next={quote(f'/grants/{code}/monitoring/new')}", status_code=303
        )
    grant = get_grant(session, code)
    ms.require_submitter(principal, grant)
    return _form(request, session, grant, error=None, values={})


def _form(
    request: Request,
    session: Any,
    grant: Any,
    *,
    error: str | None,
    values: dict[str, str],
    status_code: int = 200,
    record: Any = None,
) -> HTMLResponse:
    """The submission form, or with ``record`` the form correcting that returned record."""
    return render(
        request,
        "monitoring_new.html",
        status_code=status_code,
        grant=grant,
        sites=sorted(grant.field_sites, key=lambda s: s.name),
        indicators=ms.list_indicators(session),
        error=error,
        values=values,
        record=record,
    )


@router.post("/grants/{code}/monitoring/new", include_in_schema=False)
async def submit_form(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    code: Code,
    site: Annotated[str, Form(max_length=300)] = "",
    indicator: Annotated[str, Form(max_length=64)] = "",
    period_start: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
    period_end: Annotated[str, Form(max_length=20)] = "",
    method_note: Annotated[str, Form(max_length=ms.MAX_NOTE)] = "",
    points: Annotated[str, Form(max_length=100_000)] = "",
    evidence: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """The web form: on a problem the form comes back (400) with what to fix and the values
    kept; on success, the record's page."""
    grant = await run_in_threadpool(get_grant, session, code)
    ms.require_submitter(principal, grant)
    data = ms.RecordInput(site, indicator, period_start, value, period_end, method_note, points)
    try:
        files = await _evidence(settings, evidence)
        record = await run_in_threadpool(
            ms.submit_record, session, settings, principal, code, data, files
        )
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _form(
            request,
            session,
            grant,
            error=translate(exc.message),
            values=vars(data),
            status_code=400 if isinstance(exc, InvalidInput) else 409,
        )
    return RedirectResponse(f"/monitoring/records/{record.id}", status_code=303)


# ---------------------------------------------------------------------------------------------
# The bulk upload page: check a CSV (or a ZIP of it and its evidence), then store it
# ---------------------------------------------------------------------------------------------

#: A CSV to start from: the columns, and a row of each kind (a day; a period with points).
TEMPLATE_CSV = (
    ",".join(ms.CSV_COLUMNS)
    + "\r\nBolshaya Almatinka headwaters,patrol_km,2024-05-03,,31.5,two rangers on foot,,"
    + "\r\nBolshaya Almatinka headwaters,camera_trap_nights,2024-05-01,2024-05-31,140,"
    + '12 stations,"76.951 43.027; 76.962 43.031",\r\n'
)


def _upload_page(
    request: Request,
    session: Any,
    principal: Principal,
    *,
    chosen: str | None,
    status_code: int = 200,
    error: str | None = None,
    report: ms.BatchReport | None = None,
    token: str | None = None,
    filename: str | None = None,
    stored: int | None = None,
) -> HTMLResponse:
    if report is not None:  # what the check says, in the reader's language
        report = ms.BatchReport(
            rows=[r | {"message": translate(r["message"])} for r in report.rows],
            stored=report.stored,
            error=None if report.error is None else translate(report.error),
        )
    if error is not None:
        error = translate(error)
    return render(
        request,
        "monitoring_upload.html",
        status_code=status_code,
        grants=ms.submittable_grants(session, principal),
        chosen=chosen,
        error=error,
        report=report,
        errors=sum(1 for r in report.rows if r["status"] != "ok") if report else 0,
        token=token,
        filename=filename,
        stored=stored,
        reviewer=ms.is_reviewer(principal),
        columns=ms.CSV_COLUMNS,
        required=ms.CSV_REQUIRED,
        max_mb=request.app.state.settings.uploads.max_bytes / 1e6,
    )


@router.get("/monitoring/upload", response_class=HTMLResponse, include_in_schema=False)
def upload_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    grant: Annotated[str | None, Query(max_length=64)] = None,
    stored: Annotated[int | None, Query(ge=0, le=ms.MAX_CSV_ROWS)] = None,
) -> Response:
    """The form: a grant (of those the user may submit for) and a file."""
    if principal.is_anonymous:
        return RedirectResponse(f"/login?next={quote('/monitoring/upload')}", status_code=303)
    return _upload_page(request, session, principal, chosen=grant, stored=stored)


@router.get("/monitoring/upload/template.csv", include_in_schema=False)
def upload_template() -> Response:
    return Response(
        TEMPLATE_CSV.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="monitoring-records.csv"'},
    )


@router.post("/monitoring/upload", response_class=HTMLResponse, include_in_schema=False)
async def upload_check(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    grant: Annotated[str, Form(max_length=64)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A dry run: the report per row; when every row is right the file is kept (for the
    sender and this grant, an hour) and the page offers to store it."""
    g = await run_in_threadpool(get_grant, session, grant)
    ms.require_submitter(principal, g)
    name = (file.filename or "") if file is not None else ""
    page = partial(_upload_page, request, session, principal, chosen=g.code, filename=name)
    if file is None or not name:
        return page(
            status_code=400,
            error=str(_("Choose a CSV file (or a ZIP of it and its evidence files).")),
        )
    raw = await file.read(settings.uploads.max_bytes + 1)
    if len(raw) > settings.uploads.max_bytes:
        return page(
            status_code=413,
            error=str(
                _("The file is larger than %(mb)s MB: split it.")
                % {"mb": f"{settings.uploads.max_bytes / 1e6:.0f}"}
            ),
        )
    try:
        report = await run_in_threadpool(
            ms.submit_csv, session, settings, principal, g.code, raw, dry_run=True
        )
    except InvalidInput as exc:
        session.rollback()
        return page(status_code=413 if isinstance(exc, TooLarge) else 422, error=exc.message)
    if not report.ok:
        return page(status_code=422, report=report)
    token = await run_in_threadpool(ms.stage_batch, settings, principal, g, raw)
    return page(report=report, token=token)


@router.post("/monitoring/upload/store", response_class=HTMLResponse, include_in_schema=False)
def upload_store(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    grant: Annotated[str, Form(max_length=64)] = "",
    token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Store the batch checked before, in one transaction (every row is checked again: a
    record stored meanwhile makes its row an error and nothing is stored)."""
    g = get_grant(session, grant)
    ms.require_submitter(principal, g)
    page = partial(_upload_page, request, session, principal, chosen=g.code)
    try:
        raw = ms.staged_batch(settings, principal, g, token)
    except InvalidInput as exc:
        return page(status_code=400, error=exc.message)
    try:
        report = ms.submit_csv(session, settings, principal, g.code, raw)
    except InvalidInput as exc:
        session.rollback()
        ms.drop_staged(settings, principal, g, token)
        return page(status_code=422, error=exc.message)
    ms.drop_staged(settings, principal, g, token)
    if not report.stored:
        return page(status_code=422, report=report)
    return RedirectResponse(
        f"/monitoring/upload?grant={quote(g.code)}&stored={len(report.rows)}", status_code=303
    )


@router.get("/monitoring/records/{record_id}", response_class=HTMLResponse, include_in_schema=False)
def record_page(
    request: Request, principal: PrincipalDep, session: SessionDep, record_id: int
) -> HTMLResponse:
    body = _record_json(request, principal, session, record_id)
    record = ms.visible_record(session, principal, record_id)
    reviewer = ms.is_reviewer(principal)
    return render(
        request,
        "monitoring_record.html",
        r=body,
        record=record,
        reviewer=reviewer,
        allowed=sorted(ms.TRANSITIONS[record.state]) if reviewer else [],
        correctable=ms.correctable(principal, record),
    )


def _correction_values(request: Request, session: Any, record: Any) -> dict[str, str]:
    """The record as the correction form starts: its fields and its exact points."""
    pts = lm.observation_points(
        session.connection(),
        [record.id],
        privileged=True,
        cell_deg=request.app.state.settings.features.sensitive_cell_deg,
    )
    return {
        "site": record.site.name,
        "indicator": record.indicator.code,
        "period_start": record.period_start.isoformat(),
        "period_end": ""
        if record.period_end == record.period_start
        else record.period_end.isoformat(),
        "value": f"{record.value:g}",
        "method_note": record.method_note or "",
        "points": "\n".join(f"{p['lon']} {p['lat']}" for p in pts),
    }


@router.get(
    "/monitoring/records/{record_id}/edit", response_class=HTMLResponse, include_in_schema=False
)
def correction_page(
    request: Request, principal: PrincipalDep, session: SessionDep, record_id: int
) -> Response:
    if principal.is_anonymous:
        return RedirectResponse(
            f"/login?next={quote(f'/monitoring/records/{record_id}/edit')}", status_code=303
        )
    record = ms.visible_record(session, principal, record_id)
    ms.require_submitter(principal, record.site.grant)
    if not ms.correctable(principal, record):
        raise Conflict(
            en(
                "record {record} is {state}: only a returned record is corrected",
                record=record_id,
                state=ms.state_word(record.state),
            )
        )
    values = _correction_values(request, session, record)
    return _form(request, session, record.site.grant, error=None, values=values, record=record)


@router.post("/monitoring/records/{record_id}/edit", include_in_schema=False)
async def correction_submit(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    record_id: int,
    site: Annotated[str, Form(max_length=300)] = "",
    indicator: Annotated[str, Form(max_length=64)] = "",
    period_start: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
    period_end: Annotated[str, Form(max_length=20)] = "",
    method_note: Annotated[str, Form(max_length=ms.MAX_NOTE)] = "",
    points: Annotated[str, Form(max_length=100_000)] = "",
    evidence: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """The correction form: on a problem it comes back with what to fix and the values kept;
    on success, the record's page (submitted again)."""
    record = await run_in_threadpool(ms.visible_record, session, principal, record_id)
    ms.require_submitter(principal, record.site.grant)
    grant = record.site.grant
    data = ms.RecordInput(site, indicator, period_start, value, period_end, method_note, points)
    try:
        files = await _evidence(settings, evidence)
        await run_in_threadpool(ms.resubmit, session, settings, principal, record_id, data, files)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _form(
            request,
            session,
            grant,
            error=translate(exc.message),
            values=vars(data),
            status_code=400 if isinstance(exc, InvalidInput) else 409,
            record=session.get(type(record), record_id),
        )
    return RedirectResponse(f"/monitoring/records/{record_id}", status_code=303)


@router.post("/monitoring/records/{record_id}/review", include_in_schema=False)
def review_form(
    principal: PrincipalDep,
    session: SessionDep,
    record_id: int,
    to_state: Annotated[str, Form(max_length=16)],
    reason: Annotated[str | None, Form(max_length=ms.MAX_NOTE)] = None,
) -> Response:
    ms.review(session, principal, record_id, to_state, reason)
    return RedirectResponse(f"/monitoring/records/{record_id}", status_code=303)

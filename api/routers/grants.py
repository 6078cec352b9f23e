"""Grants: the JSON API (/api/grants), the form, a page per grant and the portfolio."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api import ogc
from api.auth.principal import PrincipalDep
from api.db.models import GrantStatus
from api.deps import EngineDep, ReaderDep, SettingsDep
from api.i18n import _l, current_locale, translate
from api.routers.threats import _print_pdf as print_pdf
from api.services import grants as gs
from api.settings import REPO_ROOT
from api.templating import map_tools, render
from api.vocabulary import word
from geo.crs import REGION_BOUNDS
from geo.errors import InvalidInput, TooLarge
from geo.lazy import lazy_module
from geo.messages import en
from geo.text import xml_safe
from layers.registry import get_layer

if TYPE_CHECKING:
    from feedgen import feed

    from api.services import monitoring
    from layers import maps
    from layers import threats as lt
else:  # lxml, pandas, geopandas, folium, PIL: not on the start path (geo.lazy)
    feed = lazy_module("feedgen.feed")
    monitoring = lazy_module("api.services.monitoring")
    maps = lazy_module("layers.maps")
    lt = lazy_module("layers.threats")

STATIC_DIR = REPO_ROOT / "api" / "static"

router = APIRouter(tags=["grants"])

CodePath = Annotated[
    str,
    PathParam(
        max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="Grant code, e.g. SOS-CA-EX-01"
    ),
]
FilterQ = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
StatusQ = Annotated[GrantStatus | None, Query(description="proposed, active, closed, terminated")]
CountryQ = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3")]


class CloseBody(BaseModel):
    status: GrantStatus = GrantStatus.closed


# --------------------------------------------------------------------------------------------
# JSON API
# --------------------------------------------------------------------------------------------


@router.get("/api/grants", summary="Every grant, with its programme fields")
def list_grants(engine: ReaderDep) -> list[dict[str, Any]]:
    return gs.list_grants(engine)


@router.post(
    "/api/grants",
    status_code=201,
    summary="Register a grant (administrators and analysts)",
    responses={400: {}, 401: {}, 403: {}},
)
def create_grant(data: gs.GrantCreate, principal: PrincipalDep, engine: EngineDep) -> JSONResponse:
    body = gs.create_grant(engine, principal, data)
    return JSONResponse(body, status_code=201, headers={"Location": body["url"]})


@router.post(
    "/api/grants/import",
    summary="Import a grant list (CSV UTF-8 or XLSX): every row checked, all stored or none",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
    responses={400: {"description": "A report per row; nothing stored"}, 401: {}, 403: {}},
)
async def import_grants(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    dry_run: Annotated[bool, Query(description="Only check and report")] = False,
) -> JSONResponse:
    gs.require_manager(principal)
    limit = settings.uploads.max_bytes
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InvalidInput(
            en("send the grant list as multipart/form-data, in a field named 'file'")
        )
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(en("the form has no file: send it in a field named 'file'"))
        data = await upload.read(limit + 1)
        name = (upload.filename or "grants.csv")[-200:]
    if len(data) > limit:
        raise TooLarge(en("the grant list is larger than {limit} bytes", limit=f"{limit:,}"))
    report = await run_in_threadpool(
        gs.import_grants, engine, principal, data, name, dry_run=dry_run
    )
    return JSONResponse(gs.in_language(report.as_dict()), status_code=200 if report.ok else 400)


@router.get("/api/grants/{code}", summary="One grant", responses={404: {}})
def get_grant(code: CodePath, engine: ReaderDep) -> dict[str, Any]:
    return gs.get_grant(engine, code)


@router.patch(
    "/api/grants/{code}",
    summary="Change fields of a grant (grantees: narrative fields of their own grants)",
    responses={400: {}, 401: {}, 403: {}, 404: {}},
)
def edit_grant(
    code: CodePath, data: gs.GrantPatch, principal: PrincipalDep, engine: EngineDep
) -> dict[str, Any]:
    return gs.update_grant(engine, principal, code, data)


@router.post(
    "/api/grants/{code}/close",
    summary="Close a grant, or terminate it (administrators and analysts)",
    responses={400: {}, 401: {}, 403: {}, 404: {}},
)
def close_grant(
    code: CodePath, principal: PrincipalDep, engine: EngineDep, body: CloseBody | None = None
) -> dict[str, Any]:
    return gs.close_grant(engine, principal, code, (body or CloseBody()).status)


@router.get(
    "/api/grants/{code}/history",
    summary="Every change of a grant's record, newest first",
    responses={401: {}, 403: {}, 404: {}},
)
def history(code: CodePath, principal: PrincipalDep, engine: EngineDep) -> list[dict[str, Any]]:
    return gs.grant_history(engine, principal, code)


@router.get(
    "/api/grants/{code}/page",
    summary="What a grant's page shows: its record, sites, protected areas, modelled habitat, "
    "what it adds to coverage, ecosystem classes and threats nearby (areas in ha, geodesic)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {}},
)
def grant_page_json(
    request: Request, code: CodePath, engine: ReaderDep, settings: SettingsDep
) -> Response:
    page = dict(_page(request, engine, code, settings.grants.threat_distance_m)[1])
    if page["footprint"] is not None:
        page["footprint"] = {
            **page["footprint"],
            "geojson": orjson.Fragment(page["footprint"]["geojson"]),
        }
    return Response(orjson.dumps(page), media_type="application/json")


@router.get(
    "/api/portfolio",
    summary="The portfolio: totals and funds by species × ecosystem × country",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def portfolio_json(
    request: Request,
    engine: ReaderDep,
    settings: SettingsDep,
    call: FilterQ = None,
    status: StatusQ = None,
    country: CountryQ = None,
    species: FilterQ = None,
) -> Response:
    f = gs.PortfolioFilter(call=call, status=status, country=country, species=species)
    tag, body = _portfolio(request, engine, f, settings.grants.threat_distance_m, raw=True)
    etag = ogc.make_etag("portfolio", tag, f, settings.grants.threat_distance_m)
    if ogc.not_modified(request, etag):
        return Response(status_code=304, headers=ogc.cache_headers(etag, 0, private=False))
    return Response(
        body, media_type="application/json", headers=ogc.cache_headers(etag, 0, private=False)
    )


def _known(request: Request, tables: tuple[str, ...]) -> dict[str, int]:
    """The data versions of ``tables`` this process knows (from memory while the change
    listener is connected)."""
    return dict(request.app.state.versions.current(tables))


def _primary(request: Request) -> Any:
    """The primary, when reads go to a streaming replica that may lag behind it."""
    state = request.app.state
    return state.engine if state.settings.database.reader_is_replica else None


def _portfolio(
    request: Request, engine: Any, f: gs.PortfolioFilter, metres: float, *, raw: bool = False
) -> tuple[str, Any]:
    """The portfolio and its data version, as a dict or (``raw``) as JSON bytes: serialised
    directly (a large portfolio through FastAPI's encoder takes longer than computing it)."""
    known = _known(request, gs.PORTFOLIO_TABLES)
    primary = _primary(request)
    warmer = getattr(request.app.state, "grants_warmer", None)
    if warmer is not None:  # computed again in the background after the next write
        warmer.remember_portfolio(engine, f, metres, raw=raw, primary=primary)
    return gs.portfolio_answer(engine, known, f, metres, raw=raw, primary=primary)


def _page(request: Request, engine: Any, code: str, metres: float) -> tuple[str, dict[str, Any]]:
    """A grant page's figures and their data version, kept until one of their tables changes."""
    known = _known(request, gs.PAGE_TABLES)
    primary = _primary(request)
    answer = gs.page_answer(engine, known, code, metres, primary=primary)
    warmer = getattr(request.app.state, "grants_warmer", None)
    if warmer is not None:  # a grant that exists: computed again after the next write
        warmer.remember_page(engine, code, metres, primary=primary)
    return answer


@router.get(
    "/api/portfolio.{fmt}",
    summary="The portfolio's grants as CSV, GeoPackage or XLSX (same filters)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in gs.EXPORTS.values()}}},
)
def portfolio_export(
    fmt: Annotated[Literal["csv", "gpkg", "xlsx"], PathParam(description="csv, gpkg or xlsx")],
    engine: ReaderDep,
    settings: SettingsDep,
    call: FilterQ = None,
    status: StatusQ = None,
    country: CountryQ = None,
    species: FilterQ = None,
) -> Response:
    f = gs.PortfolioFilter(call=call, status=status, country=country, species=species)
    data = gs.export_portfolio(engine, f, fmt, settings.grants.threat_distance_m)
    return Response(
        data,
        media_type=gs.EXPORTS[fmt],
        headers={"Content-Disposition": f'attachment; filename="irbis-grants.{fmt}"'},
    )


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@router.get("/grants", response_class=HTMLResponse, include_in_schema=False)
def portfolio_page(
    request: Request,
    engine: ReaderDep,
    settings: SettingsDep,
    call: FilterQ = None,
    status: StatusQ = None,
    country: CountryQ = None,
    species: FilterQ = None,
) -> Response:
    f = gs.PortfolioFilter(call=call, status=status, country=country, species=species)
    return render(
        request,
        "grants_portfolio.html",
        p=_portfolio(request, engine, f, settings.grants.threat_distance_m)[1],
        map=maps.case_map(
            [get_layer("field_sites"), get_layer("grants")],
            bounds=REGION_BOUNDS,
            title="Grants",
            tools=map_tools(request),
        ),
        query=request.url.query,
        statuses=[s.value for s in GrantStatus],
    )


def _form_values(form: Any) -> dict[str, Any]:
    """The form's fields in the API's shape (lists one a line or split on ';')."""
    values: dict[str, Any] = {}
    for name in gs.IMPORT_COLUMNS:
        raw = form.get(name)
        if not isinstance(raw, str) or raw.strip() == "":
            continue
        raw = raw.strip()
        if name in gs.LIST_COLUMNS:
            parts = [p.strip() for p in raw.replace("\r", "").replace(";", "\n").split("\n")]
            parts = [p for p in parts if p]
            if name == "documents":
                values[name] = [
                    {
                        "title": (p.rpartition("|")[0].strip() or p.rpartition("|")[2].strip()),
                        "url": p.rpartition("|")[2].strip(),
                    }
                    for p in parts
                ]
            elif name == "countries":
                values[name] = [p.upper() for p in parts]
            else:
                values[name] = parts
        else:
            values[name] = raw
    return values


def _errors(e: ValidationError) -> str:
    """What is wrong with the form, in the reader's language (as an import's rows say it)."""
    return "; ".join(translate(m) for m in gs.problems(e))


def _login(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


@router.get("/grants/new", response_class=HTMLResponse, include_in_schema=False)
def new_grant_form(request: Request, principal: PrincipalDep) -> Response:
    if principal.is_anonymous:
        return _login("/grants/new")
    gs.require_manager(principal)
    return render(request, "grant_form.html", grant=None, values={}, error=None, **_choices())


def _choices() -> dict[str, Any]:
    return {
        "statuses": [s.value for s in GrantStatus],
        "ecosystems": ["mountain", "arid_lowland", "other"],
    }


@router.post("/grants/new", response_class=HTMLResponse, include_in_schema=False)
async def new_grant_submit(
    request: Request, principal: PrincipalDep, engine: EngineDep
) -> Response:
    gs.require_manager(principal)
    async with request.form(max_files=0, max_fields=40) as form:
        values = _form_values(form)
    try:
        data = gs.GrantCreate.model_validate(values)
        body = await run_in_threadpool(gs.create_grant, engine, principal, data)
    except ValidationError as e:
        return _form_error(request, None, values, _errors(e))
    except InvalidInput as e:
        return _form_error(request, None, values, translate(e.message))
    return RedirectResponse(body["url"], status_code=303)


def _form_error(
    request: Request, grant: dict[str, Any] | None, values: dict[str, Any], message: str
) -> Response:
    return render(
        request,
        "grant_form.html",
        status_code=400,
        grant=grant,
        values=values,
        error=message,
        **_choices(),
    )


@router.get("/grants/{code}/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_grant_form(
    request: Request, code: CodePath, principal: PrincipalDep, engine: EngineDep
) -> Response:
    if principal.is_anonymous:
        return _login(f"/grants/{code}/edit")
    grant = gs.get_grant(engine, code)
    gs.check_may_edit(principal, gs.grant_id(engine, code), set())
    return render(request, "grant_form.html", grant=grant, values=grant, error=None, **_choices())


@router.post("/grants/{code}/edit", response_class=HTMLResponse, include_in_schema=False)
async def edit_grant_submit(
    request: Request, code: CodePath, principal: PrincipalDep, engine: EngineDep
) -> Response:
    grant = gs.get_grant(engine, code)
    gs.check_may_edit(principal, gs.grant_id(engine, code), set())
    async with request.form(max_files=0, max_fields=40) as form:
        values = _form_values(form)
        sent = {k for k in gs.IMPORT_COLUMNS if k in form and k != "code"}
    # a field left empty in the form empties it (lists) or is refused (required fields)
    patch = {k: values.get(k) for k in sent}
    if not gs.may_edit_money(principal):
        patch = {k: v for k, v in patch.items() if k in gs.NARRATIVE_FIELDS}
    try:
        data = gs.GrantPatch.model_validate(patch)
        body = await run_in_threadpool(gs.update_grant, engine, principal, code, data)
    except ValidationError as e:
        return _form_error(request, grant, {**grant, **values}, _errors(e))
    except InvalidInput as e:
        return _form_error(request, grant, {**grant, **values}, translate(e.message))
    return RedirectResponse(body["url"], status_code=303)


@router.get("/grants/{code}", response_class=HTMLResponse, include_in_schema=False)
def grant_page(
    request: Request,
    code: CodePath,
    principal: PrincipalDep,
    engine: ReaderDep,
    settings: SettingsDep,
) -> Response:
    metres = settings.grants.threat_distance_m
    page = _page(request, engine, code, metres)[1]
    fp = page["footprint"]
    # the map depends on the sites' union only (and the language of its controls): a write
    # elsewhere keeps it
    shape = hashlib.sha256(fp["geojson"].encode()).hexdigest() if fp else None
    tools = map_tools(request)
    key = ("map", code, shape, current_locale(), tools.relief_version)
    m = gs.PAGE_CACHE.get(key, lambda: _grant_map(code, fp, tools))
    grant_id = gs.grant_id(engine, code)
    return render(
        request,
        "grant_page.html",
        page=page,
        g=page["grant"],
        map=m,
        may_edit=not principal.is_anonymous and gs.may_edit_any(principal, grant_id),
        today=dt.date.today(),
        monitoring=monitoring.grant_monitoring_for(engine, principal, code),
    )


#: The grant's fields as its history page names them (others as stored, underscores as spaces).
HISTORY_FIELDS = {
    "code": _l("Code"),
    "title": _l("Title"),
    "grantee_organisation": _l("Grantee organisation"),
    "partners": _l("Partners"),
    "countries": _l("Countries"),
    "ecosystem_focus": _l("Ecosystem focus"),
    "amount": _l("Amount"),
    "currency": _l("Currency"),
    "rate": _l("Exchange rate (units of the currency per USD)"),
    "rate_date": _l("Date of the rate"),
    "call": _l("Call or round"),
    "start_date": _l("Start"),
    "end_date": _l("End"),
    "status": _l("Status"),
    "objectives": _l("Objectives"),
    "description": _l("Description"),
    "documents": _l("Documents"),
    "method": _l("Method"),
    "source": _l("Source"),
}


@router.get("/grants/{code}/history", response_class=HTMLResponse, include_in_schema=False)
def history_page(
    request: Request, code: CodePath, principal: PrincipalDep, engine: ReaderDep
) -> Response:
    """Who changed what in the grant's record, and when: the same rule as the JSON (its
    administrators, analysts and grantees)."""
    if principal.is_anonymous:
        return _login(f"/grants/{code}/history")
    changes = gs.grant_history(engine, principal, code)
    return render(
        request,
        "grant_history.html",
        g=gs.get_grant(engine, code),
        changes=changes,
        fields=HISTORY_FIELDS,
    )


def _grant_map(code: str, fp: dict[str, Any] | None, tools: maps.MapTools) -> maps.MapParts:
    bounds = (fp["xmin"], fp["ymin"], fp["xmax"], fp["ymax"]) if fp else None
    layers = [get_layer(i) for i in ("protected_areas", "field_sites", "threats")]
    highlight = {"geojson": fp["geojson"], "name": code} if fp else None
    # without sites: the programme's region
    return maps.case_map(
        layers, bounds=bounds or REGION_BOUNDS, highlight=highlight, title=code, tools=tools
    )


@router.get(
    "/grants/{code}/feed.atom",
    summary="A grant's Atom feed: its site uploads and published threats near its sites",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}, 404: {}},
)
def grant_feed(
    request: Request, code: CodePath, engine: ReaderDep, settings: SettingsDep
) -> Response:
    metres = settings.grants.threat_distance_m
    tag, page = _page(request, engine, code, metres)
    data = gs.feed_entries(page)
    g = data["grant"]
    base = ogc.base_url(request)
    changed = [e["updated"] for e in data["entries"]]
    if g["updated_at"]:
        changed.append(dt.datetime.fromisoformat(g["updated_at"]))
    modified = max(changed).astimezone(dt.UTC).replace(microsecond=0)
    lang = current_locale()
    etag = ogc.make_etag("feed", code, tag, base, metres, lang)
    headers = {
        **ogc.cache_headers(etag, 0, private=False),
        "Last-Modified": format_datetime(modified, usegmt=True),
    }
    if _not_modified_since(request, etag, modified):
        return Response(status_code=304, headers=headers)
    key = ("feed", str(engine.url), tag, code, metres, base, lang)
    body = gs.PAGE_CACHE.get(key, lambda: _atom(data, base))
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)


def _not_modified_since(request: Request, etag: str, modified: dt.datetime) -> bool:
    """``If-None-Match`` answered by the ETag; without it, ``If-Modified-Since`` by the date
    (RFC 9110, 13.1.3: a date that cannot be read is ignored)."""
    if request.headers.get("if-none-match"):
        return ogc.not_modified(request, etag)
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return when.tzinfo is not None and modified <= when


def _atom(data: dict[str, Any], base: str) -> bytes:
    """The Atom document of a grant's feed entries (:func:`gs.feed_entries`), in the reader's
    language; text that XML cannot hold (control characters stored before text was checked)
    is left out."""
    g = {k: xml_safe(v) for k, v in data["grant"].items()}
    page_url = f"{base}/grants/{g['code']}"
    fg = feed.FeedGenerator()
    fg.id(f"{page_url}/feed.atom")
    fg.title(translate(en("Irbis: grant {code}", code=g["code"])))
    fg.subtitle(g["title"])
    fg.author({"name": "Irbis"})
    fg.link(href=f"{page_url}/feed.atom", rel="self", type="application/atom+xml")
    fg.link(href=page_url, rel="alternate", type="text/html")
    fg.language(current_locale())
    stamps = [e["updated"] for e in data["entries"]]
    fg.updated(max(stamps) if stamps else dt.datetime.fromisoformat(g["updated_at"]))
    for e in data["entries"]:  # oldest first: feedgen puts the newest on top
        fe = fg.add_entry()
        fe.id(f"{page_url}#{e['id']}")
        fe.title(xml_safe(translate(e["title"])))
        href = f"{base}/threats/{e['threat_id']}" if e["kind"] == "threat" else page_url
        fe.link(href=href, rel="alternate", type="text/html")
        fe.updated(e["updated"])
        summary = e["summary"]
        said = ", ".join(map(word, summary)) if isinstance(summary, tuple) else translate(summary)
        fe.summary(xml_safe(said))
        fe.category(term=e["kind"])
    body: bytes = fg.atom_str(pretty=True)
    return body


def _report(request: Request, engine: Any, settings: Any, code: str) -> HTMLResponse:
    page = _page(request, engine, code, settings.grants.threat_distance_m)[1]
    return render(request, "grant_report.html", page=page, g=page["grant"], today=dt.date.today())


@router.get(
    "/grants/{code}/report",
    response_class=HTMLResponse,
    summary="A one-page report of a grant for a donor (HTML, printable)",
    responses={404: {}},
)
def donor_report(
    request: Request, code: CodePath, engine: ReaderDep, settings: SettingsDep
) -> HTMLResponse:
    return _report(request, engine, settings, code)


#: One donor-report PDF rendered at a time (Chromium is heavy).
_PDF_SLOTS = asyncio.Semaphore(1)


@router.get(
    "/grants/{code}/report.pdf",
    response_class=Response,
    summary="The donor report as a one-page PDF (A4)",
    responses={200: {"content": {"application/pdf": {}}}, 404: {}, 503: {}},
)
async def donor_report_pdf(
    request: Request, code: CodePath, engine: ReaderDep, settings: SettingsDep
) -> Response:
    def html() -> str:
        body = bytes(_report(request, engine, settings, code).body).decode("utf-8")
        return lt.inline_assets(body, {"/static/": STATIC_DIR})

    page = await run_in_threadpool(html)
    async with _PDF_SLOTS:
        pdf = await print_pdf(page)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="irbis-grant-{code}.pdf"'},
    )

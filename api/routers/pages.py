"""The landing page and the sources page."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from api.deps import ReaderDep, SettingsDep
from api.i18n import _l
from api.ogc_models import LandingPage, documented
from api.settings import REPO_ROOT
from api.templating import render
from geo.lazy import lazy_module
from layers.public import count_public, provenance_counts

if TYPE_CHECKING:
    import markdown_it
else:  # only the sources page renders Markdown (cold start, geo.lazy)
    markdown_it = lazy_module("markdown_it")

STATIC = REPO_ROOT / "api" / "static"

router = APIRouter(tags=["pages"], include_in_schema=False)
#: The landing page is an OGC API resource too: documented in the OpenAPI description.
landing_router = APIRouter(tags=["OGC API Features"])

CARDS = [
    {
        "href": "/atlas",
        "title": _l("Atlas"),
        "text": _l("Every public layer on one interactive map."),
    },
    {
        "href": "/collections",
        "title": _l("Layers and data"),
        "text": _l("OGC API Features and Tiles: browse, query, download."),
    },
    {
        "href": "/analyses",
        "title": _l("Analyses"),
        "text": _l("Ecosystems, habitat, coverage gaps, habitat loss, priorities."),
    },
    {
        "href": "/threats",
        "title": _l("Threats"),
        "text": _l("Documented threats to habitat, such as the Kok-Jailau resort."),
    },
    {
        "href": "/sites/upload",
        "title": _l("Upload field sites"),
        "text": _l("Grantees put their field sites on the map."),
    },
    {
        "href": "/sources",
        "title": _l("Sources and licences"),
        "text": _l("Where every record comes from."),
    },
    {
        "href": "/api.html",
        "title": _l("API"),
        "text": _l("The OpenAPI description of every endpoint."),
    },
]

COUNTED = [
    (_l("Species"), "species"),
    (_l("Protected areas"), "protected_areas"),
    (_l("Grants"), "grants"),
    (_l("Field sites"), "field_sites"),
    (_l("Threats"), "threats"),
    (_l("Ecosystems"), "ecosystems"),
    (_l("Countries"), "countries"),
]

SOURCED = [
    "species_ranges",
    "protected_areas",
    "ecosystems",
    "threats",
    "field_sites",
    "countries",
    "admin_units",
    "regions",
    "glaciers",
    "lakes",
    "rivers",
    "places",
    "peaks",
    "rasters",
]


@landing_router.get("/", summary="Landing page", responses=documented(LandingPage))
def landing(request: Request, engine: ReaderDep, f: str | None = None) -> Response:
    from api.ogc import wants_html
    from api.routers.ogc_features import landing_document

    if not wants_html(request, f):
        # the OGC API landing page (JSON unless HTML is asked for: OWSLib sends Accept: */*)
        return JSONResponse(landing_document(request))
    counts = []
    with engine.connect() as conn:
        for label, table in COUNTED:
            try:
                n: int | str = count_public(conn, table)
            except Exception:
                conn.rollback()
                n = "–"
            counts.append((label, n))
    return render(request, "landing.html", cards=CARDS, counts=counts)


@router.get("/api.html")
def api_docs(settings: SettingsDep) -> HTMLResponse:
    """The OpenAPI description in Swagger UI, from Irbis's own copy (no CDN, no internet)."""
    return get_swagger_ui_html(
        openapi_url="/api",
        title=f"{settings.api.title}: API",
        swagger_js_url="/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        swagger_css_url="/vendor/swagger-ui-dist/swagger-ui.css",
        swagger_favicon_url="/favicon.ico",
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, engine: ReaderDep, settings: SettingsDep) -> HTMLResponse:
    rows = []
    with engine.connect() as conn:
        for table in SOURCED:
            rows += [{"layer": table, **r} for r in provenance_counts(conn, table)]
    prov = settings.data_dir / "PROVENANCE.md"
    provenance = render_markdown(prov.read_text(encoding="utf-8")) if prov.exists() else ""
    return render(request, "sources.html", rows=rows, provenance=provenance)


@cache
def _markdown() -> markdown_it.MarkdownIt:
    """CommonMark with tables; raw HTML in the text is escaped, not passed through, and links
    with unsafe schemes (javascript:, data:...) are not made links. Made at the first use."""
    return markdown_it.MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(source: str) -> Markup:
    """Markdown as safe HTML (raw HTML escaped)."""
    return Markup(_markdown().render(source))  # noqa: S704 - markdown-it escapes raw HTML

"""The landing page and the sources page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from sqlalchemy import text

from api.deps import ReaderDep, SettingsDep
from api.settings import REPO_ROOT
from api.templating import render
from layers.public import public_from

STATIC = REPO_ROOT / "api" / "static"

router = APIRouter(tags=["pages"], include_in_schema=False)

CARDS = [
    {"href": "/atlas", "title": "Atlas", "text": "Every public layer on one interactive map."},
    {
        "href": "/collections",
        "title": "Layers and data",
        "text": "OGC API Features and Tiles: browse, query, download.",
    },
    {
        "href": "/analyses",
        "title": "Analyses",
        "text": "Ecosystems, habitat, coverage gaps, habitat loss, priorities.",
    },
    {
        "href": "/threats",
        "title": "Threats",
        "text": "Documented threats to habitat, such as the Kok-Jailau resort.",
    },
    {
        "href": "/sites/upload",
        "title": "Upload field sites",
        "text": "Grantees put their field sites on the map.",
    },
    {"href": "/sources", "title": "Sources and licences", "text": "Where every record comes from."},
    {"href": "/api.html", "title": "API", "text": "The OpenAPI description of every endpoint."},
]

COUNTED = [
    ("Species", "species"),
    ("Protected areas", "protected_areas"),
    ("Grants", "grants"),
    ("Field sites", "field_sites"),
    ("Threats", "threats"),
    ("Ecosystems", "ecosystems"),
    ("Countries", "countries"),
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


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, engine: ReaderDep, f: str | None = None) -> Response:
    from api.ogc import wants_html
    from api.routers.ogc_features import landing_document

    if (f is not None or "json" in request.headers.get("accept", "")) and not wants_html(
        request, f
    ):
        # the OGC API landing page: GIS clients need only this one URL
        return JSONResponse(landing_document(request))
    counts = []
    with engine.connect() as conn:
        for label, table in COUNTED:
            try:
                n = conn.execute(text(f"SELECT count(*) FROM {public_from(table)}")).scalar()
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
            q = text(
                f"SELECT source, licence, method, count(*) AS n FROM {public_from(table)} "
                "GROUP BY source, licence, method ORDER BY n DESC"
            )
            for r in conn.execute(q):
                rows.append({"layer": table, **r._asdict()})
    prov = settings.data_dir / "PROVENANCE.md"
    provenance = prov.read_text(encoding="utf-8") if prov.exists() else ""
    return render(request, "sources.html", rows=rows, provenance=provenance)

"""The field-site upload page: choose a file, see the report and a map preview, commit."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api import ogc
from api.auth.principal import PrincipalDep, Role
from api.db.models import Grant
from api.deps import ReaderDep
from api.templating import map_tools, render
from geo.lazy import lazy_module
from layers.map_words import BASE_WORDS
from layers.outlines import programme_outline

if TYPE_CHECKING:
    from layers import maps
    from layers import threats as lt
else:  # pandas, geopandas, rasterio and folium: not on the start path (geo.lazy)
    maps = lazy_module("layers.maps")
    lt = lazy_module("layers.threats")

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/sites/upload", response_class=HTMLResponse)
def upload_page(request: Request, principal: PrincipalDep, engine: ReaderDep) -> Response:
    if principal.is_anonymous:
        return RedirectResponse("/login?next=/sites/upload", status_code=303)
    query = select(Grant.code, Grant.title).order_by(Grant.code)
    if not principal.has(Role.admin):
        query = query.where(Grant.id.in_(principal.grant_ids or {-1}))
    with engine.connect() as conn:
        grants = conn.execute(query).all()
        outline = programme_outline(conn)
    status = 200 if grants else 403
    return render(
        request,
        "sites_upload.html",
        status_code=status,
        grants=grants,
        countries_json=json.dumps(outline),
        site_map_json=json.dumps(site_map(request)),
    )


def site_map(request: Request) -> dict[str, Any]:
    """What the preview map draws under the sites (as the threat pages do: ``layers.threats``
    ``SITE_CONTEXT``): the relief and its hillshade at the rasters' version, the context layers'
    vector tiles at their versions, and the map's words, labels, scale and readout."""
    tools = map_tools(request)
    at = f"&v={tools.relief_version}" if tools.relief_version else ""
    specs = lt.site_context_layers()
    versions = ogc.version_tokens(request, specs)
    return {
        "relief": maps.RELIEF_URL + at,
        "hillshade": maps.HILLSHADE_URL + at,
        "attribution": maps.RELIEF_ATTRIBUTION,
        "names": {k: tools.tr(BASE_WORDS[k]) for k in ("relief", "hillshade")},
        "context": [
            {
                "url": f"/collections/{s.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
                + (f"?v={versions[s.id]}" if versions.get(s.id) else ""),
                "layer": maps.layer_js(s, tools.tr),
                "minZoom": s.min_zoom,
                "maxNativeZoom": min(s.max_zoom, 14),
            }
            for s in specs
        ],
        "dataAttribution": maps.DATA_ATTRIBUTION,
        "tools": tools.config(),
    }

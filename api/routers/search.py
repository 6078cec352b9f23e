"""Name search (``GET /search?q=``): places, protected areas, districts, lakes, peaks, ranges
and grants by any of their names (English, Russian, Kazakh), as the public sees them. The
atlas's search box asks it and flies to the result."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from api import i18n, ogc
from api.deps import ReaderDep
from layers import search
from layers.registry import get_layer

router = APIRouter(tags=["search"])


def _find(engine: Engine, q: str, lang: str, limit: int) -> list[Any]:
    return search.find(engine, q, lang, limit=limit)


@router.get("/search")
async def find(
    request: Request,
    engine: ReaderDep,
    q: str = Query("", description="a name or its beginning, in any of the three languages"),
    limit: int = Query(10, ge=1, le=search.MAX_RESULTS),
) -> JSONResponse:
    """Features whose name (or a word of it, or a Latin spelling of a Cyrillic settlement
    name) starts with ``q``, case-insensitively, then names spelt alike (``layers.search``);
    names shown in the request's language (``?lang=``, the ``lang`` cookie or Accept-Language)."""
    text = search.clean_query(q)  # 400 with a message for an empty or overlong query
    lang = i18n.current_locale()
    rows = await run_in_threadpool(_find, engine, text, lang, limit)
    results = [
        {
            "name": r.name or r.matched,
            "matched": r.matched,
            "layer": r.layer,
            "kind": i18n.gettext(get_layer(r.layer).title),
            "id": r.id,
            "lon": float(r.lon),
            "lat": float(r.lat),
            "bbox": [r.xmin, r.ymin, r.xmax, r.ymax],
            "href": f"{ogc.base_url(request)}/collections/{r.layer}/items/{r.id}?f=html",
        }
        for r in rows
    ]
    return JSONResponse(
        {"query": text, "lang": lang, "results": results},
        headers={"Cache-Control": "public, max-age=60", "Vary": "Accept-Language, Cookie"},
    )

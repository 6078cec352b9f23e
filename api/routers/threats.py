"""Public threat pages: the index, a dossier per threat, its exports, and the Atom feed.

Everything here is read through the read-only role and shows published threats and published
reports only, without any reporter's identity.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from shapely.geometry import mapping

from api import ogc
from api.deps import ReaderDep, SettingsDep
from api.i18n import current_locale, gettext, localized, translate
from api.settings import NODE_MODULES, STATIC_DIR, Settings
from api.templating import map_tools, render, templates
from api.vocabulary import word
from geo.lazy import lazy_module
from geo.messages import en
from geo.text import xml_safe
from layers.sql import versions

if TYPE_CHECKING:
    from layers import static_map
    from layers import threats as lt
else:  # pandas, geopandas and folium: not on the start path (geo.lazy)
    lt = lazy_module("layers.threats")
    static_map = lazy_module("layers.static_map")

router = APIRouter(tags=["threats"])

#: Size of photos embedded in exported dossiers (longest side, pixels).
EXPORT_PHOTO_PX = 1000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _dossier(request: Request, engine: Any, threat_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        data = lt.dossier(conn, threat_id)
        context = lt.map_context(conn, data["threat"]["geom"])
    data["context"] = context
    data["geojson"] = mapping(data["threat"]["geom"])
    data["status_labels"] = lt.STATUS_LABELS
    return data


@router.get("/threats", response_class=HTMLResponse, summary="Published threats")
def index(
    request: Request,
    engine: ReaderDep,
    as_of: Annotated[
        dt.date | None, Query(description="Show each threat's status on this day (YYYY-MM-DD)")
    ] = None,
    f: Annotated[str, Query(pattern="^(html|json)$", description="html or json")] = "html",
) -> Response:
    """Every published threat, its area and status (today's, or on ``as_of``)."""
    with engine.connect() as conn:
        rows = lt.threat_index(conn, as_of=as_of)
    if f == "json":
        return JSONResponse(
            {
                "as_of": as_of.isoformat() if as_of else None,
                "threats": [
                    {
                        "id": r["id"],
                        "name": r["name"],
                        "kind": r["kind"],
                        "status": r["status"],
                        "status_as_of": r.get("status_as_of"),
                        "live_as_of": r.get("live_as_of"),
                        "area_ha": round(r["area_ha"], 2),
                        "method": r["method"],
                        "url": f"{ogc.base_url(request)}/threats/{r['id']}",
                    }
                    for r in rows
                ],
            }
        )
    return render(request, "threats_index.html", threats=rows, as_of=as_of, labels=lt.STATUS_LABELS)


def _entry_summary(row: dict[str, Any]) -> str:
    """A feed entry's summary in the reader's language (the description as written)."""
    text_ = translate(
        en(
            "{kind}, {status}; footprint {area} ha.",
            kind=word(row["kind"]),
            status=word(row["status"]),
            area=f"{row['area_ha']:,.1f}",
        )
    )
    if row["method"] == "example":
        text_ += " " + translate(en("Example record (schematic footprint)."))
    if row.get("description"):
        text_ += " " + row["description"][:600]
    return text_


@router.get(
    "/threats/feed.atom",
    summary="Atom feed of newly published threats",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def feed(
    request: Request,
    engine: ReaderDep,
    settings: SettingsDep,
    protected_area: Annotated[
        int | None, Query(description="Only threats touching this protected area (its id)")
    ] = None,
) -> Response:
    """Newly published threats, for the whole region or one protected area."""
    from feedgen.feed import FeedGenerator

    base = ogc.base_url(request)
    with engine.connect() as conn:
        area = lt.protected_area(conn, protected_area) if protected_area is not None else None
        rows = lt.feed_entries(conn, protected_area_id=protected_area)
    self_url = f"{base}/threats/feed.atom" + (f"?protected_area={protected_area}" if area else "")
    fg = FeedGenerator()
    fg.id(self_url)
    title = (
        en("Irbis: threats to habitat in {area}", area=xml_safe(area["name"]))
        if area
        else en("Irbis: threats to habitat")
    )
    fg.title(translate(title))
    fg.subtitle(translate(en("Newly published threats to habitat in Central Asia")))
    fg.author({"name": "Irbis"})
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.link(href=f"{base}/threats", rel="alternate", type="text/html")
    fg.language(current_locale())
    stamps = [r["updated_at"] for r in rows] + [r["published_at"] for r in rows]
    fg.updated(max(stamps) if stamps else dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    for row in reversed(rows):  # feedgen prepends: add oldest first, newest ends on top
        url = f"{base}/threats/{row['id']}"
        fe = fg.add_entry()
        fe.id(url)
        fe.title(xml_safe(row["name"]))
        fe.link(href=url, rel="alternate", type="text/html")
        fe.published(row["published_at"])
        fe.updated(max(row["updated_at"], row["published_at"]))
        fe.summary(xml_safe(_entry_summary(row)))
        fe.category(term=row["kind"], label=word(row["kind"]))
    return Response(fg.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")


def _overlay_name(row: Mapping[str, Any]) -> str | None:
    """A piece's name on the dossier's map in the reader's language: the species' common name,
    or the ecosystem as a word."""
    common = localized(row, "common_name_en")
    if isinstance(common, str) and common:  # pandas gives NaN for a missing name
        return common
    kind = row.get("kind")
    return word(kind) if isinstance(kind, str) and kind else None


def _overlays(overlaps: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The footprint's pieces in each ecosystem and habitat, named in the reader's language."""
    words = {
        "Ecosystem": gettext("Ecosystem"),
        "Modelled habitat": gettext("Modelled habitat"),
        "ha": gettext("ha"),
    }
    return lt.overlap_overlays(overlaps, words=words, name=_overlay_name)


@router.get("/threats/{threat_id}", response_class=HTMLResponse, summary="A threat's dossier")
def dossier(request: Request, engine: ReaderDep, threat_id: int) -> HTMLResponse:
    """The public dossier of a threat: map, area, overlaps, timeline, evidence, sources."""
    data = _dossier(request, engine, threat_id)
    m = lt.dossier_map(
        data["threat"]["geom"],
        data["threat"]["name"],
        data["context"],
        overlays=_overlays(data["overlaps"]),
        relief=True,
        tools=map_tools(request),
        versions=ogc.version_tokens(request, lt.site_context_layers()),
    )
    photos = {ev["id"]: f"/evidence/{ev['id']}" for ev in data["evidence"]}
    return render(
        request, "threat_dossier.html", d=data, map=lt.map_parts(m), photos=photos, export=False
    )


def _photo_uri(settings: Settings, ev: dict[str, Any]) -> str | None:
    from PIL import Image

    root = (Path(settings.var_dir) / "evidence").resolve()
    path = (root / ev["storage_path"]).resolve()
    if root not in path.parents or not path.is_file():
        return None
    with Image.open(path) as im:
        im.thumbnail((EXPORT_PHOTO_PX, EXPORT_PHOTO_PX))
        out = io.BytesIO()
        im.convert("RGB").save(out, format="JPEG", quality=85)  # no EXIF at all
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


#: Dossier basemaps kept in memory per app (the HTML and the PDF of a version share one).
BASEMAPS_KEPT = 32


def basemap_png(
    request: Request, engine: Any, settings: Settings, threat_id: int, footprint: Any
) -> bytes:
    """The exported dossier's basemap (:mod:`layers.static_map`), rendered once per threat,
    data version and language (the key of the cached PDF) in this process."""
    key = (threat_id, _pdf_key(request, engine))
    state = request.app.state
    kept: dict[tuple[int, str], bytes] | None = getattr(state, "dossier_basemaps", None)
    if kept is None:
        kept = state.dossier_basemaps = {}
    png = kept.get(key)
    if png is None:
        with engine.connect() as conn:  # the basemap as one image: the export makes no request
            png, _frame = static_map.render(
                conn, footprint, data_dir=settings.data_dir, lang=current_locale()
            )
        if len(kept) >= BASEMAPS_KEPT:
            kept.clear()
        kept[key] = png
    return png


def export_html(request: Request, engine: Any, settings: Settings, threat_id: int) -> str:
    """The dossier as one self-contained HTML file (no request leaves it)."""
    data = _dossier(request, engine, threat_id)
    m = lt.dossier_map(
        data["threat"]["geom"],
        data["threat"]["name"],
        data["context"],
        overlays=_overlays(data["overlaps"]),
    )
    photos = {
        ev["id"]: _photo_uri(settings, ev)
        for ev in data["evidence"]
        if ev["media_type"].startswith("image/")
    }
    css = (STATIC_DIR / "irbis.css").read_text(encoding="utf-8")
    css += (STATIC_DIR / "threats.css").read_text(encoding="utf-8")
    png = basemap_png(request, engine, settings, threat_id, data["threat"]["geom"])
    html = (
        templates()
        .get_template("threat_dossier_export.html")
        .render(
            d=data,
            map=lt.map_parts(m),
            static_map="data:image/png;base64," + base64.b64encode(png).decode(),
            photos=photos,
            css=css,
            export=True,
            base=ogc.base_url(request),
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
    return lt.inline_assets(html, {"/vendor/": NODE_MODULES, "/static/": STATIC_DIR})


@router.get(
    "/threats/{threat_id}/dossier.html",
    response_class=HTMLResponse,
    summary="Download a threat's dossier as one self-contained HTML file",
)
def dossier_html(
    request: Request, engine: ReaderDep, settings: SettingsDep, threat_id: int
) -> HTMLResponse:
    html = export_html(request, engine, settings, threat_id)
    return HTMLResponse(
        html,
        headers={"Content-Disposition": f'attachment; filename="irbis-threat-{threat_id}.html"'},
    )


async def _print_pdf(html: str) -> bytes:
    from playwright.async_api import async_playwright

    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        raise HTTPException(503, en("PDF export needs Chromium (Debian package 'chromium')"))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.route("**/*", lambda route: route.abort())  # nothing leaves the page
            await page.set_content(html, wait_until="load")
            await page.emulate_media(media="print")
            pdf = await page.pdf(
                format="A4",
                print_background=True,
                margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"},
            )
        finally:
            await browser.close()
    return await run_in_threadpool(plain_pdf, pdf)


def plain_pdf(pdf: bytes) -> bytes:
    """The PDF with its title as its only metadata: no XMP, and no creator or producer (the
    browser and its version on the server) in the document information."""
    import pikepdf  # only when a PDF is made: not on the start path

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for key in list(doc.docinfo.keys()):
            if key != "/Title":
                del doc.docinfo[key]
        if "/Metadata" in doc.Root:
            del doc.Root.Metadata
        out = io.BytesIO()
        doc.save(out, deterministic_id=True)
    return out.getvalue()


#: Every table a dossier reads: their data versions key the cached PDF.
DOSSIER_TABLES = (
    "threats",
    "threat_status_changes",
    "threat_reports",
    "evidence_files",
    "protected_areas",
    "ecosystems",
    "habitat",
    "species_ranges",
    "analysis_runs",
    "places",
    "countries",
    # the static basemap's
    "rasters",
    "rivers",
    "lakes",
    "glaciers",
    "settlements",
    "districts",
)


class PdfRenderer:
    """Renders dossier PDFs at most ``concurrency`` at once, with at most ``queue`` more
    waiting, and caches each on disk under the var dir, keyed by the data version of the
    threat's dossier: the same version is rendered once, whoever asks and however often."""

    def __init__(self, cache_dir: Path, concurrency: int, queue: int) -> None:
        self.cache_dir = cache_dir
        self.limit = concurrency + queue
        self.semaphore = asyncio.Semaphore(concurrency)
        self.pending: dict[str, asyncio.Future[bytes]] = {}
        #: Chromium renders started (for operators and tests).
        self.renders = 0

    def path(self, threat_id: int, key: str) -> Path:
        return self.cache_dir / f"threat-{threat_id}-{key}.pdf"

    async def get(self, threat_id: int, key: str, make_html: Any) -> bytes:
        path = self.path(threat_id, key)
        if path.is_file():
            return path.read_bytes()
        if path.name in self.pending:  # the same version is being rendered: wait for it
            return await asyncio.shield(self.pending[path.name])
        if len(self.pending) >= self.limit:
            raise HTTPException(
                503,
                en("Dossier PDFs are being rendered for others: try again in a minute."),
                headers={"Retry-After": "30"},
            )
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[path.name] = future
        try:
            async with self.semaphore:
                html = await run_in_threadpool(make_html)
                self.renders += 1
                pdf = await _print_pdf(html)
            await run_in_threadpool(self._store, threat_id, path, pdf)
            future.set_result(pdf)
            return pdf
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else needs to
            raise
        finally:
            del self.pending[path.name]

    def _store(self, threat_id: int, path: Path, pdf: bytes) -> None:
        """Write atomically; older versions of the same dossier go."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pdf)
        os.replace(tmp, path)
        for old in self.cache_dir.glob(f"threat-{threat_id}-*.pdf"):
            if old != path:
                old.unlink(missing_ok=True)


def pdf_renderer(request: Request) -> PdfRenderer:
    """The app's renderer (one per app, made on first use)."""
    state = request.app.state
    renderer: PdfRenderer | None = getattr(state, "pdf_renderer", None)
    if renderer is None:
        s: Settings = state.settings
        renderer = state.pdf_renderer = PdfRenderer(
            Path(s.var_dir) / "cache" / "dossiers",
            s.dossier.pdf_concurrency,
            s.dossier.pdf_queue,
        )
    return renderer


def _pdf_key(request: Request, engine: Any) -> str:
    """The data version of every dossier (and the base of its links), as a short hash."""
    with engine.connect() as conn:
        rows = conn.execute(versions(DOSSIER_TABLES)).all()
    # the language too: a dossier is written in the language of the request
    stamp = ",".join(f"{t}:{v}" for t, v in rows) + "|" + ogc.base_url(request)
    stamp += "|" + current_locale()
    return hashlib.sha256(stamp.encode()).hexdigest()[:24]


@router.get(
    "/threats/{threat_id}/dossier.pdf",
    response_class=Response,
    summary="Download a threat's dossier as a PDF report",
    responses={
        200: {"content": {"application/pdf": {}}},
        503: {"description": "Too many PDFs being rendered: retry after the given seconds"},
    },
)
async def dossier_pdf(
    request: Request, engine: ReaderDep, settings: SettingsDep, threat_id: int
) -> Response:
    """The dossier as a PDF, rendered once per data version and cached on disk."""
    # published or 404 before anything else (an unpublished threat also has no cached PDF:
    # unpublishing changes the threats' version, hence the key)
    await run_in_threadpool(_published_or_404, engine, threat_id)
    key = await run_in_threadpool(_pdf_key, request, engine)
    pdf = await pdf_renderer(request).get(
        threat_id, key, lambda: export_html(request, engine, settings, threat_id)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="irbis-threat-{threat_id}.pdf"'},
    )


def _published_or_404(engine: Any, threat_id: int) -> None:
    with engine.connect() as conn:
        lt.published_threat(conn, threat_id)

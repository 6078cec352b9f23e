"""The application factory.

Importing this module imports the whole application: every router, model and schema, and the
libraries they need at import. The garbage collector is paused meanwhile (it went over the
import's objects, 175,000 by the end, three times: a sixth of the import), and what the import
made is then frozen (:func:`gc.freeze`): those objects live as long as the process, so no later
collection goes over them either. The few cycles the import leaves behind (about 1,300
objects, under 1 MB) are kept with them. ``docs/benchmarks.md`` (cold start).
"""

from __future__ import annotations

import gc

_COLLECTING = gc.isenabled()
gc.disable()  # until the end of this module, after its imports (E402 is ignored in this file)

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import errors
from api.auth.middleware import AuthMiddleware, principal_cache
from api.auth.passwords import dummy_hash
from api.auth.secrets_store import secret_key
from api.bodylimits import BodyLimitMiddleware
from api.db.engine import Pools, make_engine
from api.early_refusals import EarlyRefusalMiddleware
from api.fastpath import CachedTileMiddleware, StaticFilesMiddleware
from api.first_answer import FirstAnswer
from api.head import HeadAsGet, HeadWithoutBody
from api.heavy import HeavyRequestMiddleware
from api.i18n import LocaleMiddleware
from api.ratelimit import RateLimitMiddleware
from api.refusals import RefusalHoldMiddleware
from api.routers import (
    account,
    analyses,
    auth,
    downloads,
    grants,
    health,
    maps,
    monitoring,
    ogc_features,
    ogc_tiles,
    pages,
    prioritisation,
    raster_tiles,
    reports,
    search,
    site_pages,
    sites,
    threats,
)
from api.security_headers import SecurityHeadersMiddleware
from api.services.background import Runner, expire_stale_runs
from api.services.grants_warmer import Warmer
from api.settings import NODE_MODULES, STATIC_DIR, Settings
from api.vendor import VendorFiles, is_served
from api.versions import ChangeListener, DataVersions
from layers.tiles import MVT_MEDIA_TYPE

log = logging.getLogger("irbis.app")

#: The gzip middleware's options: the full stack's, and the static files' fast path's. Tiles
#: are gzipped by their route, once per cached tile (api.ogc.tile_body).
GZIP: dict[str, Any] = {
    "minimum_size": 500,
    "exclude_content_types": (*DEFAULT_EXCLUDED_CONTENT_TYPES, MVT_MEDIA_TYPE),
}

#: Every router, in the order their routes are matched.
ROUTERS = (
    health.router,
    pages.landing_router,
    pages.router,
    ogc_features.router,
    ogc_tiles.router,
    raster_tiles.router,
    downloads.router,
    maps.router,
    search.router,
    auth.router,
    account.router,
    account.pages,
    sites.router,
    site_pages.router,
    threats.router,
    reports.router,
    prioritisation.router,
    analyses.router,
    grants.router,
    monitoring.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Irbis web application.

    Engines are created in the lifespan and kept on ``app.state``; nothing is created at import.
    """
    settings = settings or Settings()
    app = FastAPI(
        title=settings.api.title,
        summary="Conservation monitoring for Central Asia: snow leopard and goitered gazelle.",
        version="0.1.0",
        lifespan=_lifespan(settings),
        docs_url=None,  # /api.html is served with local assets (api.routers.pages)
        redoc_url=None,
        openapi_url="/api",
    )
    app.state.settings = settings
    app.state.secret_key = secret_key(settings)
    app.state.first_answer = threading.Event()  # set by FirstAnswer (the grants warmer waits)
    errors.install(app)
    files = _files()
    _add_middlewares(app, files)
    for router in ROUTERS:
        app.include_router(router)
    for prefix, (mounted, _) in files.items():
        app.mount(prefix, mounted, name=prefix.strip("/"))
    return app


def _files() -> dict[str, tuple[StaticFiles, Callable[[str], bool]]]:
    """The mounted files: Irbis's own (all of them) and the front-end packages' (those
    pages load, :func:`api.vendor.is_served`)."""
    files: dict[str, tuple[StaticFiles, Callable[[str], bool]]] = {
        "/static": (StaticFiles(directory=STATIC_DIR), lambda _path: True)
    }
    if NODE_MODULES.is_dir():
        files["/vendor"] = (VendorFiles(directory=NODE_MODULES), is_served)
    return files


def _static_stack(files: Any) -> Any:
    """The middlewares of the full stack that change a file's answer, round ``files``."""
    return GZipMiddleware(SecurityHeadersMiddleware(files), **GZIP)


def _add_middlewares(
    app: FastAPI, files: dict[str, tuple[StaticFiles, Callable[[str], bool]]]
) -> None:
    """From the innermost to the outermost."""
    app.add_middleware(HeadAsGet)  # the routes see HEAD as GET (api.head); the rest see HEAD
    app.add_middleware(SecurityHeadersMiddleware)  # inside gzip: it reads pages' scripts
    app.add_middleware(GZipMiddleware, **GZIP)
    app.add_middleware(RateLimitMiddleware)  # inside auth: limits per account
    app.add_middleware(HeavyRequestMiddleware, settings=app.state.settings)  # and this one
    app.add_middleware(AuthMiddleware)
    app.add_middleware(LocaleMiddleware)  # outside auth: its answers are in the same language
    # outermost: sizes and read timeouts hold before anything reads a body
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(EarlyRefusalMiddleware)  # what the headers decide, refused at once
    app.add_middleware(RefusalHoldMiddleware)  # and round them all: refusals answered late
    proxies = app.state.settings.server.trusted_proxies
    if proxies:  # the client's address, for every per-client limit, from a trusted proxy
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    # in front of everything: cached public tiles for anonymous callers, as the stack would
    app.add_middleware(CachedTileMiddleware, state=app.state)
    # and files, for anonymous callers, by the mounted apps in the same middlewares as above
    app.add_middleware(StaticFilesMiddleware, state=app.state, mounts=files, wrap=_static_stack)
    app.add_middleware(HeadWithoutBody)  # HEAD gets GET's headers and no body, however answered
    app.add_middleware(FirstAnswer, event=app.state.first_answer)  # every answer counts


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_engine(settings.database.url, settings=settings.database)
        app.state.reader_engine = make_engine(
            settings.database.read_url, settings=settings.database
        )
        app.state.versions = DataVersions(app.state.engine)
        runner = app.state.runner = Runner(
            app.state.engine,
            settings.server.background_runs,
            queue=settings.server.background_queue,
        )
        # A thread that outlives the app (a start-up check or a computation still at work when
        # it stops) may hand a connection back after the pools were closed: such a thread
        # closes them again itself as it ends. Nobody waits for it.
        pools = Pools(app.state.engine, app.state.reader_engine)
        close_pools_if_stopped = pools.close_if_stopped

        # what no request waits for is done beside the start, not before the first request
        threading.Thread(
            target=_after_start,
            args=(app.state.engine, close_pools_if_stopped),
            name="irbis-after-start",
            daemon=True,
        ).start()
        listener = None
        if settings.database.listen:
            listener = app.state.change_listener = ChangeListener(
                settings.database.listen_url or settings.database.url,
                app.state.versions,
                on_auth=principal_cache(app).clear,
            )
            listener.start()
            # the grant portfolio computed at start and again after a write (needs the listener)
            app.state.grants_warmer = Warmer.for_app(app.state)
            app.state.grants_warmer.on_exit = close_pools_if_stopped
            app.state.grants_warmer.start()
        try:
            yield
        finally:
            pools.stopped.set()
            runner.shutdown()  # the runs at work get a moment to end; the rest are marked
            if listener is not None:
                listener.stop()
                app.state.grants_warmer.stop()
            pools.close()

    return lifespan


def _after_start(engine: Engine, on_exit: Callable[[], None]) -> None:
    """Start-up work that no request needs first, on a thread of its own.

    - the prioritisation runs that a stopped server left at work are marked so (pages about
      runs mark them too before they are read: :func:`api.routers.prioritisation._expire_stale`;
      a database not reachable yet is left to them);
    - the hash verified for logins of unknown names is looked up (so the first such login takes
      as long as any other: :func:`api.auth.passwords.dummy_hash`; it is made here only when
      argon2-cffi's parameters have moved from the stored one's).

    Both run beside the first requests, at the start. Leaving the check until the first answer
    took 40-50 ms off that answer, but put its query (and the database's work for it) at the
    moment the notification of a write this process had just answered had to reach the other
    processes: one of them then missed the write in its next tile, once in a run of the suite
    (``tests/scaling/test_processes.py``).
    """
    try:
        expire_stale_runs(engine)
    except SQLAlchemyError:
        log.warning("could not look for stopped prioritisation runs", exc_info=True)
    finally:
        on_exit()
    dummy_hash()


gc.freeze()  # what the import made stays: later collections leave it out
if _COLLECTING:
    gc.enable()

"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api import errors
from api.auth.middleware import principal_cache
from api.db.engine import make_engine
from api.security_headers import SecurityHeadersMiddleware
from api.settings import NODE_MODULES, STATIC_DIR, Settings
from api.vendor import VendorFiles
from api.versions import ChangeListener, DataVersions


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Irbis web application.

    Engines are created in the lifespan and kept on ``app.state``; nothing is created at import.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_engine(settings.database.url, settings=settings.database)
        app.state.reader_engine = make_engine(
            settings.database.read_url, settings=settings.database
        )
        app.state.versions = DataVersions(app.state.engine)
        listener = None
        if settings.database.listen:
            listener = app.state.change_listener = ChangeListener(
                settings.database.listen_url or settings.database.url,
                app.state.versions,
                on_auth=principal_cache(app).clear,
            )
            listener.start()
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
            app.state.engine.dispose()
            app.state.reader_engine.dispose()

    app = FastAPI(
        title=settings.api.title,
        summary="Conservation monitoring for Central Asia: snow leopard and goitered gazelle.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # /api.html is served with local assets (api.routers.pages)
        redoc_url=None,
        openapi_url="/api",
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(SecurityHeadersMiddleware)  # inside gzip: it reads pages' scripts
    app.add_middleware(GZipMiddleware, minimum_size=500)
    from api.auth.middleware import AuthMiddleware
    from api.auth.secrets_store import secret_key

    app.state.secret_key = secret_key(settings)
    from api.ratelimit import RateLimitMiddleware

    app.add_middleware(RateLimitMiddleware)  # inside auth: limits per account
    app.add_middleware(AuthMiddleware)
    from api.i18n import LocaleMiddleware

    app.add_middleware(LocaleMiddleware)  # outside auth: its answers are in the same language
    from api.bodylimits import BodyLimitMiddleware

    # outermost: sizes and read timeouts hold before anything reads a body
    app.add_middleware(BodyLimitMiddleware)

    from api.routers import health, pages

    app.include_router(health.router)
    app.include_router(pages.landing_router)
    app.include_router(pages.router)
    from api.routers import downloads, maps, ogc_features, ogc_tiles, raster_tiles

    app.include_router(ogc_features.router)
    app.include_router(ogc_tiles.router)
    app.include_router(raster_tiles.router)
    app.include_router(downloads.router)
    app.include_router(maps.router)
    from api.routers import account, auth

    app.include_router(auth.router)
    app.include_router(account.router)
    app.include_router(account.pages)
    from api.routers import site_pages, sites

    app.include_router(sites.router)
    app.include_router(site_pages.router)
    from api.routers import reports, threats

    app.include_router(threats.router)
    app.include_router(reports.router)
    from api.routers import prioritisation

    app.include_router(prioritisation.router)
    from api.routers import analyses

    app.include_router(analyses.router)
    from api.routers import grants

    app.include_router(grants.router)
    from api.routers import monitoring

    app.include_router(monitoring.router)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if NODE_MODULES.is_dir():
        app.mount("/vendor", VendorFiles(directory=NODE_MODULES), name="vendor")
    return app

"""``irbis serve``: the web platform under uvicorn, with Irbis's timeouts and limits."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from api.server import IrbisH11Protocol
from api.settings import Settings

#: Seconds a worker process may take to start before the supervisor replaces it.
WORKER_STARTUP_S = 60


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    header_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a client may take to send request headers [default: 10]."),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for each chunk of a request body [default: 30]."),
    ] = None,
    keep_alive_timeout: Annotated[
        int | None, typer.Option(help="Seconds an idle connection stays open [default: 5].")
    ] = None,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(help="Connections at once per worker; more are answered 503 [default: 1000]."),
    ] = None,
) -> None:
    """Serve the web platform (pages, OGC APIs, tiles) with uvicorn.

    With --workers N, N processes share the port; each keeps its data versions and cached
    logins current through PostgreSQL notifications (see docs/scaling.md).

    Slow clients are cut off: headers must arrive within --header-timeout, each body chunk
    within --body-timeout (408), request headers are at most IRBIS_SERVER_MAX_HEADER_BYTES.
    Options override the IRBIS_SERVER_* settings.
    """
    given = {
        "IRBIS_SERVER_HEADER_TIMEOUT": header_timeout,
        "IRBIS_SERVER_BODY_TIMEOUT": body_timeout,
        "IRBIS_SERVER_KEEP_ALIVE_TIMEOUT": keep_alive_timeout,
        "IRBIS_SERVER_LIMIT_CONCURRENCY": limit_concurrency,
    }
    for name, value in given.items():
        if value is not None:
            os.environ[name] = str(value)  # read by the app and protocol in every worker
    server = Settings().server
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=False,  # the app trusts only IRBIS_SERVER_TRUSTED_PROXIES
        http=IrbisH11Protocol,
        timeout_keep_alive=server.keep_alive_timeout,
        limit_concurrency=server.limit_concurrency,
        h11_max_incomplete_event_size=server.max_header_bytes,
        # a worker imports the whole platform (GDAL, rasterio, ...) before it answers the
        # supervisor's first ping: on a busy host that takes longer than uvicorn's 5 s
        timeout_worker_healthcheck=WORKER_STARTUP_S,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

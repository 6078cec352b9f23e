"""The one table from domain errors to HTTP statuses, and OGC-style exception bodies.

Handlers raise domain errors (``geo.errors``); nothing else chooses a status. Every error body
is ``{"code": ..., "description": ...}`` (the OGC API exception schema), and no error ever
escapes as a 500 with a stack trace.
"""

from __future__ import annotations

import errno
import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo import errors as ge

log = logging.getLogger("irbis")

STATUS: dict[type[ge.IrbisError], int] = {
    ge.TooLarge: 413,
    ge.UnreadableFile: 400,
    ge.MissingCRS: 400,
    ge.CRSMismatch: 400,
    ge.InvalidGeometry: 400,
    ge.OutsideRegion: 400,
    ge.SchemaMismatch: 400,
    ge.InvalidInput: 400,
    ge.NotFound: 404,
    ge.Forbidden: 403,
    ge.Unauthenticated: 401,
    ge.Conflict: 409,
    ge.Infeasible: 422,
    ge.IrbisError: 400,
}


def status_for(exc: ge.IrbisError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


#: Seconds a client should wait before trying again while the database is unavailable.
RETRY_AFTER = "10"

#: Errors that mean "the database cannot be reached right now" (it is down or restarting, a
#: connection died, the pool is exhausted, a statement ran out of time), not "the request is
#: wrong" nor "Irbis is broken".
_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached."""
    return any(
        isinstance(e, _UNAVAILABLE) or (isinstance(e, DBAPIError) and e.connection_invalidated)
        for e in _chain(exc)
    )


def out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a write that found the disk full."""
    return any(
        isinstance(e, OSError) and (e.errno in _NO_SPACE or "No space left on device" in str(e))
        for e in _chain(exc)
    )


def unavailable_response() -> JSONResponse:
    return JSONResponse(
        error_body("service_unavailable", "the database is unavailable; try again shortly"),
        status_code=503,
        headers={"Retry-After": RETRY_AFTER},
    )


def no_space_response() -> JSONResponse:
    return JSONResponse(
        error_body(
            "insufficient_storage",
            "the server has no room left to store this; nothing was saved. Try again later, "
            "or with a smaller file; if it persists, tell the Irbis administrators that the "
            "disk is full",
        ),
        status_code=507,
    )


def failure_response(request: Request, exc: BaseException) -> JSONResponse:
    """The answer to an error no domain rule chose a status for: 503 while the database is
    unavailable, 507 when the disk is full, else a logged 500."""
    if database_unavailable(exc):
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable_response()
    if out_of_space(exc):
        log.error("no space left on device on %s %s: %s", request.method, request.url.path, exc)
        return no_space_response()
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("server_error", "Irbis could not complete this request; it was logged."),
        status_code=500,
    )


def error_body(code: str, description: str, details: object | None = None) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "description": description}
    if details is not None:
        body["details"] = details
    return body


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(ge.IrbisError)
    async def _domain(request: Request, exc: ge.IrbisError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse(
            error_body("invalid_parameter", "; ".join(problems) or "invalid request"),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (an id beyond its integer range, a malformed date):
        # the request is at fault, not the server.
        return JSONResponse(
            error_body(
                "invalid_parameter",
                "a value in the request is out of range or of the wrong type for this field",
            ),
            status_code=400,
        )

    # The database going away surfaces as any of these, from a route, a dependency, the pool
    # checkout or psycopg itself; a full disk as an OSError. ``Exception`` is also the handler
    # for errors raised in middleware (the auth middleware reads accounts), so it classifies
    # the same way.
    async def _classified(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc) or out_of_space(exc):
            return failure_response(request, exc)
        raise exc  # anything else is a bug: on to the 500 handler below, and the server log

    for cls in (DBAPIError, PoolTimeout, psycopg.Error, OSError):
        app.add_exception_handler(cls, _classified)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return failure_response(request, exc)

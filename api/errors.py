"""The one table from domain errors to HTTP statuses, and OGC-style exception bodies.

Handlers raise domain errors (``geo.errors``); nothing else chooses a status. Every error body
is ``{"code": ..., "description": ...}`` (the OGC API exception schema), and no error ever
escapes as a 500 with a stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
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
            return STATUS[cls]  # type: ignore[index]
    return 400


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

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            error_body("service_unavailable", "the database is unavailable; try again shortly"),
            status_code=503,
            headers={"Retry-After": "30"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("server_error", "Irbis could not complete this request; it was logged."),
            status_code=500,
        )

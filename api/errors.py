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
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import i18n
from api.i18n import _l
from api.templating import render, request_locale
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
    ge.Unavailable: 503,
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


def error_body(
    code: str, description: object, details: object | None = None, *, lang: str | None = None
) -> dict[str, object]:
    """The JSON error body; its description is always in English (API clients read it), and
    when the request asked for another language (``lang``, else the current one), ``message``
    says it in that language where the catalogs have it (pages that call the API show it)."""
    body: dict[str, object] = {"code": code, "description": in_english(description)}
    lang = lang or i18n.current_locale()
    if lang != i18n.DEFAULT:
        said = in_language(lang, description)
        if said != body["description"]:
            body["message"] = said
    if details is not None:
        body["details"] = details
    return body


def in_english(message: object) -> str:
    """``message`` (a string, or text marked with a lazy gettext) in English."""
    if isinstance(message, str):
        return str(message)  # English already (a geo.messages.Message is its English text)
    token = i18n.set_locale(i18n.DEFAULT)
    try:
        return str(message)
    finally:
        i18n.reset(token)


def in_language(lang: str, message: object) -> str:
    """``message`` in ``lang`` where the catalogs have it (:func:`api.i18n.translate`)."""
    token = i18n.set_locale(lang)
    try:
        return i18n.translate(message)
    finally:
        i18n.reset(token)


# --------------------------------------------------------------------------------------------
# Error pages for browsers
# --------------------------------------------------------------------------------------------

#: What each status means to a person, in their language.
TITLES: dict[int, object] = {
    400: _l("The request cannot be used"),
    401: _l("Log in to see this page"),
    403: _l("You may not use this page"),
    404: _l("Page not found"),
    405: _l("This address does not take this kind of request"),
    409: _l("This conflicts with what is stored"),
    413: _l("Too large"),
    422: _l("This cannot be done with these values"),
    429: _l("Too many requests"),
    500: _l("Something went wrong in Irbis"),
    503: _l("Irbis is unavailable for a moment"),
    507: _l("There is no room left to store this"),
}
HINTS: dict[int, object] = {
    400: _l("Check what you typed or the link you followed, and try again."),
    401: _l("This page is for logged-in users."),
    403: _l("Your account does not have the role this page needs."),
    404: _l("There is no page at this address. It may have moved, or the link may be wrong."),
    429: _l("Wait a little and try again."),
    500: _l("The error was logged. Try again later."),
    503: _l("The database cannot be reached right now. Try again in a few seconds."),
    507: _l("Nothing was saved. Try again later, or with a smaller file."),
}


def wants_page(request: Request) -> bool:
    """A browser asking for a page (``Accept: text/html``, no ``f=json``), not an API client."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and request.query_params.get("f", "html") == "html"


def error_page(
    request: Request, status: int, message: object, headers: dict[str, str] | None = None
) -> Response:
    """The HTML error page: what happened in the visitor's language, and ways on."""
    page = render(
        request,
        "error.html",
        status_code=status,
        status=status,
        title=TITLES.get(status, _l("The request could not be completed")),
        hint=HINTS.get(status, ""),
        message=_localised(request, message),
        next_path=request.url.path,
    )
    for name, value in (headers or {}).items():
        page.headers[name] = value
    return page


def _localised(request: Request, message: object) -> str:
    """``message`` in the language of the request when the catalogs have it (text marked
    with a lazy gettext, or an English message the catalogs know)."""
    return in_language(request_locale(request), message)


def answer(
    request: Request,
    status: int,
    code: str,
    message: object,
    details: object | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error as JSON for API clients, as a page for browsers."""
    if wants_page(request):
        return error_page(request, status, message, headers)
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(ge.IrbisError)
    async def _domain(request: Request, exc: ge.IrbisError) -> Response:
        status = status_for(exc)
        headers = {
            401: {"WWW-Authenticate": "Bearer"},
            503: {"Retry-After": RETRY_AFTER},
        }.get(status)
        return answer(request, status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg')}")
        return answer(request, 400, "invalid_parameter", "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http_error"
        )
        return answer(
            request,
            exc.status_code,
            code,
            exc.detail if isinstance(exc.detail, str) else str(exc.detail),  # keeps a Message
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # A value the database cannot hold (an id beyond its integer range, a malformed date):
        # the request is at fault, not the server.
        return answer(
            request,
            400,
            "invalid_parameter",
            _l("a value in the request is out of range or of the wrong type for this field"),
        )

    # The database going away surfaces as any of these, from a route, a dependency, the pool
    # checkout or psycopg itself; a full disk as an OSError. ``Exception`` is also the handler
    # for errors raised in middleware (the auth middleware reads accounts), so it classifies
    # the same way.
    async def _classified(request: Request, exc: Exception) -> Response:
        if database_unavailable(exc) or out_of_space(exc):
            return _failure(request, exc)
        raise exc  # anything else is a bug: on to the 500 handler below, and the server log

    for cls in (DBAPIError, PoolTimeout, psycopg.Error, OSError):
        app.add_exception_handler(cls, _classified)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _failure(request, exc)


def _failure(request: Request, exc: BaseException) -> Response:
    """:func:`failure_response`, as a page for browsers."""
    response = failure_response(request, exc)
    if not wants_page(request):
        return response
    retry = response.headers.get("Retry-After")
    return error_page(
        request,
        response.status_code,
        "",
        {"Retry-After": retry} if retry else None,
    )

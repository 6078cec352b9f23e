"""Answering at once for work done in the background: ``Prefer: respond-async`` (RFC 7240),
the 202 answer, and the server's background runner (:mod:`api.services.background`).

A router whose runs can outlast a request (prioritisation grids and scenarios, analyses) reads
the ``Prefer`` header with :data:`PreferHeader`, asks :func:`background_runner` for the runner
before it records anything (while the server stops: 503, nothing stored), records the run,
hands its work to the runner and answers with :func:`accepted`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from api.services.background import BUSY, STOPPING, Runner
from geo.errors import Unavailable

PreferHeader = Annotated[
    str | None,
    Header(
        alias="Prefer",
        max_length=1000,
        description=(
            "`respond-async` (RFC 7240): answer at once with 202 and the record's Location, "
            "and do the work in the background."
        ),
    ),
]


def accepted_responses(description: str) -> dict[int | str, dict[str, Any]]:
    """The 202 answer as the OpenAPI document describes it (``responses=`` of a route)."""
    return {202: {"description": description}}


def prefers_async(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header (RFC 7240: preferences separated by commas, each maybe
    with a value and parameters) asks for ``respond-async``."""
    return any(
        p.split(";", 1)[0].split("=", 1)[0].strip().lower() == "respond-async"
        for p in (prefer or "").split(",")
    )


def accepted(started: dict[str, Any], where: str, status_url: str, asked: bool) -> JSONResponse:
    """202 for a run handed to the background runner: the record as it starts, ``where`` it
    is (``Location``), and where its status is told; ``Preference-Applied`` when the request
    ``asked`` for it."""
    headers = {"Location": where, "Retry-After": "2"}
    if asked:
        headers["Preference-Applied"] = "respond-async"
    return JSONResponse({**started, "status_url": status_url}, status_code=202, headers=headers)


def background_runner(request: Request) -> Runner:
    """The app's background runner (made and shut down by the app's lifespan), asked for
    before a run is recorded: while the server stops, or while the process holds as many
    runs (at work and waiting) as ``IRBIS_SERVER_BACKGROUND_RUNS`` and
    ``IRBIS_SERVER_BACKGROUND_QUEUE`` allow, the request is refused (503, to send again) with
    nothing stored.

    Raises
    ------
    Unavailable
        The runner is shut down, or full."""
    runner: Runner = request.app.state.runner
    if runner.closed:
        raise Unavailable(STOPPING)
    if runner.full:
        raise Unavailable(BUSY)
    return runner

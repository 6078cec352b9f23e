"""Small typed dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    """The writer engine."""
    return request.app.state.engine


def get_reader_engine(request: Request) -> Engine:
    """The engine for reads: the read-only role (irbis_reader) for anonymous callers, the
    writer for logged-in ones, whose reads may include the names of people (uploaders,
    analysts, reporters) that the read-only role cannot see."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and not principal.is_anonymous:
        return request.app.state.engine
    return request.app.state.reader_engine


def get_session(request: Request) -> Iterator[Session]:
    """A writer session; the handler commits explicitly (one transaction per request)."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    with Session(get_reader_engine(request), expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ReaderDep = Annotated[Engine, Depends(get_reader_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]

"""Fixtures for the serving tests: an app whose change listener is connected, and a
counter of the SQL statements the app's engines send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

#: The app's own background threads: what they read is not on a request's path (the grants
#: warmer computes the portfolio again after writes; the start-up checks run beside the start).
BACKGROUND = ("irbis-grants-warmer", "irbis-after-start", "irbis-listener")


class Statements:
    """Every statement sent through the app's engines while counting, but those of the app's
    background threads (:data:`BACKGROUND`)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread().name not in BACKGROUND:
            self.seen.append(statement)

    def reset(self) -> None:
        self.seen.clear()


@pytest.fixture
def served(app: Any) -> Iterator[TestClient]:
    """A TestClient of the app once its change listener is connected."""
    with TestClient(app) as c:
        assert app.state.change_listener.connected.wait(10), "the listener did not connect"
        yield c


@pytest.fixture
def statements(app: Any, served: TestClient) -> Iterator[Statements]:
    counter = Statements()
    engines = (app.state.engine, app.state.reader_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counter)
    yield counter
    for engine in engines:
        event.remove(engine, "before_cursor_execute", counter)

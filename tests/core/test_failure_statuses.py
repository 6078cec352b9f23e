"""Every way the database's absence or a full disk can surface, wherever it is raised (a route,
a dependency, a middleware), gets 503 + Retry-After or 507, never a 500."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.app import create_app
from api.settings import Settings
from tests.conftest import TEST_READER_URL, TEST_URL


def _interface() -> Exception:
    return InterfaceError("SELECT 1", {}, psycopg.InterfaceError("the connection is closed"))


def _invalidated() -> Exception:
    return DBAPIError(
        "SELECT 1",
        {},
        psycopg.DatabaseError("server closed the connection"),
        connection_invalidated=True,
    )


UNAVAILABLE: dict[str, Callable[[], BaseException]] = {
    "sqlalchemy OperationalError": lambda: OperationalError(
        "SELECT 1", {}, psycopg.OperationalError("connection refused")
    ),
    "sqlalchemy InterfaceError": _interface,
    "DBAPIError, connection invalidated": _invalidated,
    "pool checkout timeout": lambda: PoolTimeout("QueuePool limit reached"),
    "psycopg OperationalError": lambda: psycopg.OperationalError("connection refused"),
    "psycopg InterfaceError": lambda: psycopg.InterfaceError("the connection is closed"),
    "wrapped in another error": lambda: _wrapped(_interface()),
}
NO_SPACE: dict[str, Callable[[], BaseException]] = {
    "ENOSPC": lambda: OSError(errno.ENOSPC, "No space left on device"),
    "EDQUOT": lambda: OSError(errno.EDQUOT, "Disk quota exceeded"),
}


def _wrapped(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as inner:
        try:
            raise RuntimeError("while reading the layer") from inner
        except RuntimeError as outer:
            return outer


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    settings = Settings.for_database(TEST_URL, TEST_READER_URL)
    settings.var_dir = Path(tmp_path_factory.mktemp("var"))
    app = create_app(settings)
    failures = {**UNAVAILABLE, **NO_SPACE, "plain bug": lambda: ValueError("a bug")}

    def raiser(make: Callable[[], BaseException]) -> Callable[[], Any]:
        def fail() -> Any:
            raise make()

        return fail

    for i, make in enumerate(failures.values()):
        app.add_api_route(f"/_fail/route/{i}", raiser(make))
        app.add_api_route(
            f"/_fail/dependency/{i}", lambda: {}, dependencies=[Depends(raiser(make))]
        )

    @app.middleware("http")
    async def fail_in_middleware(request: Any, call_next: Any) -> Any:
        if request.url.path.startswith("/_fail/middleware/"):
            raise list(failures.values())[int(request.url.path.rsplit("/", 1)[1])]()
        return await call_next(request)

    app.state.failure_index = {name: i for i, name in enumerate(failures)}
    return app


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("where", ["route", "dependency", "middleware"])
@pytest.mark.parametrize("failure", list(UNAVAILABLE))
def test_database_unavailable_is_503(
    app: FastAPI, client: TestClient, where: str, failure: str
) -> None:
    r = client.get(f"/_fail/{where}/{app.state.failure_index[failure]}")
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) > 0
    assert r.json()["code"] == "service_unavailable"
    assert "psycopg" not in r.text and "SELECT" not in r.text


@pytest.mark.parametrize("where", ["route", "dependency", "middleware"])
@pytest.mark.parametrize("failure", list(NO_SPACE))
def test_a_full_disk_is_507(app: FastAPI, client: TestClient, where: str, failure: str) -> None:
    r = client.get(f"/_fail/{where}/{app.state.failure_index[failure]}")
    assert r.status_code == 507, r.text
    body = r.json()
    assert body["code"] == "insufficient_storage" and "nothing was saved" in body["description"]
    assert "/" not in body["description"]  # no server path


def test_a_bug_is_still_a_500(app: FastAPI, client: TestClient) -> None:
    r = client.get(f"/_fail/route/{app.state.failure_index['plain bug']}")
    assert r.status_code == 500 and r.json()["code"] == "server_error"


def test_other_database_and_os_errors_are_500(app: FastAPI, tmp_path: Path) -> None:
    """Only unavailability and a full disk are classified; any other database or file error is
    a bug, answered 500 and raised to the server log."""
    from sqlalchemy.exc import ProgrammingError

    failures = {
        "programming": ProgrammingError("SELECT x", {}, psycopg.ProgrammingError("no column x")),
        "permission": PermissionError(errno.EACCES, "Permission denied"),
    }

    def raiser(exc: BaseException) -> Callable[[], None]:
        def fail() -> None:
            raise exc

        return fail

    for name, exc in failures.items():
        app.add_api_route(f"/_fail/other/{name}", raiser(exc))
    with TestClient(app, raise_server_exceptions=False) as c:
        for name in failures:
            r = c.get(f"/_fail/other/{name}")
            assert r.status_code == 500 and r.json()["code"] == "server_error", name
    with TestClient(app) as c:
        for name, exc in failures.items():
            with pytest.raises(type(exc)):
                c.get(f"/_fail/other/{name}")

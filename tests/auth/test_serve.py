"""``irbis serve`` runs uvicorn with Irbis's bounds on slow clients."""

from __future__ import annotations

import os
from typing import Any

import pytest
from typer.testing import CliRunner


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``irbis serve`` hands to ``uvicorn.run`` (the server itself is not started)."""
    import uvicorn

    seen: dict[str, Any] = {}

    def run(app: str, **kwargs: Any) -> None:
        seen["app"] = app
        seen.update(kwargs)
        seen["env"] = {k: v for k, v in os.environ.items() if k.startswith("IRBIS_SERVER_")}

    monkeypatch.setattr(uvicorn, "run", run)
    # serve sets these in os.environ for its workers: undo that after the test
    names = {n for n in os.environ if n.startswith("IRBIS_SERVER_")} | {
        f"IRBIS_SERVER_{n}"
        for n in ("HEADER_TIMEOUT", "BODY_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "LIMIT_CONCURRENCY")
    }
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return seen


def test_serve_passes_the_client_bounds(captured, monkeypatch) -> None:
    from api.cli import app
    from api.server import IrbisH11Protocol

    monkeypatch.setenv("IRBIS_SERVER_HEADER_TIMEOUT", "10")  # restored after the test
    monkeypatch.setenv("IRBIS_SERVER_BODY_TIMEOUT", "30")
    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--header-timeout",
            "3",
            "--body-timeout",
            "4",
            "--keep-alive-timeout",
            "2",
            "--limit-concurrency",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    assert captured["app"] == "api.app:create_app" and captured["factory"] is True
    assert captured["http"] is IrbisH11Protocol
    assert captured["timeout_keep_alive"] == 2 and captured["limit_concurrency"] == 50
    assert captured["h11_max_incomplete_event_size"] == 16 * 1024
    # the app (body timeout) and the protocol (header timeout) read them in every worker
    assert captured["env"]["IRBIS_SERVER_HEADER_TIMEOUT"] == "3.0"
    assert captured["env"]["IRBIS_SERVER_BODY_TIMEOUT"] == "4.0"


def test_serve_defaults_come_from_the_settings(captured, monkeypatch) -> None:
    from api.cli import app

    monkeypatch.setenv("IRBIS_SERVER_KEEP_ALIVE_TIMEOUT", "7")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert captured["timeout_keep_alive"] == 7 and captured["limit_concurrency"] == 1000

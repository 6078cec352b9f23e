"""Writes refused from their headers alone (api.early_refusals), against the real app: each
early answer is, header by header and byte by byte, the one the stack gives without the early
middleware; the stack (locale, session, routing) never sees the request and not a byte of the
body is read. What the headers do not decide goes on to the stack."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from api.app import create_app
from api.bodylimits import LOGIN_BYTES
from api.early_refusals import EarlyRefusalMiddleware
from api.ratelimit import WindowCounts
from api.settings import Settings

CHUNKED = (b"transfer-encoding", b"chunked")
RUSSIAN = (b"accept-language", b"ru-RU,ru;q=0.9")
FORM = (b"content-type", b"multipart/form-data; boundary=x")


def _length(n: int) -> tuple[bytes, bytes]:
    return (b"content-length", str(n).encode())


def _call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""):  # type: ignore[no-untyped-def]
    """Run one request through ``app``'s ASGI stack: (messages sent, body reads, state)."""
    sent: list[dict[str, Any]] = []
    reads: list[int] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("192.0.2.7", 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def run() -> None:
        await app(scope, receive, send)

    # in a thread of its own: a session fixture may hold an event loop in this one (the
    # browser tests' Playwright), and anyio.run refuses to nest in it
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, run).result()
    return sent, len(reads), scope.get("state", {})


@pytest.fixture(scope="module")
def apps(settings: Settings) -> tuple[Any, Any]:
    """The app, and the same app without the early middleware (the stack's own answers)."""
    early = create_app(settings)
    stack = create_app(settings)
    stack.user_middleware = [
        m for m in stack.user_middleware if m.cls is not EarlyRefusalMiddleware
    ]
    assert len(stack.user_middleware) == len(early.user_middleware) - 1
    return early, stack


def _answer(sent: list[dict[str, Any]]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], list(start["headers"]), body


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/login", [FORM, _length(LOGIN_BYTES + 1)], 413),
        ("POST", "/api/grants/G-1/sites", [FORM, _length(10**12)], 413),
        ("DELETE", "/api/grants/G-1/sites/1", [_length(5)], 413),
        ("POST", "/reports", [FORM, CHUNKED], 401),
        ("POST", "/reports", [FORM, _length(100)], 401),
        ("POST", "/reports", [FORM, _length(100), (b"cookie", b"irbis_csrf=abc; theme=x")], 401),
        ("POST", "/api/grants/G-1/monitoring", [FORM, CHUNKED], 401),
        ("POST", "/grants/new", [FORM, CHUNKED], 303),
        # in the reader's language, negotiated as the stack would (no locale set)
        ("POST", "/login", [FORM, _length(LOGIN_BYTES + 1), RUSSIAN], 413),
        ("POST", "/reports", [FORM, _length(100), (b"cookie", b"lang=kk; theme=x")], 401),
    ],
)
def test_refused_from_the_headers_as_the_stack_would(
    apps: tuple[Any, Any], method: str, path: str, headers: list[Any], status: int
) -> None:
    early, stack = apps
    sent, reads, state = _call(early, method, path, headers)
    answer = _answer(sent)
    assert answer == _answer(_call(stack, method, path, headers)[0])
    assert answer[0] == status and (b"connection", b"close") in answer[1], answer
    asked = RUSSIAN in headers or any(k == b"cookie" and b"lang=" in v for k, v in headers)
    assert (b'"message"' in answer[2]) == asked, answer
    # nothing of the body was read, and neither the locale nor the login was looked at
    assert reads == 0
    assert "locale" not in state and "csrf_key" not in state, sorted(state)


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ([FORM, _length(100), (b"authorization", b"Basic abc")], b"", 401),
        ([FORM, _length(100), (b"cookie", b"irbis_session=stale.abc")], b"", 401),
        ([FORM, CHUNKED], b"lang=ru", 401),
    ],
)
def test_credentials_and_a_language_choice_go_on_to_the_stack(
    apps: tuple[Any, Any], headers: list[Any], query: bytes, status: int
) -> None:
    """A token or a session cookie must be resolved, and ``?lang=`` sets a cookie on the
    answer: the stack decides, with the answer it gives without the early middleware."""
    early, stack = apps
    sent, _, state = _call(early, "POST", "/reports", headers, query)
    answer = _answer(sent)
    assert answer == _answer(_call(stack, "POST", "/reports", headers, query)[0])
    assert answer[0] == status
    assert "locale" in state  # it went through the stack
    if query:
        assert any(k == b"set-cookie" and v.startswith(b"lang=ru") for k, v in answer[1])


def test_refusal_counts_per_window_and_dropped_when_expired() -> None:
    counts = WindowCounts()
    assert [counts.incr("a", 0.2) for _ in range(3)] == [1, 2, 3]
    assert counts.incr("b", 0.2) == 1
    time.sleep(0.25)
    assert counts.incr("a", 0.2) == 1  # a new window
    for i in range(3000):
        counts.incr(f"flood-{i}", 0.01)
    time.sleep(0.02)
    for i in range(3000):
        counts.incr(f"again-{i}", 60)
    # the expired keys were swept as the table grew; the live ones were kept
    assert 3000 <= len(counts) < 4500
    assert counts.incr("again-0", 60) == 2

"""Serve an app with ``irbis serve``'s uvicorn set-up on 127.0.0.1, in a thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from api.settings import ServerSettings


@contextmanager
def serving(app: Any, server: ServerSettings) -> Iterator[tuple[str, int]]:
    """``app`` served on a free port of 127.0.0.1; yields (host, port)."""
    import uvicorn

    from api.server import config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    uv = uvicorn.Server(config(app, server, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start within 30 s")
        time.sleep(0.05)
    try:
        yield ("127.0.0.1", port)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)

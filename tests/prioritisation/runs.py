"""Helpers for the tests of runs on the background thread: poll a run's status until it has
ended, count a table's rows."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text


def wait_until_ended(client: Any, url: str, timeout: float = 240) -> dict[str, Any]:
    """Poll a run's status (``/prioritisation/{grids|scenarios}/{id}/status``) until it has
    ended, as the progress page's script and a client of the API do; the statuses seen are
    in ``seen``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        seen.append(body["status"])
        if body["finished"]:
            body["seen"] = seen
            return body
        time.sleep(0.3)
    raise AssertionError(f"{url} did not end in {timeout} s: {seen[-5:]}")


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

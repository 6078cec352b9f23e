"""Helpers for the tests of runs on the background thread: read a 202 answer, poll a run's
status until it has ended, count a table's rows."""

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


def accepted(r: Any, where: str, status_url: str, *, asked: bool = True) -> dict[str, Any]:
    """The record of a 202 answer (``r``) for a run handed to the background thread, checked:
    its ``Location`` is ``where`` (``{id}`` filled from the record), its ``status_url``
    ``status_url``, ``Retry-After`` is set, and ``Preference-Applied`` says respond-async when
    the request ``asked`` for it (and is absent when the server chose it)."""
    assert r.status_code == 202, r.text
    started: dict[str, Any] = r.json()
    rid = started["id"]
    assert r.headers["location"] == where.format(id=rid)
    assert started["status_url"] == status_url.format(id=rid)
    assert int(r.headers["retry-after"]) > 0
    if asked:
        assert r.headers["preference-applied"] == "respond-async"
    else:
        assert "preference-applied" not in r.headers
    return started

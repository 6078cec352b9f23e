"""Shared fixtures: one planning grid over the demo data for the whole run."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text

from api.services import prioritisation as prio


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.fixture(scope="session")
def resort(engine: Engine, demo: dict[str, int]) -> str:
    return str(_scalar(engine, "SELECT name FROM threats WHERE kind = :k LIMIT 1", k="ski_resort"))


@pytest.fixture(scope="session")
def grid_id(engine: Engine, settings, demo: dict[str, int]) -> int:  # type: ignore[no-untyped-def]
    params = prio.GridParams(name=f"test r3 {uuid.uuid4().hex[:8]}", resolution=3)
    return prio.build_grid(engine, params, actor="tests", data_dir=settings.data_dir)

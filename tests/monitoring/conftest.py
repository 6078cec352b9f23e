"""Fixtures for field monitoring: the demo grant a grantee submits for, and clean-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

#: The demo grant and site used by these tests (a snow leopard grant in the Ile Alatau).
GRANT = "SOS-CA-EX-01"
SITE = "Bolshaya Almatinka headwaters"
OTHER_GRANT = "SOS-CA-EX-02"
#: A precise observation point (a camera trap): the public must never see these digits.
PRECISE = (76.95137, 43.02771)
PRECISE_TEXT = ("76.95137", "43.02771", "76.9513", "43.0277")


@pytest.fixture
def clean_records(engine: Engine, demo: dict[str, int]) -> Iterator[None]:
    """Remove the records a test stored (every record that is not a demo example)."""
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM monitoring_records WHERE method <> 'example'"))


def hdr(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-CSRF-Token": client.csrf}


def count_records(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM monitoring_records WHERE method <> 'example'")
            ).scalar_one()
        )

"""Fixtures for the threat tests: real users logged in for real, photos with GPS tags."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from shapely.geometry import box, mapping

from api.auth.testing import login, make_user
from geo.evidence import GPS_IFD
from tests import cleanup

ARTIST = 0x013B
#: A small footprint inside Ile-Alatau NP, near Kok-Jailau.
FOOTPRINT = box(76.95, 43.10, 76.97, 43.115)


def photo_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (120, 90)) -> bytes:
    """A photo whose EXIF says where it was taken (Kok-Jailau) and by whom."""
    im = Image.new("RGB", size, (90, 140, 70))
    exif = Image.Exif()
    exif[ARTIST] = "Photographer Name"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 8.0, 24.0), 3: "E", 4: (76.0, 58.0, 48.0)}
    out = io.BytesIO()
    im.save(out, format=fmt, exif=exif)
    return out.getvalue()


def drawn(geom: Any = FOOTPRINT) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": mapping(geom)}],
        }
    )


@pytest.fixture(scope="session")
def people(engine: Engine) -> Iterator[dict[str, str]]:
    """Usernames by role; names are unique so a leak is easy to find in any output. Committed
    once for the run (the tests of several modules log in as them), deleted at its end."""
    tag = f"{random.getrandbits(24):06x}"
    made = {
        "advocate": make_user(engine, f"advocate-zhanar-{tag}", roles=["advocate"]),
        "advocate2": make_user(engine, f"advocate-timur-{tag}", roles=["advocate"]),
        "analyst": make_user(engine, f"analyst-dana-{tag}", roles=["analyst"]),
        "grantee": make_user(engine, f"grantee-erlan-{tag}", roles=["grantee"]),
    }
    yield made
    cleanup.delete_users(engine, list(made.values()))


class Session:
    """A logged-in TestClient and its CSRF token."""

    def __init__(self, client: TestClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def post(self, url: str, **kwargs: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.client.post(url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)


@pytest.fixture
def as_user(app: Any, people: dict[str, str]) -> Iterator[Callable[[str], Session]]:
    """``as_user("analyst")``: a client logged in as that role's user."""
    clients: list[TestClient] = []

    def make(role: str) -> Session:
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return Session(c, login(c, people[role]))

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def tx_as_user(tx_app: Any, people: dict[str, str]) -> Callable[[str], Session]:
    """:func:`as_user` on ``tx_app``: what the user does is rolled back after the test."""

    def make(role: str) -> Session:
        c = TestClient(tx_app)
        return Session(c, login(c, people[role]))

    return make


def report_form(**overrides: Any) -> dict[str, Any]:
    form = {
        "title": "Road cut into the Kok-Jailau slope",
        "kind": "road",
        "threat_status": "under_construction",
        "status_on": "2026-09-01",
        "observed_on": "2026-09-03",
        "description": "Bulldozers opened a track above the plateau.",
        "links": "https://example.org/news/kok-jailau-road\n",
        "geometry": drawn(),
    }
    form.update(overrides)
    return form


def submit(session: Session, *, files: list[tuple[str, Any]] | None = None, **form: Any) -> Any:
    return session.post("/reports", data=report_form(**form), files=files or [])


def stored(engine: Engine, var_dir: Path) -> tuple[int, int, int, int]:
    """Rows in the report tables and files in the evidence store."""
    with engine.connect() as conn:
        counts = [
            int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("threat_reports", "threat_report_events", "evidence_files")
        ]
    root = var_dir / "evidence"
    files = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return (*counts, files)  # type: ignore[return-value]

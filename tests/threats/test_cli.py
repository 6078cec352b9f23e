"""``irbis threats as-of``: what was threatened on a day or in a year."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.demo import data as dd
from api.settings import Settings


@pytest.fixture
def env(settings: Settings, demo: dict[str, int], monkeypatch: Any) -> None:
    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IRBIS_DATABASE_READER_URL", settings.database.read_url)


def _kj(args: list[str]) -> dict[str, Any] | None:
    r = CliRunner().invoke(cli, ["threats", "as-of", *args, "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    return next((t for t in rows if t["name"] == dd.KOK_JAILAU["name"]), None)


def test_status_on_a_day(env: None) -> None:
    assert _kj(["2019-06-01"])["status_on_day"] == "approved"
    assert _kj(["2020-06-01"])["status_on_day"] == "halted"
    assert _kj(["2020-06-01", "--live"]) is None
    assert _kj(["2010-01-01"])["status_on_day"] is None


def test_threatened_in_a_year(env: None) -> None:
    assert _kj(["2019"]) is not None  # approved until the ban in October
    assert _kj(["2021"]) is None  # halted all year


def test_bad_date_is_a_clear_message(env: None) -> None:
    r = CliRunner().invoke(cli, ["threats", "as-of", "2019-13-01"])
    assert r.exit_code == 1 and "is not a date" in r.output

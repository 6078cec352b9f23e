"""The command line explains itself; settings come from IRBIS_* variables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.settings import Settings

IRBIS = Path(sys.executable).parent / "irbis"


@pytest.mark.parametrize("args", [[], ["db"], ["load"], ["import"], ["serve"]])
def test_help_explains_each_command(args: list[str]) -> None:
    r = CliRunner().invoke(cli, [*args, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output


def test_installed_console_script() -> None:
    out = subprocess.run([str(IRBIS), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("db", "load", "import", "serve"):
        assert command in out.stdout


def test_settings_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("IRBIS_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:5432/x")
    monkeypatch.delenv("IRBIS_DATABASE_READER_URL", raising=False)
    monkeypatch.setenv("IRBIS_FEATURES_MAX_LIMIT", "77")
    s = Settings()
    assert s.database.url.endswith("/x") and s.database.read_url == s.database.url
    assert s.features.max_limit == 77


def test_db_current_reports_revision(settings, migrated, monkeypatch) -> None:
    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    r = CliRunner().invoke(cli, ["db", "current"])
    assert r.exit_code == 0 and r.output.strip()[:4].isdigit()


def test_unknown_layer_is_refused(settings, migrated, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    f = tmp_path / "x.geojson"
    f.write_text('{"type":"FeatureCollection","features":[]}')
    r = CliRunner().invoke(cli, ["import", "lakes", str(f)])
    assert r.exit_code == 2 and "cannot import into 'lakes'" in r.output

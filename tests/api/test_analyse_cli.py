"""``irbis analyse ...`` against the test database, in the test's transaction (``tx_cli``)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from tests.rollback import RolledBack


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tx_cli: RolledBack) -> None:
    """The commands write in the test's transaction (rolled back after it); the rasters
    they read are the demo's, in the run's folder."""
    monkeypatch.setenv("IRBIS_VAR_DIR", str(settings.var_dir))


def test_habitat_and_gaps_from_the_command_line(cli_env: None) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["analyse", "ecosystems", "-q", "--resolution-arcmin", "2"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["analyse", "habitat", "-q", "--set", "Panthera uncia:elevation_min_m=2800"]
    )
    assert r.exit_code == 0, r.output
    run_id = int(re.search(r"analysis run (\d+) stored", r.output).group(1))  # type: ignore[union-attr]
    shown = runner.invoke(app, ["analyse", "show", str(run_id)])
    assert '"elevation_min_m": 2800' in shown.output
    r = runner.invoke(app, ["analyse", "gaps", "-q"])
    assert r.exit_code == 0 and "share_protected" in r.output, r.output
    listed = runner.invoke(app, ["analyse", "list"])
    assert "gaps" in listed.output and "succeeded" in listed.output


def test_bad_input_is_a_message_not_a_traceback(cli_env: None) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["analyse", "overlap", "protected_areas", "-q"])
    assert r.exit_code == 1 and "two or more layers" in r.output
    r = runner.invoke(app, ["analyse", "habitat", "-q", "--set", "Panthera uncia:colour=grey"])
    assert r.exit_code == 1 and "unknown habitat parameter" in r.output
    r = runner.invoke(app, ["analyse", "show", "987654"])
    assert r.exit_code == 1 and "no analysis run 987654" in r.output
    r = runner.invoke(app, ["analyse", "loss", "-q", "--epoch", "2020=no_such_raster"])
    assert r.exit_code == 1 and "no raster named" in r.output
    assert "Traceback" not in r.output

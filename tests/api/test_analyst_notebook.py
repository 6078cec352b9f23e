"""The analyst walkthrough notebook runs end to end on the demo data."""

from __future__ import annotations

import pytest

from api.settings import Settings
from tests.notebooks import run_notebook


@pytest.mark.slow
def test_walkthrough_runs(
    settings: Settings, demo: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_notebook("analyst_walkthrough.ipynb", settings, monkeypatch)
    assert not nb.errors
    assert "walkthrough complete" in nb.text and "Kok-Jailau" in nb.text
    assert nb.images >= 4  # the charts
    assert nb.html.count("folium") >= 2  # the maps

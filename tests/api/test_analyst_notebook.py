"""The analyst walkthrough notebook runs end to end on the demo data (once, at its smallest:
the habitat's sensitivity to two lower elevation limits instead of four)."""

from __future__ import annotations

import pytest

from api.settings import Settings
from tests.notebooks import Executed, run_notebook

pytestmark = [pytest.mark.slow, pytest.mark.cleaned_up]  # the notebook's kernel commits

SMALLER = {"for lower in (2000, 2500, 3000, 3500):": "for lower in (2000, 3500):"}


@pytest.fixture(scope="module")
def walkthrough(settings: Settings, demo: dict[str, int]) -> Executed:
    return run_notebook("analyst_walkthrough.ipynb", settings, SMALLER)


def test_walkthrough_runs_without_error(walkthrough: Executed) -> None:
    assert not walkthrough.errors, walkthrough.errors


def test_walkthrough_reaches_the_end_and_the_case(walkthrough: Executed) -> None:
    assert "walkthrough complete" in walkthrough.text and "Kok-Jailau" in walkthrough.text


def test_walkthrough_draws_charts_and_maps(walkthrough: Executed) -> None:
    assert walkthrough.images >= 4  # the charts
    assert walkthrough.html.count("folium") >= 2  # the maps

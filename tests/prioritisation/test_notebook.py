"""The prioritisation notebook runs end to end on the demo data (once, at its smallest: two
perturbed runs and two replacement units instead of ten and five, the compact plan within 5 %
of its optimum)."""

from __future__ import annotations

import pytest

from api.settings import Settings
from tests.notebooks import Executed, run_notebook

pytestmark = [pytest.mark.slow, pytest.mark.cleaned_up]  # the notebook's kernel commits

SMALLER = {
    "    portfolio_runs=10,\n": "    portfolio_runs=2,\n    replacement_units=2,\n",
    # the plan with a boundary penalty, solved to 5 % of the optimum (not to the optimum, which
    # took most of the notebook's time)
    '"boundary_penalty": 50.0}))\n)': '"boundary_penalty": 50.0})),\n    gap=0.05,\n    time_limit=15,\n)',
}


@pytest.fixture(scope="module")
def notebook(settings: Settings, demo: dict[str, int]) -> Executed:
    return run_notebook("prioritisation.ipynb", settings, SMALLER)


def test_notebook_runs_without_error(notebook: Executed) -> None:
    assert not notebook.errors, notebook.errors


def test_notebook_compares_greedy_and_shows_an_impossible_target(notebook: Executed) -> None:
    assert "greedy costs" in notebook.text and "cannot be met" in notebook.text


def test_notebook_draws_the_plan(notebook: Executed) -> None:
    assert "selected units" in notebook.html or "folium" in notebook.html

"""The prioritisation notebook runs end to end on the demo data."""

from __future__ import annotations

import pytest

from tests.notebooks import run_notebook


@pytest.mark.slow
def test_notebook_runs(settings, demo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    nb = run_notebook("prioritisation.ipynb", settings, monkeypatch)
    assert not nb.errors
    assert "greedy costs" in nb.text and "cannot be met" in nb.text
    assert "selected units" in nb.html or "folium" in nb.html

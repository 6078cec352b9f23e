"""The analyst walkthrough notebook runs end to end on the demo data, in under two minutes."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from api.settings import Settings

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyst_walkthrough.ipynb"


@pytest.mark.slow
def test_walkthrough_runs(
    settings: Settings, demo: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IRBIS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("IRBIS_VAR_DIR", str(settings.var_dir))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent.parent)}},
    ).execute()
    assert time.perf_counter() - start < 120
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "walkthrough complete" in text and "Kok-Jailau" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4  # the charts
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert html.count("folium") >= 2  # the maps

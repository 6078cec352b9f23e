"""Execute a notebook of notebooks/ against the test database, as an analyst would run it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from api.settings import Settings

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclass
class Executed:
    outputs: list[dict[str, Any]]
    text: str
    html: str

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o.get("output_type") == "error"]

    @property
    def images(self) -> int:
        return sum("image/png" in o.get("data", {}) for o in self.outputs)


def run_notebook(name: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Executed:
    monkeypatch.setenv("IRBIS_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("IRBIS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("IRBIS_VAR_DIR", str(settings.var_dir))
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.parent)}},
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    return Executed(outputs, text, html)

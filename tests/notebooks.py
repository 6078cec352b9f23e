"""Execute a notebook of notebooks/ against the test database, as an analyst would run it.

A notebook is run once per test module (a module-scoped fixture keeps the outputs for its
assertions), with the smallest inputs that still run every cell: ``smaller`` replaces pieces
of the notebook's code (each must be found, so a changed notebook fails loudly rather than
running at full size)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
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


def _shrink(nb: Any, smaller: Mapping[str, str]) -> None:
    for old, new in smaller.items():
        cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(cells) == 1, f"the notebook's code has {len(cells)} cells with {old!r}"
        cells[0].source = cells[0].source.replace(old, new)


def run_notebook(name: str, settings: Settings, smaller: Mapping[str, str] = {}) -> Executed:
    """Run ``notebooks/name`` in a fresh kernel whose settings are the test database's."""
    env = {
        **os.environ,
        "IRBIS_DATABASE_URL": settings.database.url,
        "IRBIS_DATA_DIR": str(settings.data_dir),
        "IRBIS_VAR_DIR": str(settings.var_dir),
    }
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    _shrink(nb, smaller)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.parent)}},
    ).execute(env=env)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    return Executed(outputs, text, html)

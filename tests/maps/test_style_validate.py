"""Every published MapLibre style passes MapLibre's own validator, and draws from what its
tiles hold.

The validator is ``gl-style-validate`` from ``@maplibre/maplibre-gl-style-spec`` (npm, pinned
by package-lock.json, installed by ``make setup``), run by Node on the bytes the API serves.
What the validator cannot know is checked against the TileJSON the style points to: every
``source-layer`` is one of its vector layers, and every property a style reads is a field
of that layer (a colour keyed on a property the tiles lack would fall back silently).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.settings import NODE_MODULES
from layers.registry import layer_ids

VALIDATOR = NODE_MODULES / ".bin" / "gl-style-validate"


def validate(files: list[Path]) -> subprocess.CompletedProcess[str]:
    """``gl-style-validate`` on ``files``: exit 0 and no output when every style is valid,
    else one ``file:line: message`` per error."""
    node = shutil.which("node")
    assert node, "Node.js is needed (Debian: apt-get install nodejs; make setup installs it)"
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: run `make setup` (npm ci)"
    return subprocess.run(
        [node, str(VALIDATOR), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _local(url: str) -> str:
    """The path and query of a URL the app wrote with its own base."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture(scope="module")
def published(settings: Any, demo: Any) -> dict[str, bytes]:
    """Every collection's style, as served (the bytes, not a re-encoding)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    out = {}
    with TestClient(create_app(settings)) as c:
        for collection_id in layer_ids():
            r = c.get(f"/collections/{collection_id}/styles/default")
            assert r.status_code == 200, (collection_id, r.text[:300])
            assert r.headers["content-type"].startswith("application/vnd.mapbox.style+json")
            out[collection_id] = r.content
    return out


def test_every_published_style_passes_maplibres_validator(
    published: dict[str, bytes], tmp_path: Path
) -> None:
    files = []
    for collection_id, body in published.items():
        path = tmp_path / f"{collection_id}.json"
        path.write_bytes(body)
        files.append(path)
    out = validate(files)
    assert out.stdout == "" and out.stderr == "", out.stdout + out.stderr
    assert out.returncode == 0


def test_the_validator_finds_what_maplibre_would_refuse(
    published: dict[str, bytes], tmp_path: Path
) -> None:
    """The check above can fail: a served style with a paint property of the wrong kind and
    a zoom beyond MapLibre's range is refused, with the line and what is wrong."""
    style = json.loads(published["protected_areas"])
    style["layers"][1]["paint"]["fill-opacity"] = "half"
    style["layers"][1]["maxzoom"] = 30
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(style, indent=1))
    out = validate([path])
    assert out.returncode == 1
    assert "fill-opacity" in out.stdout and "maxzoom" in out.stdout, out.stdout


def _read_properties(expr: Any) -> set[str]:
    """The feature properties an expression reads (``["get", name]``)."""
    if not isinstance(expr, list):
        return set()
    found = {expr[1]} if expr[:1] == ["get"] and len(expr) == 2 else set()
    for part in expr:
        found |= _read_properties(part)
    return found


@pytest.mark.parametrize("collection_id", layer_ids())
def test_a_style_draws_from_what_its_tiles_hold(
    client: Any, published: dict[str, bytes], collection_id: str
) -> None:
    style = json.loads(published[collection_id])
    assert style["version"] == 8
    assert style["metadata"]["irbis:collection"] == collection_id
    ids = [layer["id"] for layer in style["layers"]]
    assert len(ids) == len(set(ids))
    drawn = [layer for layer in style["layers"] if layer["type"] != "background"]
    assert drawn, f"the style of {collection_id} draws nothing"
    for name, source in style["sources"].items():
        tilejson = client.get(_local(source["url"]))
        assert tilejson.status_code == 200, source["url"]
        vector_layers = {v["id"]: v for v in tilejson.json()["vector_layers"]}
        assert tilejson.json()["tiles"], source["url"]
        for layer in (lay for lay in drawn if lay["source"] == name):
            assert layer["source-layer"] in vector_layers, (layer["id"], list(vector_layers))
            fields = set(vector_layers[layer["source-layer"]]["fields"])
            reads = _read_properties(layer.get("filter")) | _read_properties(
                list(layer.get("paint", {}).values()) + list(layer.get("layout", {}).values())
            )
            assert reads <= fields, (layer["id"], reads - fields)
    assert {layer["source"] for layer in drawn} <= set(style["sources"])

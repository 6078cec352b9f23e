"""GIS clients read what Irbis serves: GDAL's OGC API Features driver (through pyogrio).

GDAL holds the interpreter lock while it fetches, so it runs in a child process here while
the test server answers in this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import count

pytestmark = pytest.mark.cleaned_up  # its servers commit

SCRIPT = """
import json, sys
import pyogrio
url, layer, bbox = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if layer == "-":
    print(json.dumps([str(n) for n, _ in pyogrio.list_layers(url)]))
else:
    gdf = pyogrio.read_dataframe(url, layer=layer, bbox=tuple(bbox) if bbox else None)
    print(json.dumps({
        "n": len(gdf), "columns": list(gdf.columns), "crs": gdf.crs.to_string() if gdf.crs else None,
        "null_geoms": int(gdf.geometry.isna().sum()), "bounds": list(map(float, gdf.total_bounds)),
        "names": sorted(map(str, gdf["name"])) if "name" in gdf else [],
    }))
"""


def gdal(url: str, layer: str = "-", bbox: tuple[float, ...] | None = None) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"OAPIF:{url}/", layer, json.dumps(bbox)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_gdal_lists_the_collections(live_server: str) -> None:
    from layers.registry import layer_ids

    assert set(layer_ids()) <= set(gdal(live_server))


@pytest.mark.parametrize("layer", ["places", "protected_areas", "rivers", "field_sites"])
def test_gdal_reads_every_feature_with_its_attributes(live_server: str, engine, layer: str) -> None:  # type: ignore[no-untyped-def]
    got = gdal(live_server, layer)
    assert got["n"] == count(engine, layer)
    assert {"name", "source", "licence", "method"} <= set(got["columns"])
    assert got["crs"] in ("OGC:CRS84", "EPSG:4326") and got["null_geoms"] == 0


def test_gdal_reads_a_bbox(live_server: str) -> None:
    got = gdal(live_server, "places", (76, 43, 78, 44))
    minx, miny, maxx, maxy = got["bounds"]
    assert got["n"] > 0 and minx >= 76 and maxx <= 78 and miny >= 43 and maxy <= 44
    assert "Almaty" in got["names"]

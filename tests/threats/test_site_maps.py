"""Site-scale maps (a threat's page, the report form, a report's page) show where the site is:
the finest relief (shaded, hillshade as the other base), rivers, lakes, glaciers, districts and
settlements from Irbis's own vector tiles, each from a zoom where it helps, with labels, scale
and coordinate readout in the page's language; nothing is asked of another server."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
from PIL import Image

import morecantile

from layers.maps import external_urls
from layers.threats import SITE_CONTEXT
from tests.threats.conftest import Session

TOOLS = re.compile(r"Irbis\.tools\(\w+, (\{.*?\})\);", re.S)
VECTOR = re.compile(
    r'L\.vectorGrid\.protobuf\("(/collections/(\w+)/tiles/[^"]+)", \{(.*?)\}\);', re.S
)
TILE_LAYER = re.compile(r'L\.tileLayer\(\s*("[^"]+")', re.S)
#: Where the demo's settlements meet Kok-Jailau: Almaty's southern edge, at zoom 11.
ALMATY = (76.80, 43.10, 77.05, 43.30)


def _page(client: Any, path: str, lang: str = "en") -> str:
    r = client.get(path, headers={"Accept-Language": lang, "Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    return str(r.text)


def _context_layers(html: str) -> dict[str, tuple[str, int]]:
    """Each vector tile layer of the page: its tile URL and the zoom it is drawn from."""
    out = {}
    for url, layer, options in VECTOR.findall(html):
        zoom = re.search(r"minZoom: (\d+)", options)
        assert zoom, options
        out[layer] = (url, int(zoom.group(1)))
    return out


def _assert_site_context(html: str, lang: str) -> None:
    layers = _context_layers(html)
    for layer, zoom in SITE_CONTEXT:
        assert layer in layers, f"no {layer} on the map"
        url, min_zoom = layers[layer]
        assert min_zoom == zoom
        assert re.search(r"\?v=[\w-]+$", url), f"{layer}'s tiles carry no data version: {url}"
    urls = [json.loads(u) for u in TILE_LAYER.findall(html)]
    reliefs = [u for u in urls if u.startswith("/rasters/relief/")]
    assert {re.sub(r"&v=.*", "", u).split("style=")[1] for u in reliefs} == {"shaded", "hillshade"}
    assert all(re.search(r"&v=[\w-]+$", u) for u in reliefs), reliefs
    tools = TOOLS.search(html)
    assert tools, "the map has no labels, scale or readout"
    config = json.loads(tools.group(1))
    assert config["lang"] == lang and config["labels"] == "/labels"
    assert "/static/irbis-map.js" in html
    assert not external_urls(html)


def test_threat_page_shows_the_site_in_context(client: Any, kok_jailau: int) -> None:
    _assert_site_context(_page(client, f"/threats/{kok_jailau}"), "en")


def test_threat_page_speaks_kazakh_and_russian(client: Any, kok_jailau: int) -> None:
    kk = _page(client, f"/threats/{kok_jailau}", "kk")
    _assert_site_context(kk, "kk")
    texts = json.loads(TOOLS.search(kk).group(1))["texts"]  # type: ignore[union-attr]
    assert texts["legend"] != "Legend"  # the map scripts' words in Kazakh
    ru = _page(client, f"/threats/{kok_jailau}", "ru")
    # the base layers in the switcher, as the page's script spells them (JSON strings)
    assert json.dumps("Отмывка рельефа") in ru and json.dumps("Только отмывка") in ru


def test_report_form_shows_the_site_in_context(as_user: Any, kok_jailau: int) -> None:
    advocate: Session = as_user("advocate")
    form = advocate.get("/reports/new", headers={"Accept-Language": "ru"})
    assert form.status_code == 200
    _assert_site_context(form.text, "ru")
    assert "L.Control.Draw" in form.text  # the drawing tools are still there


@pytest.mark.parametrize(("lang", "column"), [("kk", "name_kk"), ("ru", "name_ru")])
def test_settlements_at_site_zoom_with_names_in_the_page_language(
    client: Any, lang: str, column: str
) -> None:
    """What the map asks for at site zoom answers: settlements' tiles and their labels."""
    zoom = dict(SITE_CONTEXT)["settlements"] + 2
    tms = morecantile.tms.get("WebMercatorQuad")
    lon, lat = (ALMATY[0] + ALMATY[2]) / 2, (ALMATY[1] + ALMATY[3]) / 2
    tile = tms.tile(lon, lat, zoom)
    r = client.get(f"/collections/settlements/tiles/WebMercatorQuad/{zoom}/{tile.y}/{tile.x}")
    assert r.status_code == 200
    features = mapbox_vector_tile.decode(r.content)["settlements"]["features"]
    tiled = {f["properties"].get(column) for f in features} - {None}
    assert tiled, "no settlement with a name in the tile"
    labels = client.get(
        "/labels",
        params={"bbox": ",".join(map(str, ALMATY)), "zoom": zoom},
        headers={"Accept-Language": lang},
    ).json()["labels"]
    named = {lab["name"] for lab in labels if lab["kind"] == "settlement"}
    assert named & tiled, f"no settlement labelled in {lang}"


def test_upload_preview_shows_the_site_in_context(tx_login_as: Any) -> None:
    """The upload page hands its map the same context as the threat pages."""
    c = tx_login_as("grantee", grants=["SOS-CA-EX-08"])
    html = c.get("/sites/upload", headers={"Accept-Language": "kk"}).text
    data = re.search(r'<script id="site-map-data" type="application/json">(.*?)</script>', html)
    assert data, "the upload page's map has no context"
    site = json.loads(data.group(1))
    assert [(c["layer"]["id"], c["minZoom"]) for c in site["context"]] == list(SITE_CONTEXT)
    assert all(re.search(r"\?v=[\w-]+$", c["url"]) for c in site["context"])
    assert re.search(r"style=shaded&v=[\w-]+$", site["relief"])
    assert re.search(r"style=hillshade&v=[\w-]+$", site["hillshade"])
    assert site["tools"]["lang"] == "kk" and site["tools"]["labels"] == "/labels"
    assert site["names"]["relief"] == "Бедердің көлеңкелі бейнесі"
    for script in ("Leaflet.VectorGrid.bundled.min.js", "/static/irbis-map.js"):
        assert script in html


def test_relief_at_site_zoom_is_smooth_not_blocky(client: Any) -> None:
    """At zoom 13 a GEBCO 15" cell (about 340 m there) spans some 18 pixels: the hillshade
    of the served tile changes smoothly from pixel to pixel (bilinear resampling made a step
    of 34 at every cell edge: blocks)."""
    tile = morecantile.tms.get("WebMercatorQuad").tile(77.0, 43.1, 13)
    r = client.get(
        f"/rasters/relief/tiles/WebMercatorQuad/13/{tile.y}/{tile.x}.png",
        params={"style": "hillshade"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    shade = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3].astype(int)
    assert shade.std() > 2, "no relief drawn"
    steps = np.abs(np.diff(shade, axis=1))
    assert steps.max() <= 12, f"the hillshade changes in steps of up to {steps.max()}"

"""Exported dossiers (HTML and PDF) carry a basemap rendered on the server: one PNG of relief,
water, settlements and the footprint, with scale, north arrow and attribution. Read back as a
reader (or an attacker) would: the image and the PDF say nothing but the map, the image shows
nothing more precise than the public layers, and the PDF prints no map controls."""

from __future__ import annotations

import base64
import io
import re
import socket
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text

import shapely
from pyproj import Transformer

from api.settings import Settings
from layers import static_map
from layers.threats import published_threat

IMG = re.compile(r'<figure class="static-map">\s*<img src="data:image/png;base64,([^"]+)"')
TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def _footprint_pixels(png: bytes) -> np.ndarray:
    """Rows and columns of the pixels drawn in the footprint's red (nothing else is red)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.argwhere((r > 150) & (r - g > 70) & (r - b > 70))


def test_html_export_carries_the_basemap_image(client: Any, engine: Any, kok_jailau: int) -> None:
    html = client.get(f"/threats/{kok_jailau}/dossier.html").text
    m = IMG.search(html)
    assert m, "the exported dossier has no basemap image"
    png = base64.b64decode(m.group(1))
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG" and im.size == (1200, 800)
    # no text chunks at all (software, author, comment, place): only the pixel density
    assert set(im.info) <= {"dpi"}, im.info
    assert not getattr(im, "text", {})
    caption = html[m.end() : html.index("</figure>", m.end())]
    for credit in ("GEBCO", "Natural Earth", "OpenStreetMap", "ODbL", "no road data"):
        assert credit in caption
    # where the footprint is drawn: inside the public footprint's box in the image
    with engine.connect() as conn:
        footprint = published_threat(conn, kok_jailau)["geom"]
    frame = static_map.frame_around(footprint)
    (x0, x1), (y0, y1) = (
        sorted(v)
        for v in TO_MERCATOR.transform(
            [footprint.bounds[0], footprint.bounds[2]], [footprint.bounds[1], footprint.bounds[3]]
        )
    )
    cols = (np.array([x0, x1]) - frame.xmin) / (frame.xmax - frame.xmin) * frame.width
    rows = (frame.ymax - np.array([y1, y0])) / (frame.ymax - frame.ymin) * frame.height
    red = _footprint_pixels(png)
    assert len(red) > 500, "the footprint is not drawn"
    margin = 3  # the outline's half width
    assert red[:, 1].min() >= cols[0] - margin and red[:, 1].max() <= cols[1] + margin
    assert red[:, 0].min() >= rows[0] - margin and red[:, 0].max() <= rows[1] + margin
    # a site's map: the footprint and its surroundings, a few kilometres to a few tens
    assert 10_000 < frame.metres_per_pixel * frame.width < 80_000


def test_basemap_draws_nothing_the_public_does_not_see(db_tx: Any, kok_jailau: int) -> None:
    """A sensitive species' precise sighting and an unpublished threat inside the frame change
    not one pixel; a layer that generalises locations cannot be drawn at all."""
    data_dir = Settings().data_dir
    with db_tx.reader_engine.connect() as conn:
        footprint = published_threat(conn, kok_jailau)["geom"]
        before, frame = static_map.render(conn, footprint, data_dir=data_dir, width=360, height=240)
    near = shapely.Point(footprint.centroid.x + 0.01, footprint.centroid.y + 0.005)
    with db_tx.engine.begin() as conn:
        species = conn.execute(text("SELECT id FROM species WHERE sensitive LIMIT 1")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO occurrences (species_id, geom, source, licence, method) VALUES"
                " (:s, ST_SetSRID(ST_GeomFromText(:g), 4326), 'field team', 'CC0', 'observed')"
            ),
            {"s": species, "g": near.wkt},
        )
        conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                " source, licence, method) SELECT 'Zqx hidden', kind, status, links, properties,"
                " false, ST_Buffer(ST_SetSRID(ST_GeomFromText(:g), 4326), 0.01), source,"
                " licence, method FROM threats LIMIT 1"
            ),
            {"g": near.wkt},
        )
    with db_tx.reader_engine.connect() as conn:
        after, _ = static_map.render(conn, footprint, data_dir=data_dir, width=360, height=240)
        with pytest.raises(ValueError, match="generalises locations"):
            static_map.public_shapes(conn, "occurrences", frame)
    assert after == before


def test_pdf_prints_the_basemap_without_controls_or_metadata(client: Any, kok_jailau: int) -> None:
    r = client.get(f"/threats/{kok_jailau}/dossier.pdf")
    assert r.status_code == 200
    reader = PdfReader(io.BytesIO(r.content))
    # the title only: no creator or producer (the server's browser), no XMP packet
    assert set(reader.metadata or {}) <= {"/Title"}, reader.metadata
    assert reader.xmp_metadata is None
    assert b"HeadlessChrome" not in r.content and b"Skia" not in r.content
    sizes = [img.image.size for page in reader.pages for img in page.images if img.image]
    assert any(w >= 1000 and abs(w / h - 1.5) < 0.01 for w, h in sizes), sizes
    words = "\n".join(page.extract_text() for page in reader.pages)
    # Leaflet's attribution, zoom buttons and layer switcher are not on paper
    assert "Leaflet" not in words and "Zoom in" not in words
    assert not re.search(r"^\s*[+−]\s*$", words, re.M)
    # nothing about the server: its name, its files
    said = words + " ".join(str(v) for v in (reader.metadata or {}).values())
    assert socket.gethostname() not in said.split() and str(Settings().var_dir) not in said


def test_a_rivers_name_is_turned_along_it() -> None:
    """As on the web maps, a river's name lies along the river (its label's ``angle``,
    clockwise on the map), centred on its point; other names stay level, right of theirs."""
    from types import SimpleNamespace

    frame = static_map.frame_around(shapely.box(76.8, 43.0, 77.2, 43.3))
    river = SimpleNamespace(name="Или", kind="river", lon=77.0, lat=43.15, angle=60.0)
    town = SimpleNamespace(name="Или", kind="settlement", lon=77.0, lat=43.15, angle=None)
    r = static_map._place(river, frame, 11.0)
    t = static_map._place(town, frame, 11.0)
    assert (r.rotation, r.ha) == (-60.0, "center")  # matplotlib turns counter-clockwise
    assert (t.rotation, t.ha) == (0.0, "left")
    col, line = frame.pixel(*TO_MERCATOR.transform(77.0, 43.15))
    assert abs((r.box[0] + r.box[2]) / 2 - col) < 1e-6
    assert abs((r.box[1] + r.box[3]) / 2 - line) < 1e-6
    # the turned name's box is taller than the level one (it is skipped where it would overlap)
    assert r.box[3] - r.box[1] > t.box[3] - t.box[1]

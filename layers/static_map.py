"""A site's map as one image rendered on the server, for documents that make no request (the
exported dossiers, HTML and PDF).

The image is drawn in Web Mercator around a footprint: Irbis's relief (the finest registered
DEM at each place, shaded; GEBCO 15" where it covers), then districts, protected areas,
glaciers, lakes, rivers, the footprint, places and settlements, and their names in the
reader's language (:func:`layers.labels.label_query`), with a scale bar, a north arrow and the
data's attribution. Every layer is read as the public sees it (``LayerSQL.where_public``), and
a layer whose locations are generalised for the public (a :class:`~layers.spec.Sensitivity`)
is never drawn: nothing in the image is more precise than the public layers. Irbis has no road
data, so no roads are drawn. The PNG carries no text chunks (no software, no author, no place).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke
from sqlalchemy import Connection, Float, bindparam, column, func, select, table

import geopandas as gpd
import shapely
from pyproj import Transformer
from rasterio.transform import from_bounds
from shapely.geometry.base import BaseGeometry

from layers.labels import label_query
from layers.rastertiles import RasterSource, style_shaded, warp
from layers.registry import get_layer
from layers.sql import GEOMETRY, LayerSQL

MERCATOR = "EPSG:3857"
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", MERCATOR, always_xy=True)
_TO_LONLAT = Transformer.from_crs(MERCATOR, "EPSG:4326", always_xy=True)
#: Web Mercator's width of the world in metres (zoom 0 is one 256-pixel tile of it).
WORLD_M = 2 * math.pi * 6378137.0

#: Colours of the footprint (the one red of the image: nothing else is drawn in it).
FOOTPRINT_EDGE = "#c62828"
FOOTPRINT_FILL = "#ef5350"
ATTRIBUTION = (
    "Relief: GEBCO 2023 Grid; Mapzen terrain (SRTM, GMTED2010, ETOPO1). Rivers, lakes, "
    "glaciers, places: Natural Earth (public domain). Settlements © OpenStreetMap "
    "contributors (ODbL). Districts: geokz (CC BY 4.0). No road data. Irbis."
)

#: What is drawn, bottom to top: registry layer and its matplotlib style.
LAYERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("districts", {"facecolor": "none", "edgecolor": "#6d6358", "linewidth": 0.7, "ls": "--"}),
    (
        "protected_areas",
        {"facecolor": "#66bb6a", "edgecolor": "#2e7d32", "linewidth": 1.0, "alpha": 0.25},
    ),
    ("glaciers", {"facecolor": "#eef8ff", "edgecolor": "#7fb8d8", "linewidth": 0.5}),
    ("lakes", {"facecolor": "#a9d3f0", "edgecolor": "#4a90c2", "linewidth": 0.5}),
    ("rivers", {"color": "#3d7fb5", "linewidth": 1.1}),
)
#: Point layers drawn above the footprint: marker size by layer.
POINTS: tuple[tuple[str, float], ...] = (("places", 22.0), ("settlements", 9.0))


@dataclass(frozen=True)
class Frame:
    """The image's extent in Web Mercator metres and its size in pixels."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    width: int
    height: int

    @property
    def lonlat(self) -> tuple[float, float, float, float]:
        """West, south, east, north in WGS 84."""
        w, s = _TO_LONLAT.transform(self.xmin, self.ymin)
        e, n = _TO_LONLAT.transform(self.xmax, self.ymax)
        return float(w), float(s), float(e), float(n)

    @property
    def metres_per_pixel(self) -> float:
        """Ground metres per pixel at the frame's centre (Mercator's scale corrected)."""
        lat = math.radians((self.lonlat[1] + self.lonlat[3]) / 2)
        return (self.xmax - self.xmin) / self.width * math.cos(lat)

    @property
    def zoom(self) -> int:
        """The web map zoom of the same scale (what labels are chosen for)."""
        z = math.log2(WORLD_M * self.width / (256 * (self.xmax - self.xmin)))
        return max(0, min(18, math.floor(z)))

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        """Column and row of a Web Mercator point in the image."""
        col = (x - self.xmin) / (self.xmax - self.xmin) * self.width
        row = (self.ymax - y) / (self.ymax - self.ymin) * self.height
        return col, row


def frame_around(
    footprint: BaseGeometry,
    *,
    width: int = 1200,
    height: int = 800,
    pad: float = 1.0,
    min_half_m: float = 6000.0,
) -> Frame:
    """A frame of ``width`` x ``height`` pixels centred on ``footprint``, with ``pad`` of its
    size around it and at least ``min_half_m`` metres (at the ground) each side of its centre
    (a point or a small area is shown with its surroundings)."""
    minx, miny, maxx, maxy = footprint.bounds
    x0, y0 = _TO_MERCATOR.transform(minx, miny)
    x1, y1 = _TO_MERCATOR.transform(maxx, maxy)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    stretch = 1 / math.cos(math.radians((miny + maxy) / 2))  # Mercator metres per ground metre
    half_w = max((x1 - x0) * (0.5 + pad), min_half_m * stretch)
    half_h = max((y1 - y0) * (0.5 + pad), min_half_m * stretch)
    # the frame's shape is the image's
    if half_w / half_h < width / height:
        half_w = half_h * width / height
    else:
        half_h = half_w * height / width
    return Frame(cx - half_w, cy - half_h, cx + half_w, cy + half_h, width, height)


_rasters = table(
    "rasters",
    column("name"),
    column("kind"),
    column("path"),
    column("nodata"),
    column("properties"),
    column("resolution"),
    column("geom"),
)


def relief_sources(conn: Connection, data_dir: Path, frame: Frame) -> list[RasterSource]:
    """The registered DEMs that meet the frame, coarse first and finest last (finer data is
    painted over coarser, as in the relief tiles); those under a finer DEM that covers the
    whole frame are left out."""
    w, s, e, n = frame.lonlat
    envelope = func.ST_MakeEnvelope(
        bindparam("w", w), bindparam("s", s), bindparam("e", e), bindparam("n", n), 4326
    )
    r = _rasters
    rows = conn.execute(
        select(
            r.c.name,
            r.c.kind,
            r.c.path,
            r.c.nodata,
            r.c.properties,
            r.c.resolution,
            func.ST_Covers(r.c.geom, envelope).label("covers"),
        ).where(r.c.kind == "dem", func.ST_Intersects(r.c.geom, envelope))
    ).all()
    rows = sorted(rows, key=lambda row: (-(row.resolution[0] if row.resolution else 0), row.name))
    covering = [i for i, row in enumerate(rows) if row.covers]
    if covering:  # what a finer DEM covers entirely would be painted over: not read at all
        rows = rows[covering[-1] :]
    out = []
    for row in rows:
        p = Path(row.path)
        out.append(
            RasterSource(
                name=row.name,
                path=p if p.is_absolute() else data_dir / p,
                kind=row.kind,
                nodata=row.nodata,
                properties=dict(row.properties or {}),
            )
        )
    return out


def read_relief(sources: Sequence[RasterSource], frame: Frame) -> np.ndarray:
    """Elevations on the frame's pixels (NaN where no DEM covers), cubic so that the relief
    of a coarse DEM seen up close is smooth rather than blocky."""
    transform = from_bounds(
        frame.xmin, frame.ymin, frame.xmax, frame.ymax, frame.width, frame.height
    )
    present = [src for src in sources if src.path.is_file()]
    return warp(present, transform, MERCATOR, (frame.height, frame.width))


def _envelope(frame: Frame) -> Any:
    w, s, e, n = frame.lonlat
    return func.ST_MakeEnvelope(
        bindparam("w", w, Float),
        bindparam("s", s, Float),
        bindparam("e", e, Float),
        bindparam("n", n, Float),
        4326,
        type_=GEOMETRY,
    )


def public_shapes(conn: Connection, layer_id: str, frame: Frame) -> gpd.GeoSeries:
    """The shapes of a layer in the frame as the public sees them, in Web Mercator.

    Raises
    ------
    ValueError
        If the layer generalises locations for the public (it is never drawn here).
    """
    spec = get_layer(layer_id)
    if spec.sensitivity is not None:
        raise ValueError(f"layer {layer_id!r} generalises locations: it is never drawn")
    view = LayerSQL(spec, privileged=False)
    envelope = _envelope(frame)
    clipped = func.ST_Intersection(func.ST_MakeValid(view.raw_geom), envelope)
    rows = conn.execute(
        select(func.ST_AsBinary(func.ST_Transform(clipped, 3857)).label("wkb"))
        .select_from(view.from_clause())
        .where(*view.where_public(), view.raw_geom.op("&&")(envelope))
    ).all()
    geoms = [shapely.from_wkb(bytes(r.wkb)) for r in rows if r.wkb is not None]
    return gpd.GeoSeries([g for g in geoms if not g.is_empty], crs=MERCATOR)


def _nice(metres: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``metres``."""
    k = 10 ** math.floor(math.log10(metres))
    return max(n * k for n in (1, 2, 5) if n * k <= metres)


def _scale_bar(ax: Axes, frame: Frame) -> None:
    length_m = _nice(frame.metres_per_pixel * frame.width / 5)
    length = length_m / frame.metres_per_pixel / frame.width  # as a share of the width
    x0, y0 = 0.03, 0.04
    halo = [withStroke(linewidth=3, foreground="white")]
    for i, colour in enumerate(("#222222", "#ffffff")):
        ax.add_patch(_rect((x0 + i * length / 2, y0), length / 2, 0.012, colour, ax.transAxes))
    text = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(
        x0 + length / 2,
        y0 + 0.02,
        text,
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=11,
        path_effects=halo,
    )


def _rect(xy: tuple[float, float], w: float, h: float, colour: str, transform: Any) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(
        xy, w, h, facecolor=colour, edgecolor="#222222", linewidth=0.6, transform=transform
    )


def _north_arrow(ax: Axes) -> None:
    """Web Mercator's north is straight up."""
    halo = [withStroke(linewidth=3, foreground="white")]
    ax.annotate(
        "N",
        xy=(0.96, 0.95),
        xytext=(0.96, 0.86),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=14,
        fontweight="bold",
        path_effects=halo,
        arrowprops={"arrowstyle": "-|>", "color": "#222222", "linewidth": 1.5},
    )


@dataclass(frozen=True)
class _Placed:
    """Where a label goes: its anchor in map units, how it is aligned and turned, and the box it
    takes in pixels (for skipping labels that would overlap)."""

    x: float
    y: float
    ha: str
    rotation: float
    box: tuple[float, float, float, float]


def _place(row: Any, frame: Frame, size: float) -> _Placed:
    """A river's name centred on its point and turned along it (``row.angle``, degrees clockwise
    on the map, as the web maps draw it); any other name just right of its point, level."""
    x, y = _TO_MERCATOR.transform(float(row.lon), float(row.lat))
    col, line = frame.pixel(x, y)
    # the text's size in pixels (the figure is drawn at 100 dpi: a point is 100/72 pixels)
    w, h = len(row.name) * size * 0.62 * 100 / 72, size * 1.4 * 100 / 72
    angle = getattr(row, "angle", None)
    if angle is None:
        return _Placed(x, y, "left", 0.0, (col + 4, line - h / 2, col + 4 + w, line + h / 2))
    a = math.radians(float(angle))
    bw = abs(w * math.cos(a)) + abs(h * math.sin(a))
    bh = abs(w * math.sin(a)) + abs(h * math.cos(a))
    box = (col - bw / 2, line - bh / 2, col + bw / 2, line + bh / 2)
    return _Placed(x, y, "center", -float(angle), box)


def _labels(ax: Axes, conn: Connection, frame: Frame, lang: str, limit: int = 60) -> None:
    """Names in ``lang``, most important first, a name that would overlap one drawn skipped;
    rivers' names along their lines."""
    w, s, e, n = frame.lonlat
    rows = conn.execute(label_query((w, s, e, n), frame.zoom, lang, limit=limit)).all()
    taken: list[tuple[float, float, float, float]] = []
    halo = [withStroke(linewidth=2.5, foreground="white")]
    for row in rows:
        size = 12.0 if row.kind in ("settlement", "place") else 11.0
        placed = _place(row, frame, size)
        box = placed.box
        if box[0] < 0 or box[2] > frame.width or box[1] < 0 or box[3] > frame.height:
            continue
        if any(
            not (b[2] < box[0] or box[2] < b[0] or b[3] < box[1] or box[3] < b[1]) for b in taken
        ):
            continue
        taken.append(box)
        italic = ("lake", "river", "range", "region", "protected_area")
        colour = {
            "lake": "#1f5f8b",
            "river": "#1f5f8b",
            "protected_area": "#1b5e20",
            "peak": "#5d3a1a",
        }.get(row.kind, "#1a1a1a")
        ax.text(
            placed.x,
            placed.y,
            row.name if placed.ha == "center" else " " + row.name,
            fontsize=size,
            style="italic" if row.kind in italic else "normal",
            color=colour,
            va="center",
            ha=placed.ha,
            rotation=placed.rotation,
            rotation_mode="anchor",
            path_effects=halo,
            clip_on=True,
        )


def render(
    conn: Connection,
    footprint: BaseGeometry,
    *,
    data_dir: Path,
    lang: str = "en",
    width: int = 1200,
    height: int = 800,
) -> tuple[bytes, Frame]:
    """The map around ``footprint`` as a PNG (no metadata), and its frame."""
    frame = frame_around(footprint, width=width, height=height)
    # no canvas until it is saved: plotting draws nothing in between (Agg draws once)
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="#e9ecef")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(frame.xmin, frame.xmax)
    ax.set_ylim(frame.ymin, frame.ymax)
    ax.set_facecolor("#e9ecef")
    elevation = read_relief(relief_sources(conn, data_dir, frame), frame)
    if np.isfinite(elevation).any():
        mpp = frame.metres_per_pixel
        ax.imshow(
            style_shaded(elevation, dx=mpp, dy=mpp),
            extent=(frame.xmin, frame.xmax, frame.ymin, frame.ymax),
            origin="upper",
            interpolation="nearest",  # one pixel of the array to one of the image
            zorder=0,
        )
    for layer_id, style in LAYERS:
        shapes = public_shapes(conn, layer_id, frame)
        if not shapes.empty:
            shapes.plot(ax=ax, zorder=1, **style)
    mine = gpd.GeoSeries([footprint], crs="EPSG:4326").to_crs(MERCATOR)
    if footprint.geom_type in ("Point", "MultiPoint"):
        mine.plot(ax=ax, zorder=3, color=FOOTPRINT_FILL, edgecolor=FOOTPRINT_EDGE, markersize=80)
    elif footprint.geom_type in ("LineString", "MultiLineString"):
        mine.plot(ax=ax, zorder=3, color=FOOTPRINT_EDGE, linewidth=3)
    else:
        mine.plot(
            ax=ax,
            zorder=3,
            facecolor=FOOTPRINT_FILL,
            edgecolor=FOOTPRINT_EDGE,
            linewidth=2,
            alpha=0.55,
        )
        mine.boundary.plot(ax=ax, zorder=3, color=FOOTPRINT_EDGE, linewidth=2)
    for layer_id, size in POINTS:
        points = public_shapes(conn, layer_id, frame)
        if not points.empty:
            points.plot(
                ax=ax, zorder=4, markersize=size, color="white", edgecolor="#222222", linewidth=0.8
            )
    _labels(ax, conn, frame, lang)
    ax.set_xlim(frame.xmin, frame.xmax)  # plotting may have widened them
    ax.set_ylim(frame.ymin, frame.ymax)
    _scale_bar(ax, frame)
    _north_arrow(ax)
    ax.text(
        0.995,
        0.005,
        ATTRIBUTION,
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7.5,
        color="#333333",
        bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.5},
    )
    out = io.BytesIO()
    # no "Software" text chunk (matplotlib's default): the image says nothing but the map
    fig.savefig(
        out, format="png", dpi=100, metadata={"Software": None}, pil_kwargs={"compress_level": 3}
    )
    return out.getvalue(), frame

"""A corpus of hostile and broken upload files, each with the outcome it must get.

Every :class:`Case` builds its file's bytes (fresh geometry on each call, so a stored case never
collides with an earlier run's sites) and says what the API must answer to a dry run and to a
commit: a status and a phrase the body must contain (the refusal names the actual problem; a
stored file's report says what was done). ``tests/uploads/test_corpus.py`` runs them all
through the API with the limits of :data:`LIMITS`.

Classes covered: non-finite and out-of-range coordinates, unparsable and degenerate geometry,
repairs (harmless and drastic), geometry types, CRSs (projected with .prj, missing .prj,
undefined GeoPackage SRS, Web Mercator, swapped axes), CSV (WKT, lon/lat, vertices, text
coordinates, UTF-16, BOM), encodings of Shapefile attributes, archives (zip slip, zip bomb,
nested zip, symbolic link, missing parts), XML entities (XXE, billion laughs), sizes (vertex
and feature limits exactly and one over, huge attributes and numbers), the country border
rule, and mislabelled or empty files.
"""

from __future__ import annotations

import codecs
import io
import json
import random
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import Polygon, box

from .conftest import site_gdf

#: Upload limits of the app the corpus runs against (small, so size cases stay small).
#: The attribute limit is below the length of the coordinates of a polygon at the vertex limit
#: on one line, so a long geometry is never taken for a long attribute.
LIMITS = {"max_vertices": 400, "max_features": 6, "max_attribute_chars": 5_000}

#: A refusal: the status of the dry run and of the commit (the same unless the dry run reports
#: per-feature errors with a 200).
STORED = (200, 201)
FEATURE_ERROR = (200, 400)
BAD_FILE = (400, 400)
TOO_LARGE = (413, 413)


@dataclass
class Context:
    """What a builder may use: the programme countries as one lon/lat geometry."""

    countries: shapely.Geometry


@dataclass(frozen=True)
class Case:
    id: str
    filename: str
    build: Callable[[Context], bytes]
    statuses: tuple[int, int]
    phrase: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def stored(self) -> bool:
        return self.statuses == STORED


# ---- builders ----------------------------------------------------------------------------


def _place() -> tuple[float, float]:
    g = site_gdf(1)
    c = g.geometry.iloc[0].centroid
    return float(c.x), float(c.y)


def _ring(x: float, y: float, d: float = 0.02) -> list[list[float]]:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def _feature(geometry: Any, **props: Any) -> dict[str, Any]:
    name = f"site {random.getrandbits(32):08x}"
    return {"type": "Feature", "properties": {"name": name, **props}, "geometry": geometry}


def _fc(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _polygon_text(coords: str, extra: str = "") -> bytes:
    """GeoJSON written by hand (for tokens json.dumps will not write: NaN, 1e309...)."""
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"s '
        + f"{random.getrandbits(32):08x}"
        + '"'
        + extra
        + '},"geometry":{"type":"Polygon","coordinates":['
        + coords
        + "]}}]}"
    ).encode()


def _geojson(gdf: gpd.GeoDataFrame) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.geojson"
        pyogrio.write_dataframe(gdf, p, driver="GeoJSON")
        return p.read_bytes()


def _file(gdf: gpd.GeoDataFrame, driver: str, suffix: str, **kw: Any) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"x{suffix}"
        pyogrio.write_dataframe(gdf, p, driver=driver, **kw)
        return p.read_bytes()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _shapefile(
    gdf: gpd.GeoDataFrame,
    *,
    encoding: str | None = None,
    cpg: str | None = None,
    drop: tuple[str, ...] = (),
) -> bytes:
    """A zipped Shapefile; ``cpg`` replaces the .cpg (``""`` leaves none), ``drop`` omits parts."""
    with tempfile.TemporaryDirectory() as d:
        shp = Path(d) / "sites.shp"
        pyogrio.write_dataframe(gdf, shp, encoding=encoding)
        members = {}
        for p in sorted(Path(d).iterdir()):
            if p.suffix in drop or (p.suffix == ".cpg" and cpg is not None):
                continue
            members[p.name] = p.read_bytes()
        if cpg:
            members["sites.cpg"] = cpg.encode()
        return _zip(members)


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def _sites(n: int = 1, **kw: Any) -> gpd.GeoDataFrame:
    return site_gdf(n, **kw)


def _with_vertices(total: int) -> gpd.GeoDataFrame:
    """One polygon with exactly ``total`` coordinates (closing one included)."""
    x, y = _place()
    angles = np.linspace(0, 2 * np.pi, total - 1, endpoint=False)
    ring = np.column_stack([x + 0.02 * np.cos(angles), y + 0.02 * np.sin(angles)])
    g = gpd.GeoDataFrame({"name": [f"v{total} {x:.5f}"]}, geometry=[Polygon(ring)], crs=4326)
    assert int(shapely.get_num_coordinates(g.geometry.to_numpy()).sum()) == total
    return g


def _quarter_outside(ctx: Context) -> bytes:
    """A square on the eastern border of Kazakhstan with about 25 % of it in China."""
    y, d = 45.3, 0.1
    lo, hi = 78.0, 84.0
    for _ in range(40):  # bisection on the share outside
        x = (lo + hi) / 2
        sq = box(x, y, x + d, y + d)
        share = 1 - sq.intersection(ctx.countries).area / sq.area
        lo, hi = (x, hi) if share < 0.25 else (lo, x)
    assert 0.2 < share < 0.3, share
    return _fc(_feature(shapely.geometry.mapping(sq), name=f"border {x:.6f}"))


def _undefined_gpkg(srs_id: int) -> Callable[[Context], bytes]:
    def build(ctx: Context) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "x.gpkg"
            pyogrio.write_dataframe(_sites(), p, driver="GPKG")
            with sqlite3.connect(p) as c:
                c.execute("UPDATE gpkg_geometry_columns SET srs_id = ?", (srs_id,))
                c.execute("UPDATE gpkg_contents SET srs_id = ?", (srs_id,))
            return p.read_bytes()

    return build


def _kml(dtd: str, name: str) -> bytes:
    x, y = _place()
    coords = " ".join(f"{a},{b}" for a, b in _ring(x, y))
    return (
        f'<?xml version="1.0"?><!DOCTYPE kml [{dtd}]><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><Placemark><name>{name}</name><Polygon><outerBoundaryIs><LinearRing>"
        f"<coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
        "</Placemark></Document></kml>"
    ).encode()


LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol" * 10}">' for i in range(9))
XXE = '<!ENTITY x SYSTEM "file:///etc/passwd">'


def _symlink_zip(ctx: Context) -> bytes:
    info = zipfile.ZipInfo("sites.geojson")
    info.external_attr = 0o120777 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _vertices_csv(swapped: bool = False) -> bytes:
    g = _sites()
    poly = g.geometry.iloc[0]
    rows = ["site,seq,lon,lat"]
    for i, (a, b) in enumerate(poly.exterior.coords[:-1]):
        x, y = (b, a) if swapped else (a, b)
        rows.append(f"{g['name'].iloc[0]},{i + 1},{x},{y}")
    return _csv("\n".join(rows) + "\n")


def _wkt_csv(geom_wkt: str | None = None, *, bom: bool = False, encoding: str = "utf-8") -> bytes:
    g = _sites()
    wkt = geom_wkt or shapely.to_wkt(g.geometry.iloc[0], rounding_precision=-1)
    text = f'name,wkt\n{g["name"].iloc[0]},"{wkt}"\n'
    data = text.encode(encoding)
    if encoding == "utf-16":
        return data  # Python writes the byte order mark
    return (codecs.BOM_UTF8 if bom else b"") + data


def _swapped() -> gpd.GeoDataFrame:
    g = _sites()
    return g.set_geometry(shapely.transform(g.geometry.to_numpy(), lambda c: c[:, ::-1]))


def _named(names: list[str]) -> gpd.GeoDataFrame:
    return _sites(len(names), names=[f"{n} {random.randrange(10**9)}" for n in names])


def _spike(ctx: Context) -> bytes:
    x, y = _place()
    ring = [[x, y], [x + 0.02, y], [x + 0.02, y + 0.01], [x + 0.05, y + 0.01]]
    ring += [[x + 0.02, y + 0.01], [x + 0.02, y + 0.02], [x, y + 0.02], [x, y]]
    return _fc(_feature({"type": "Polygon", "coordinates": [ring]}))


def _bow_tie(ctx: Context) -> bytes:
    x, y = _place()
    ring = [[x, y], [x + 0.02, y + 0.02], [x + 0.02, y], [x, y + 0.02], [x, y]]
    return _fc(_feature({"type": "Polygon", "coordinates": [ring]}))


def _hole_larger_than_shell(ctx: Context) -> bytes:
    x, y = _place()
    shell = _ring(x, y, 0.04)
    hole = [[x - 0.05, y - 0.05], [x + 0.09, y - 0.05], [x + 0.09, y + 0.09], [x - 0.05, y + 0.09]]
    hole.append(hole[0])
    return _fc(_feature({"type": "Polygon", "coordinates": [shell, hole]}))


def _geojson_geometry(make: Callable[[float, float], dict[str, Any]]) -> Callable[[Context], bytes]:
    def build(ctx: Context) -> bytes:
        x, y = _place()
        return _fc(_feature(make(x, y)))

    return build


def _touching_rings(x: float, y: float) -> dict[str, Any]:
    hole = [[x, y + 0.01], [x + 0.01, y + 0.005], [x + 0.01, y + 0.015], [x, y + 0.01]]
    return {"type": "Polygon", "coordinates": [_ring(x, y), hole]}


def _overlapping_parts(x: float, y: float) -> dict[str, Any]:
    return {
        "type": "MultiPolygon",
        "coordinates": [[_ring(x, y)], [_ring(x + 0.019, y + 0.0005, 0.019)]],
    }


# ---- the cases -------------------------------------------------------------------------------


def _p(text: str, extra: str = "") -> Callable[[Context], bytes]:
    """A hand-written GeoJSON polygon at a fresh place: ``{x}``/``{y}`` in ``text``."""

    def build(ctx: Context) -> bytes:
        x, y = _place()
        return _polygon_text(text.format(x=x, y=y, x2=x + 0.02, y2=y + 0.02), extra)

    return build


CASES: list[Case] = [
    # coordinates
    Case(
        "nan",
        "s.geojson",
        _p("[[{x},{y}],[NaN,{y}],[{x2},{y2}],[{x},{y}]]"),
        FEATURE_ERROR,
        "not finite",
    ),
    Case(
        "infinity",
        "s.geojson",
        _p("[[{x},{y}],[Infinity,{y}],[{x2},{y2}],[{x},{y}]]"),
        FEATURE_ERROR,
        "not finite",
    ),
    Case(
        "1e308",
        "s.geojson",
        _p("[[{x},{y}],[1e308,{y}],[{x2},{y2}],[{x},{y}]]"),
        FEATURE_ERROR,
        "beyond ±180° longitude",
    ),
    Case(
        "1e309",
        "s.geojson",
        _p("[[{x},{y}],[1e309,{y}],[{x2},{y2}],[{x},{y}]]"),
        BAD_FILE,
        "out of range or malformed",
    ),
    Case(
        "latitude_over_90",
        "s.geojson",
        _p("[[{x},89.99],[{x2},89.99],[{x2},90.5],[{x},89.99]]"),
        FEATURE_ERROR,
        "±90° latitude",
    ),
    Case(
        "projected_metres_as_degrees",
        "s.geojson",
        _p("[[500000,5300000],[502000,5300000],[502000,5302000],[500000,5300000]]"),
        FEATURE_ERROR,
        "name their EPSG code",
    ),
    Case(
        "antimeridian",
        "s.geojson",
        _p("[[179.99,60],[-179.99,60],[-179.99,60.02],[179.99,60]]"),
        FEATURE_ERROR,
        "outside the region",
    ),
    Case(
        "text_coordinates",
        "s.geojson",
        _p('[["{x}","{y}"],["{x2}","{y}"],["{x2}","{y2}"],["{x}","{y}"]]'),
        BAD_FILE,
        "written as text",
    ),
    # unparsable and degenerate geometry
    Case(
        "unclosed_ring",
        "s.geojson",
        _p("[[{x},{y}],[{x2},{y}],[{x2},{y2}],[{x},{y2}]]"),
        FEATURE_ERROR,
        "not closed",
    ),
    Case(
        "three_positions",
        "s.geojson",
        _p("[[{x},{y}],[{x2},{y}],[{x},{y}]]"),
        FEATURE_ERROR,
        "no area",
    ),
    Case(
        "zero_area_collinear",
        "s.geojson",
        _p("[[{x},{y}],[{x2},{y}],[{x2},{y}],[{x},{y}]]"),
        FEATURE_ERROR,
        "no area",
    ),
    Case(
        "empty_geometry",
        "s.geojson",
        lambda ctx: _fc(_feature(None), _feature({"type": "Polygon", "coordinates": []})),
        FEATURE_ERROR,
        "has no geometry",
    ),
    # repairs
    Case("bow_tie", "s.geojson", _bow_tie, STORED, "repaired (Self-intersection)"),
    Case("spike", "s.geojson", _spike, STORED, "invalid geometry repaired"),
    Case(
        "overlapping_parts",
        "s.geojson",
        _geojson_geometry(_overlapping_parts),
        STORED,
        "invalid geometry repaired",
    ),
    Case(
        "hole_larger_than_shell",
        "s.geojson",
        _hole_larger_than_shell,
        FEATURE_ERROR,
        "changes its area from 0.0 ha to",
    ),
    Case(
        "hole_larger_than_shell_confirmed",
        "s.geojson",
        _hole_larger_than_shell,
        STORED,
        "repaired as confirmed",
        {"confirm_repairs": "true"},
    ),
    Case(
        "duplicate_points",
        "s.geojson",
        _geojson_geometry(
            lambda x, y: {
                "type": "Polygon",
                "coordinates": [[[x, y], [x, y], [x + 0.02, y], [x + 0.02, y + 0.02], [x, y]]],
            }
        ),
        STORED,
        "read as GeoJSON",
    ),
    Case(
        "rings_touching", "s.geojson", _geojson_geometry(_touching_rings), STORED, "read as GeoJSON"
    ),
    # geometry types and dimensions
    Case(
        "points",
        "s.geojson",
        _geojson_geometry(lambda x, y: {"type": "Point", "coordinates": [x, y]}),
        FEATURE_ERROR,
        "a point is not an area",
    ),
    Case(
        "lines",
        "s.geojson",
        _geojson_geometry(lambda x, y: {"type": "LineString", "coordinates": _ring(x, y)[:3]}),
        FEATURE_ERROR,
        "a line is not an area",
    ),
    Case(
        "geometry_collection",
        "s.geojson",
        _geojson_geometry(
            lambda x, y: {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "coordinates": [_ring(x, y)]},
                    {"type": "Point", "coordinates": [x, y]},
                ],
            }
        ),
        STORED,
        "points or lines mixed with the polygons were dropped",
    ),
    Case(
        "3d",
        "s.geojson",
        _geojson_geometry(
            lambda x, y: {"type": "Polygon", "coordinates": [[[*c, 2500.0] for c in _ring(x, y)]]}
        ),
        STORED,
        "Z/M values dropped",
    ),
    Case(
        "zm_wkt",
        "s.csv",
        lambda ctx: _wkt_csv(
            "POLYGON ZM ((" + ", ".join(f"{a} {b} 1 2" for a, b in _ring(*_place())) + "))"
        ),
        STORED,
        "Z/M values dropped",
    ),
    # CRSs
    Case(
        "utm_shapefile_with_prj",
        "s.zip",
        lambda ctx: _shapefile(_sites().to_crs(32642)),
        STORED,
        "reprojected from WGS 84 / UTM zone 42N",
    ),
    Case(
        "shapefile_without_prj",
        "s.zip",
        lambda ctx: _shapefile(_sites(), drop=(".prj",)),
        BAD_FILE,
        "no coordinate reference system",
    ),
    Case(
        "point_shapefile_without_prj",
        "s.zip",
        lambda ctx: _shapefile(_sites().set_geometry(_sites().centroid), drop=(".prj",)),
        FEATURE_ERROR,
        "a point is not an area",
    ),
    Case(
        "shapefile_without_prj_epsg_named",
        "s.zip",
        lambda ctx: _shapefile(_sites(), drop=(".prj",)),
        STORED,
        "EPSG:4326",
        {"epsg": 4326},
    ),
    Case(
        "web_mercator_gpkg",
        "s.gpkg",
        lambda ctx: _file(_sites().to_crs(3857), "GPKG", ".gpkg"),
        STORED,
        "Pseudo-Mercator",
    ),
    Case("gpkg_undefined_geographic", "s.gpkg", _undefined_gpkg(0), BAD_FILE, "undefined"),
    Case("gpkg_undefined_cartesian", "s.gpkg", _undefined_gpkg(-1), BAD_FILE, "undefined"),
    Case(
        "gpkg_undefined_epsg_named",
        "s.gpkg",
        _undefined_gpkg(0),
        STORED,
        "EPSG:4326 as named",
        {"epsg": 4326},
    ),
    Case(
        "swapped_lat_lon",
        "s.geojson",
        lambda ctx: _geojson(_swapped()),
        FEATURE_ERROR,
        "look swapped",
    ),
    Case(
        "swapped_lat_lon_fixed",
        "s.geojson",
        lambda ctx: _geojson(_swapped()),
        STORED,
        "swapped as asked",
        {"swap_xy": "true"},
    ),
    # CSV
    Case("csv_wkt", "s.csv", lambda ctx: _wkt_csv(), STORED, "read as WGS 84"),
    Case("csv_wkt_bom", "s.csv", lambda ctx: _wkt_csv(bom=True), STORED, "read as WGS 84"),
    Case(
        "csv_wkt_utf16",
        "s.csv",
        lambda ctx: _wkt_csv(encoding="utf-16"),
        STORED,
        "converted from UTF-16",
    ),
    Case(
        "csv_lonlat_points",
        "s.csv",
        lambda ctx: _csv("name,lon,lat\nA {0},{0},{1}\n".format(*_place())),
        FEATURE_ERROR,
        "a point is not an area",
    ),
    Case("csv_vertices", "s.csv", lambda ctx: _vertices_csv(), STORED, "built 1 polygon"),
    Case(
        "csv_vertices_swapped",
        "s.csv",
        lambda ctx: _vertices_csv(swapped=True),
        FEATURE_ERROR,
        "look swapped",
    ),
    Case(
        "csv_text_coordinates",
        "s.csv",
        lambda ctx: _csv("name,lon,lat\nA,70.5°,48.1°\nA,70.6°,48.1°\nA,70.6°,48.2°\n"),
        BAD_FILE,
        "not numbers",
    ),
    Case(
        "csv_not_utf8",
        "s.csv",
        lambda ctx: _csv("name,wkt\nУрочище,POLYGON((70 48,71 48,71 49,70 48))\n", "cp1251"),
        BAD_FILE,
        "not UTF-8",
    ),
    # encodings of Shapefile attributes
    Case(
        "dbf_cp1251_without_cpg",
        "s.zip",
        lambda ctx: _shapefile(_named(["Урочище"]), encoding="cp1251", cpg=""),
        STORED,
        "Урочище",
    ),
    Case(
        "dbf_cp1251_with_cpg",
        "s.zip",
        lambda ctx: _shapefile(_named(["Урочище"]), encoding="cp1251", cpg="1251"),
        STORED,
        "from sites.cpg",
    ),
    Case(
        "dbf_latin1_with_cpg",
        "s.zip",
        lambda ctx: _shapefile(_named(["Aïdarly"]), encoding="ISO-8859-1", cpg="ISO-8859-1"),
        STORED,
        "Aïdarly",
    ),
    # archives
    Case(
        "zip_slip",
        "s.zip",
        lambda ctx: _zip({"../../evil.geojson": _geojson(_sites())}),
        BAD_FILE,
        "outside the archive",
    ),
    Case(
        "zip_bomb",
        "s.zip",
        lambda ctx: _zip({"a.geojson": b"\0" * (20 * 1024 * 1024)}),
        TOO_LARGE,
        "zip bomb",
    ),
    Case(
        "nested_zip",
        "s.zip",
        lambda ctx: _zip({"inner.zip": _shapefile(_sites())}),
        BAD_FILE,
        "holds another archive",
    ),
    Case(
        "zip_without_shp",
        "s.zip",
        lambda ctx: _shapefile(_sites(), drop=(".shp",)),
        BAD_FILE,
        "no .shp",
    ),
    Case("zip_symlink", "s.zip", _symlink_zip, BAD_FILE, "symbolic link"),
    Case("zip_empty", "s.zip", lambda ctx: _zip({}), BAD_FILE, "holds no data set"),
    # XML
    Case("kml_xxe", "s.kml", lambda ctx: _kml(XXE, "&x;"), BAD_FILE, "entities"),
    Case("kml_billion_laughs", "s.kml", lambda ctx: _kml(LAUGHS, "&l8;"), BAD_FILE, "entities"),
    Case(
        "kmz_xxe",
        "s.kmz",
        lambda ctx: _zip({"doc.kml": _kml(XXE, "&x;")}),
        BAD_FILE,
        "entities",
    ),
    # sizes (limits are inclusive)
    Case(
        "vertices_at_limit",
        "s.geojson",
        lambda ctx: _geojson(_with_vertices(LIMITS["max_vertices"])),
        STORED,
        "read as GeoJSON",
    ),
    Case(
        "csv_wkt_at_vertex_limit",
        "s.csv",
        lambda ctx: _wkt_csv(
            shapely.to_wkt(_with_vertices(LIMITS["max_vertices"]).geometry.iloc[0])
        ),
        STORED,
        "read as WGS 84",
    ),
    Case(
        "vertices_over_limit",
        "s.geojson",
        lambda ctx: _geojson(_with_vertices(LIMITS["max_vertices"] + 1)),
        TOO_LARGE,
        f"{LIMITS['max_vertices'] + 1:,} vertices; at most {LIMITS['max_vertices']:,} per upload",
    ),
    Case(
        "features_at_limit",
        "s.geojson",
        lambda ctx: _geojson(_sites(LIMITS["max_features"], size_deg=0.005)),
        STORED,
        "read as GeoJSON",
    ),
    Case(
        "features_over_limit",
        "s.geojson",
        lambda ctx: _geojson(_sites(LIMITS["max_features"] + 1, size_deg=0.005)),
        TOO_LARGE,
        f"at most {LIMITS['max_features']:,} per upload",
    ),
    Case(
        "attribute_of_10_mb",
        "s.geojson",
        _p("[[{x},{y}],[{x2},{y}],[{x2},{y2}],[{x},{y}]]", ',"notes":"' + "a" * 10_000_000 + '"'),
        TOO_LARGE,
        "more than 5,000 characters",
    ),
    Case(
        "number_of_200000_digits",
        "s.geojson",
        _p("[[{x},{y}],[{x2},{y}],[{x2},{y2}],[{x},{y}]]", ',"n":' + "1" * 200_000),
        TOO_LARGE,
        "more than 5,000 characters",
    ),
    # the country rule
    Case(
        "quarter_outside_the_countries",
        "s.geojson",
        _quarter_outside,
        FEATURE_ERROR,
        "% of the site lies outside",
    ),
    # mislabelled, empty, unsupported
    Case("empty_file", "s.geojson", lambda ctx: b"", BAD_FILE, "empty"),
    Case("json_named_gpkg", "s.gpkg", lambda ctx: _geojson(_sites()), BAD_FILE, "content is json"),
    Case("executable", "s.exe", lambda ctx: b"MZ" + b"\0" * 100, BAD_FILE, "unsupported file type"),
    Case(
        "truncated_geojson",
        "s.geojson",
        lambda ctx: _geojson(_sites())[:80],
        BAD_FILE,
        "cannot be",
    ),
]

"""Tile SQL on the geometry materialised in EPSG:3857 (migration 0011): the same features as
the transforming path, within a pixel or two; the columns follow every write; privacy holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
from sqlalchemy import Engine, text

import morecantile
import shapely
from shapely.geometry import box, shape

import layers.tiles as lt
from layers.registry import get_layer
from layers.sql import LayerSQL
from tests.layers import records as rec

#: Zooms of the tiles compared: every generalised copy, and the full geometry.
ZOOMS = (3, 4, 5, 6, 7, 8, 10, 12)
LAYERS = [
    "protected_areas",
    "species_ranges",
    "field_sites",
    "threats",
    "countries",
    "admin_units",
    "rivers",
    "lakes",
    "glaciers",
    "places",
    "peaks",
]


def star(cx: float, cy: float, r: float, n: int, seed: int) -> str:
    """A noisy star-shaped ring of ``n`` vertices (valid by construction), as WKT."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * (1 + 0.2 * np.sin(5 * t) + 0.08 * rng.standard_normal(n).clip(-2, 2))
    x = cx + rad * np.cos(t) / np.cos(np.radians(cy))
    y = cy + rad * np.sin(t)
    pts = ", ".join(f"{a:.6f} {b:.6f}" for a, b in [*zip(x, y, strict=True), (x[0], y[0])])
    return f"MULTIPOLYGON((({pts})))"


@pytest.fixture(scope="module")
def ranges(engine: Engine, demo: dict[str, int]) -> Iterator[list[int]]:
    """Range polygons of thousands of vertices around Almaty (the demo has none): committed
    once for the module's tests, deleted after them with their audit rows."""
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('irbis.actor', 'tests', true)"))
        sp = conn.execute(text("SELECT min(id) FROM species")).scalar_one()
        ids = [
            conn.execute(
                text(
                    "INSERT INTO species_ranges (species_id, presence, origin, seasonal, source,"
                    " licence, method, geom) VALUES (:s, 1, 1, 1, 'test', 'CC0', 'example',"
                    " ST_GeomFromText(:g, 4326)) RETURNING id"
                ),
                {"s": sp, "g": star(77.0 + k, 43.2 - 0.3 * k, 1.5 - 0.4 * k, 4000, k)},
            ).scalar_one()
            for k in range(3)
        ]
    yield ids
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('irbis.actor', 'tests', true)"))
        conn.execute(text("DELETE FROM species_ranges WHERE id = ANY(:i)"), {"i": ids})
        conn.execute(
            text("DELETE FROM audit_log WHERE table_name = 'species_ranges' AND row_id = ANY(:r)"),
            {"r": [str(i) for i in ids]},
        )


@pytest.fixture(autouse=True)
def _demo(demo: dict[str, int]) -> None:
    """Every test here reads the demo layers."""


@pytest.fixture
def fresh_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lt, "_STATEMENTS", {})


def decode(engine: Engine, view: LayerSQL, z: int, x: int, y: int) -> dict[int, Any]:
    tile = lt.check_tile("WebMercatorQuad", z, x, y, min_zoom=0, max_zoom=16)
    with engine.connect() as conn:
        data = bytes(conn.execute(lt.tile_sql(view, tile)).scalar_one())
    layer = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    feats = layer.get(view.spec.id, {"features": []})["features"]
    return {f["id"]: f for f in feats}


def transforming(engine: Engine, view: LayerSQL, z: int, x: int, y: int) -> dict[int, Any]:
    """The tile as built without the materialised geometry (every geometry transformed)."""
    saved, lt.TILE_GEOMETRY = lt.TILE_GEOMETRY, {}
    lt._STATEMENTS.clear()
    try:
        return decode(engine, view, z, x, y)
    finally:
        lt.TILE_GEOMETRY = saved
        lt._STATEMENTS.clear()


TILE_BOX = box(0, 0, 4096, 4096)
POLYGONAL = ("Polygon", "MultiPolygon")


def stored(engine: Engine, table: str, ids: set[int], z: int, x: int, y: int) -> dict[int, Any]:
    """The stored geometries of ``ids`` in the tile's pixel coordinates (y down)."""
    xmin, ymin, xmax, ymax = lt.get_tms("WebMercatorQuad").xy_bounds(morecantile.Tile(x, y, z))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT id, ST_AsBinary(ST_Transform(geom, 3857)) FROM {table} WHERE id = ANY(:i)"
            ),
            {"i": list(ids)},
        ).all()
    sx, sy = 4096 / (xmax - xmin), 4096 / (ymax - ymin)
    return {
        i: shapely.transform(
            shapely.from_wkb(bytes(w)),
            lambda c: np.c_[(c[:, 0] - xmin) * sx, (ymax - c[:, 1]) * sy],
        )
        for i, w in rows
    }


def tiles_of(engine: Engine, table: str) -> list[tuple[int, int, int]]:
    """Tiles at every compared zoom over the layer's largest feature."""
    with engine.connect() as conn:
        x, y = conn.execute(
            text(
                f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM {table}"
                " ORDER BY ST_NPoints(geom) DESC, id LIMIT 1) s"
            )
        ).one()
    tms = lt.get_tms("WebMercatorQuad")
    return [(t.z, t.x, t.y) for t in (tms.tile(x, y, z) for z in ZOOMS)]


def error_px(got: shapely.Geometry, truth: shapely.Geometry) -> float:
    """How far a drawn feature is from the stored geometry, in tile pixels, inside the tile:
    for areas the mean displacement of the outline (area of the symmetric difference per
    length of outline), for lines and points the largest distance."""
    if truth.area:
        t = shapely.intersection(shapely.make_valid(truth), TILE_BOX)
        g = shapely.intersection(shapely.make_valid(got), TILE_BOX)
        return float(shapely.symmetric_difference(g, t).area / max(t.boundary.length, 1.0))
    inner = box(-64, -64, 4160, 4160)  # lines are clipped to the buffer by both paths
    return float(shapely.hausdorff_distance(got, shapely.intersection(truth, inner)))


@pytest.mark.usefixtures("fresh_statements", "ranges")
@pytest.mark.parametrize("layer", LAYERS)
def test_tiles_match_the_transforming_path(engine: Engine, layer: str) -> None:
    """Same features and properties as the transforming path, drawn as accurately: within
    half a pixel of its error against the stored geometry, or within a pixel."""
    view = LayerSQL(get_layer(layer), privileged=False)
    assert lt.reads_tile_geometry(view, "WebMercatorQuad")
    seen = 0
    core_box = box(2, 2, 4094, 4094)
    for z, x, y in tiles_of(engine, view.spec.table):
        new, old = decode(engine, view, z, x, y), transforming(engine, view, z, x, y)
        truth = stored(engine, view.spec.table, set(new) | set(old), z, x, y)
        # features clearly inside the tile, and not smaller than a few pixels
        core = {
            i
            for i, g in truth.items()
            if g.intersects(core_box) and (g.area >= 4 or g.geom_type not in POLYGONAL)
        }
        assert core <= set(new) and core <= set(old), (layer, z)
        seen += len(core)
        for i in core:
            assert new[i]["properties"] == old[i]["properties"]
            err_new = error_px(shape(new[i]["geometry"]), truth[i])
            err_old = error_px(shape(old[i]["geometry"]), truth[i])
            assert err_new <= max(err_old + 0.5, 1.0), (layer, z, i, err_new, err_old)
    assert seen > 0, layer


@pytest.mark.usefixtures("fresh_statements", "ranges")
def test_low_zoom_tiles_read_the_generalised_copy(engine: Engine) -> None:
    """A z4 tile of the species ranges is no larger than the transforming path's, and a
    z11 tile keeps the full detail of the stored geometry."""
    view = LayerSQL(get_layer("species_ranges"), privileged=False)
    sql = str(lt.tile_statement(view, "WebMercatorQuad").compile())
    assert "tile_geom_z4" in sql and "tile_geom_z8" in sql and "ST_Transform" not in sql
    tile = lt.check_tile("WebMercatorQuad", 4, 11, 5, min_zoom=0, max_zoom=16)
    with engine.connect() as conn:
        new = len(bytes(conn.execute(lt.tile_sql(view, tile)).scalar_one()))
    saved, lt.TILE_GEOMETRY = lt.TILE_GEOMETRY, {}
    lt._STATEMENTS.clear()
    try:
        with engine.connect() as conn:
            old = len(bytes(conn.execute(lt.tile_sql(view, tile)).scalar_one()))
    finally:
        lt.TILE_GEOMETRY = saved
        lt._STATEMENTS.clear()
    assert 0 < new <= old * 1.1


def test_materialised_geometry_follows_writes_and_stays_out_of_history(db_tx) -> None:
    with db_tx.engine.begin() as conn:
        conn.execute(text("SELECT set_config('irbis.actor', 'tests', true)"))
        pid = conn.execute(
            text(
                "INSERT INTO protected_areas (name, status, is_oecm, source, licence, method, geom)"
                " VALUES ('Tile test park', 'Designated', false, 'test', 'CC0', 'example',"
                " ST_Multi(ST_MakeEnvelope(77.0, 43.0, 77.1, 43.1, 4326))) RETURNING id"
            )
        ).scalar_one()
    try:
        with db_tx.engine.begin() as conn:
            conn.execute(text("SELECT set_config('irbis.actor', 'tests', true)"))
            conn.execute(
                text(
                    "UPDATE protected_areas SET geom ="
                    " ST_Multi(ST_MakeEnvelope(77.2, 43.2, 77.4, 43.3, 4326)) WHERE id = :i"
                ),
                {"i": pid},
            )
            same = conn.execute(
                text(
                    "SELECT ST_Equals(tile_geom, ST_Transform(geom, 3857)),"
                    " ST_XMin(tile_geom) > 8590000 FROM protected_areas WHERE id = :i"
                ),
                {"i": pid},
            ).one()
            assert tuple(same) == (True, True)
            found = conn.execute(
                text(
                    "SELECT DISTINCT jsonb_object_keys(COALESCE(after, before)) FROM audit_log"
                    " WHERE table_name = 'protected_areas' AND row_id = :i"
                ),
                {"i": str(pid)},
            ).scalars()
            keys = set(found)
            assert "geom" in keys and not {k for k in keys if k.startswith("tile_")}
    finally:
        with db_tx.engine.begin() as conn:
            conn.execute(text("SELECT set_config('irbis.actor', 'tests', true)"))
            conn.execute(text("DELETE FROM protected_areas WHERE id = :i"), {"i": pid})


def test_a_geometry_near_the_pole_is_stored_and_clipped(db_tx) -> None:
    """Latitudes WebMercatorQuad cannot show are cut off, never a database error on write."""
    with db_tx.engine.begin() as conn:
        conn.execute(text("SELECT set_config('irbis.actor', 'tests', true)"))
        row = conn.execute(
            text(
                "INSERT INTO lakes (name, properties, source, licence, method, geom) VALUES ('Polar test', '{}',"
                " 'test', 'CC0', 'example', ST_Multi(ST_MakeEnvelope(10, 80, 20, 90, 4326)))"
                " RETURNING id, ST_YMax(ST_Transform(tile_geom, 4326)), ST_IsEmpty(tile_geom)"
            )
        ).one()
        assert row[1] == pytest.approx(85.0511287798, abs=1e-6) and row[2] is False
        conn.execute(text("DELETE FROM lakes WHERE id = :i"), {"i": row[0]})


@pytest.fixture(scope="module")
def extra(engine: Engine, demo: dict[str, int]) -> Iterator[dict[str, Any]]:
    with rec.extra_records(engine) as ids:
        yield ids


def test_public_tiles_of_sensitive_points_are_generalised(engine: Engine, extra: dict) -> None:
    """The public never reads the materialised (stored) geometry of a sensitive layer;
    privileged readers do, and see the stored positions."""
    public = LayerSQL(get_layer("occurrences"), privileged=False, cell_deg=0.2)
    staff = LayerSQL(get_layer("occurrences"), privileged=True, cell_deg=0.2)
    assert not lt.reads_tile_geometry(public, "WebMercatorQuad")
    assert lt.reads_tile_geometry(staff, "WebMercatorQuad")
    assert "tile_geom" not in str(lt.tile_statement(public, "WebMercatorQuad").compile())
    t = lt.get_tms("WebMercatorQuad").tile(*rec.SENSITIVE_POINTS[0], 12)
    z, x, y = t.z, t.x, t.y
    ours = extra["occurrences"][0]
    assert ours in decode(engine, staff, z, x, y)
    assert ours not in decode(engine, public, z, x, y)  # its cell centre is elsewhere

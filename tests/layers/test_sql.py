"""Feature and tile SQL on the real schema: privacy, filters, paging, tiles for two grids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from sqlalchemy import Engine

import geopandas as gpd
import morecantile
import shapely
from shapely.geometry import box, shape

from geo.errors import InvalidInput, NotFound
from layers.cql import parse_filter
from layers.params import parse_bbox, parse_datetime
from layers.registry import get_layer
from layers.sql import LayerSQL, Query
from layers.tiles import check_tile, tile_sql
from tests.layers import records as rec


@pytest.fixture(autouse=True)
def _demo(demo: dict[str, int]) -> None:
    """Every test here reads the demo layers."""


@pytest.fixture(scope="module")
def extra(engine: Engine, demo: dict[str, int]) -> Iterator[dict[str, Any]]:
    with rec.extra_records(engine) as ids:
        yield ids


def sql(layer: str, privileged: bool = False) -> LayerSQL:
    return LayerSQL(get_layer(layer), privileged=privileged, cell_deg=0.2)


def items(engine: Engine, view: LayerSQL, q: Query) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(view.items(q)).all()
    return [{**r._mapping, "geometry": shape(json.loads(r.geojson))} for r in rows]


def count(engine: Engine, view: LayerSQL, q: Query) -> int:
    with engine.connect() as conn:
        return int(conn.execute(view.count(q)).scalar_one())


# -- privacy ----------------------------------------------------------------------------------


def test_public_sees_sensitive_occurrences_at_cell_centres(engine: Engine, extra: dict) -> None:
    got = items(engine, sql("occurrences"), Query(limit=100))
    ours = {r["fid"]: r for r in got if r["fid"] in extra["occurrences"]}
    centres = [ours[i]["geometry"] for i in extra["occurrences"][:2]]
    for g, (x, y) in zip(centres, rec.SENSITIVE_CENTRES, strict=True):
        assert g.x == pytest.approx(x) and g.y == pytest.approx(y)
    # a species that is not sensitive keeps its precise position
    public = ours[extra["occurrences"][2]]["geometry"]
    assert (public.x, public.y) == pytest.approx(rec.PUBLIC_POINT)


def test_public_gets_no_identifying_fields(engine: Engine, extra: dict) -> None:
    got = items(engine, sql("occurrences"), Query(limit=100))
    assert got
    for r in got:
        assert not {"p_recorded_by", "p_occurrence_id", "p_gbif_id"} & set(r)
        assert rec.OBSERVER not in json.dumps({k: str(v) for k, v in r.items()})


def test_analyst_sees_precise_locations_and_observers(engine: Engine, extra: dict) -> None:
    got = items(engine, sql("occurrences", privileged=True), Query(limit=100))
    ours = {r["fid"]: r for r in got}
    for oid, (x, y) in zip(extra["occurrences"], rec.SENSITIVE_POINTS, strict=False):
        g = ours[oid]["geometry"]
        assert (g.x, g.y) == pytest.approx((x, y))
        assert ours[oid]["p_recorded_by"] == rec.OBSERVER


def test_a_bbox_cannot_probe_a_precise_location(engine: Engine, extra: dict) -> None:
    x, y = rec.SENSITIVE_POINTS[0]
    tight = parse_bbox(f"{x - 0.001},{y - 0.001},{x + 0.001},{y + 0.001}")
    assert count(engine, sql("occurrences"), Query(bbox=tight)) == 0
    assert count(engine, sql("occurrences", privileged=True), Query(bbox=tight)) == 1
    cx, cy = rec.SENSITIVE_CENTRES[0]
    centre = parse_bbox(f"{cx - 0.001},{cy - 0.001},{cx + 0.001},{cy + 0.001}")
    assert count(engine, sql("occurrences"), Query(bbox=centre)) == 1


def test_a_filter_cannot_probe_a_precise_location(engine: Engine, extra: dict) -> None:
    x, y = rec.SENSITIVE_POINTS[0]
    f = parse_filter(
        f"S_INTERSECTS(geometry, BBOX({x - 0.001},{y - 0.001},{x + 0.001},{y + 0.001}))"
    )
    assert count(engine, sql("occurrences"), Query(filter=f)) == 0
    assert count(engine, sql("occurrences", privileged=True), Query(filter=f)) == 1


def test_private_columns_are_not_queryable_by_the_public(engine: Engine, extra: dict) -> None:
    f = parse_filter(f"recorded_by = '{rec.OBSERVER}'")
    with pytest.raises(InvalidInput, match="unknown property"):
        count(engine, sql("occurrences"), Query(filter=f))
    assert count(engine, sql("occurrences", privileged=True), Query(filter=f)) == 3


def test_unpublished_threats_are_hidden_from_the_public(engine: Engine, extra: dict) -> None:
    public = {r["fid"] for r in items(engine, sql("threats"), Query(limit=1000))}
    analyst = {r["fid"] for r in items(engine, sql("threats", True), Query(limit=1000))}
    assert extra["unpublished_threat"] not in public
    assert extra["unpublished_threat"] in analyst
    with engine.connect() as conn:
        assert conn.execute(sql("threats").item(extra["unpublished_threat"])).first() is None


# -- filters ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def places(engine: Engine, demo: dict[str, int]) -> gpd.GeoDataFrame:
    return gpd.read_postgis("SELECT * FROM places", engine, geom_col="geom")


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("population > 1000000", lambda d: d.population > 1_000_000),
        ("population BETWEEN 100000 AND 200000", lambda d: d.population.between(100_000, 200_000)),
        ("name LIKE 'Al%'", lambda d: d.name.fillna("").str.startswith("Al")),
        ("iso_a3 IN ('KGZ', 'TJK')", lambda d: d.iso_a3.isin(["KGZ", "TJK"])),
        ("NOT (iso_a3 = 'KAZ')", lambda d: d.iso_a3.notna() & (d.iso_a3 != "KAZ")),
        ("name_ru IS NULL", lambda d: d.name_ru.isna()),
        ("population / 1000 > 500", lambda d: d.population / 1000 > 500),
        (
            "S_INTERSECTS(geometry, POLYGON((76 43, 78 43, 78 44, 76 44, 76 43)))",
            lambda d: d.geometry.intersects(box(76, 43, 78, 44)),
        ),
        (
            "S_WITHIN(geometry, BBOX(66, 36, 75, 42)) AND scalerank <= 8",
            lambda d: d.geometry.within(box(66, 36, 75, 42)) & (d.scalerank <= 8),
        ),
    ],
)
def test_cql2_text_filters_match_geopandas(
    engine: Engine, places: gpd.GeoDataFrame, cql: str, expected: Any
) -> None:
    want = set(places.loc[expected(places).fillna(False).astype(bool), "id"])
    got = {
        r["fid"]
        for r in items(engine, sql("places"), Query(filter=parse_filter(cql), limit=10_000))
    }
    assert got == want
    assert want, "the case should select something"


def test_cql2_json_equals_text(engine: Engine, places: gpd.GeoDataFrame) -> None:
    text = parse_filter("iso_a3 = 'KGZ' AND S_INTERSECTS(geometry, BBOX(70, 39, 80, 44))")
    js = parse_filter(
        json.dumps(
            {
                "op": "and",
                "args": [
                    {"op": "=", "args": [{"property": "iso_a3"}, "KGZ"]},
                    {
                        "op": "s_intersects",
                        "args": [{"property": "geometry"}, {"bbox": [70, 39, 80, 44]}],
                    },
                ],
            }
        ),
        "cql2-json",
    )
    a = {r["fid"] for r in items(engine, sql("places"), Query(filter=text, limit=10_000))}
    b = {r["fid"] for r in items(engine, sql("places"), Query(filter=js, limit=10_000))}
    want = set(places.loc[(places.iso_a3 == "KGZ") & places.intersects(box(70, 39, 80, 44)), "id"])
    assert a == b == want and want


def test_datetime_filters_on_the_layer_time_column(engine: Engine, extra: dict) -> None:
    view = sql("occurrences", privileged=True)
    ids = set(extra["occurrences"])
    day = parse_datetime("2021-06-02")  # gbif 990000001 -> 2021-06-02
    got = {r["fid"] for r in items(engine, view, Query(datetime=day, limit=100))} & ids
    assert got == {extra["occurrences"][0]}
    open_end = parse_datetime("2021-06-03/..")
    got = {r["fid"] for r in items(engine, view, Query(datetime=open_end, limit=100))} & ids
    assert got == {extra["occurrences"][1]}
    before = parse_datetime("../2021-01-01T00:00:00Z")
    assert not {r["fid"] for r in items(engine, view, Query(datetime=before, limit=100))} & ids


def test_paging_is_stable_and_complete(engine: Engine) -> None:
    view = sql("places")
    total = count(engine, view, Query())
    seen: list[int] = []
    for off in range(0, total, 100):
        seen += [r["fid"] for r in items(engine, view, Query(limit=100, offset=off))]
    assert len(seen) == len(set(seen)) == total


# -- tiles ------------------------------------------------------------------------------------


def decode(engine: Engine, view: LayerSQL, tms: str, z: int, x: int, y: int) -> dict[str, Any]:
    with engine.connect() as conn:
        data = conn.execute(
            tile_sql(view, check_tile(tms, z, x, y, min_zoom=0, max_zoom=16))
        ).scalar_one()
    return mapbox_vector_tile.decode(bytes(data))


@pytest.mark.parametrize(
    ("tms_id", "z", "x", "y"), [("WebMercatorQuad", 5, 22, 11), ("WorldCRS84Quad", 4, 22, 4)]
)
def test_tiles_hold_the_features_of_their_tile(
    engine: Engine, places: gpd.GeoDataFrame, tms_id: str, z: int, x: int, y: int
) -> None:
    tms = morecantile.tms.get(tms_id)
    w, s, e, n = tms.bounds(morecantile.Tile(x, y, z))
    inside = set(places.loc[places.within(box(w, s, e, n)), "id"])
    # the tile's buffer (64 of 4096 units) is in the grid's CRS
    xmin, ymin, xmax, ymax = tms.xy_bounds(morecantile.Tile(x, y, z))
    padx, pady = (xmax - xmin) * 64 / 4096, (ymax - ymin) * 64 / 4096
    sw, ne = tms.lnglat(xmin - padx, ymin - pady), tms.lnglat(xmax + padx, ymax + pady)
    near = set(places.loc[places.intersects(box(sw.x, sw.y, ne.x, ne.y)), "id"])
    tile = decode(engine, sql("places"), tms_id, z, x, y)
    assert list(tile) == ["places"]
    ids = {f["properties"]["id"] for f in tile["places"]["features"]}
    assert inside and inside <= ids <= near
    assert {"name", "population", "method"} <= set(tile["places"]["features"][0]["properties"])


def test_polygon_tiles_decode_for_both_grids(engine: Engine) -> None:
    for tms_id, (z, x, y) in (("WebMercatorQuad", (4, 11, 5)), ("WorldCRS84Quad", (3, 10, 2))):
        tile = decode(engine, sql("countries"), tms_id, z, x, y)
        names = {f["properties"]["name"] for f in tile["countries"]["features"]}
        assert "Kazakhstan" in names
        assert all(
            f["geometry"]["type"] in ("Polygon", "MultiPolygon")
            for f in tile["countries"]["features"]
        )


def test_tiles_generalise_sensitive_points(engine: Engine, extra: dict) -> None:
    tms = morecantile.tms.get("WebMercatorQuad")
    x0, y0 = rec.SENSITIVE_POINTS[0]
    t = tms.tile(x0, y0, 10)
    for privileged, (ex, ey) in (
        (False, rec.SENSITIVE_CENTRES[0]),
        (True, rec.SENSITIVE_POINTS[0]),
    ):
        layer = decode(
            engine, sql("occurrences", privileged), "WebMercatorQuad", t.z, t.x, t.y
        ).get("occurrences")
        feats = (
            []
            if layer is None
            else [f for f in layer["features"] if f["properties"]["id"] == extra["occurrences"][0]]
        )
        if not privileged and not feats:
            # the cell centre lies in another tile: the precise one must then be empty of it
            ct = tms.tile(ex, ey, 10)
            assert (ct.x, ct.y) != (t.x, t.y)
            layer = decode(engine, sql("occurrences"), "WebMercatorQuad", ct.z, ct.x, ct.y)[
                "occurrences"
            ]
            feats = [
                f for f in layer["features"] if f["properties"]["id"] == extra["occurrences"][0]
            ]
            t_used = ct
        else:
            t_used = t
        assert len(feats) == 1
        assert ("recorded_by" in feats[0]["properties"]) is privileged
        px, py = feats[0]["geometry"]["coordinates"]
        b = tms.bounds(t_used)
        lon = b.left + (b.right - b.left) * px / 4096
        merc = tms.xy_bounds(t_used)
        ym = merc.bottom + (merc.top - merc.bottom) * py / 4096
        lat = morecantile.tms.get("WebMercatorQuad").lnglat(merc.left, ym).y
        assert lon == pytest.approx(ex, abs=1e-3) and lat == pytest.approx(ey, abs=1e-3)


def test_tiles_outside_the_grid_are_not_found() -> None:
    for args in (
        ("WebMercatorQuad", 3, 8, 0),
        ("WebMercatorQuad", -1, 0, 0),
        ("WorldCRS84Quad", 0, 0, 1),
        ("WebMercatorQuad", 30, 0, 0),
    ):
        with pytest.raises(NotFound):
            check_tile(*args, min_zoom=0, max_zoom=16)
    with pytest.raises(NotFound):
        check_tile("NoSuchGrid", 1, 0, 0, min_zoom=0, max_zoom=16)


def test_simplified_tiles_stay_close_to_the_geometry(engine: Engine) -> None:
    # the tile geometry of a country, back in lon/lat, lies within a pixel or two of the truth
    tms = morecantile.tms.get("WebMercatorQuad")
    t = morecantile.Tile(11, 5, 4)
    tile = decode(engine, sql("countries"), "WebMercatorQuad", t.z, t.x, t.y)
    kaz = next(f for f in tile["countries"]["features"] if f["properties"]["name"] == "Kazakhstan")
    merc = tms.xy_bounds(t)
    geom = shapely.transform(
        shape(kaz["geometry"]),
        lambda c: [
            [
                merc.left + (merc.right - merc.left) * px / 4096,
                merc.bottom + (merc.top - merc.bottom) * py / 4096,
            ]
            for px, py in c
        ],
    )
    truth = gpd.read_postgis(
        "SELECT geom FROM countries WHERE iso_a3 = 'KAZ'", engine, geom_col="geom"
    ).to_crs(3857)
    tile_box = box(merc.left, merc.bottom, merc.right, merc.top)
    want = truth.geometry.iloc[0].intersection(tile_box)
    pixel = (merc.right - merc.left) / 4096
    geom = geom.intersection(tile_box)  # tiles carry a buffer beyond their edges
    assert geom.symmetric_difference(want).area < 0.01 * want.area
    assert geom.hausdorff_distance(want) < 4 * pixel

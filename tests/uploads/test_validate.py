"""One test per validation rule of geo.validate (pure: synthetic inputs, no database)."""

from __future__ import annotations

import numpy as np
import pytest

import geopandas as gpd
import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon, box

from geo.errors import InvalidInput, MissingCRS
from geo.validate import SiteRules, geom_hash, validate_sites

PROGRAMME = gpd.GeoDataFrame(
    {"iso_a3": ["KAZ", "KGZ", "CHN"], "programme": [True, True, False]},
    geometry=[box(46, 40.6, 87, 55.4), box(69, 39, 80, 40.6), box(80, 35, 88, 40.6)],
    crs=4326,
)
SITE = box(76.90, 43.10, 76.95, 43.14)


def run(geoms, crs=4326, **kw):  # type: ignore[no-untyped-def]
    gdf = gpd.GeoDataFrame(geometry=list(geoms), crs=crs)
    kw.setdefault("countries", PROGRAMME)
    return validate_sites(gdf, **kw)


def codes(report, i=0):  # type: ignore[no-untyped-def]
    return set(report.issues.loc[report.issues["feature"] == i, "code"])


def test_a_good_site_passes_with_its_equal_area_area() -> None:
    r = run([SITE])
    assert r.ok and codes(r) == set()
    expected = abs(Geod(ellps="WGS84").geometry_area_perimeter(SITE)[0]) / 1e4
    assert r.gdf["area_ha"].iloc[0] == pytest.approx(expected, rel=2e-3)
    assert r.gdf["countries"].iloc[0] == "KAZ"


def test_missing_crs_is_refused_unless_an_epsg_code_is_named() -> None:
    with pytest.raises(MissingCRS, match="EPSG"):
        run([SITE], crs=None)
    r = run([SITE], crs=None, epsg=4326)
    assert r.ok and "named" in r.notes[0]
    with pytest.raises(InvalidInput, match="EPSG:999999"):
        run([SITE], crs=None, epsg=999999)


def test_projected_input_is_reprojected() -> None:
    utm = gpd.GeoSeries([SITE], crs=4326).to_crs(32643).iloc[0]
    r = run([utm], crs=32643)
    assert r.ok and any("reprojected" in n for n in r.notes)
    assert r.gdf.geometry.iloc[0].symmetric_difference(SITE).area <= 1e-5 * SITE.area


def test_swapped_lon_lat_is_detected_explained_and_fixable() -> None:
    swapped = shapely.transform(SITE, lambda c: c[:, ::-1])
    r = run([swapped])
    assert not r.ok and codes(r) == {"swapped_axes"}
    msg = r.issues["message"].iloc[0]
    assert "swapped" in msg and "lat 76.925" in msg and "lon 76.925" in msg
    fixed = run([swapped], swap_xy=True)
    assert fixed.ok and fixed.gdf.geometry.iloc[0].equals(shapely.multipolygons([SITE]))


def test_invalid_geometry_is_repaired_and_reported() -> None:
    bowtie = Polygon([(76.9, 43.1), (77.0, 43.2), (77.0, 43.1), (76.9, 43.2), (76.9, 43.1)])
    r = run([bowtie])
    assert r.ok and codes(r) == {"repaired"}
    assert "Self-intersection" in r.issues["message"].iloc[0]
    g = r.gdf.geometry.iloc[0]
    assert g.is_valid and g.geom_type == "MultiPolygon" and len(g.geoms) == 2


def test_z_and_m_are_dropped() -> None:
    z = shapely.force_3d(SITE, 2500.0)
    m = shapely.from_wkt("POLYGON M ((76.9 43.1 1, 77 43.1 2, 77 43.2 3, 76.9 43.1 4))")
    r = run([z, m])
    assert r.ok and codes(r, 0) == {"z_dropped"} and codes(r, 1) == {"z_dropped"}
    assert not shapely.has_z(r.gdf.geometry).any() and not shapely.has_m(r.gdf.geometry).any()


@pytest.mark.parametrize(
    "geom", [Point(76.9, 43.1), shapely.LineString([(76.9, 43.1), (77, 43.2)])]
)
def test_points_and_lines_are_refused(geom) -> None:
    r = run([geom])
    assert not r.ok and codes(r) == {"not_polygon"}
    assert "must be polygons" in r.issues["message"].iloc[0]


def test_empty_geometry_is_refused() -> None:
    r = run([None, Polygon()])
    assert codes(r, 0) == {"empty_geometry"} and codes(r, 1) == {"empty_geometry"}


def test_lines_mixed_with_polygons_are_dropped_with_a_warning() -> None:
    gc = shapely.GeometryCollection([SITE, shapely.LineString([(76, 43), (76.5, 43.5)])])
    r = run([gc])
    assert r.ok and codes(r) == {"parts_dropped"}


def test_implausibly_small_and_large_areas_are_flagged() -> None:
    tiny = box(76.9, 43.1, 76.9005, 43.1005)  # about 0.2 ha
    huge = box(60, 44, 75, 52)  # about 100 million ha
    r = run([tiny, huge])
    assert codes(r, 0) == {"area_small"} and codes(r, 1) == {"area_large"}
    assert r.ok  # flags, not refusals
    r = run([tiny], rules=SiteRules(min_area_ha=0.1))
    assert codes(r) == set()


def test_sites_outside_the_programme_countries_are_refused() -> None:
    china = box(84, 44 - 5, 84.05, 44.04 - 5)  # in the region, in CHN only
    r = run([china])
    assert codes(r) == {"outside_countries"} and not r.ok


def test_sites_far_outside_the_region_are_refused() -> None:
    r = run([box(10, 50, 10.1, 50.1)])
    assert codes(r) == {"outside_region"}


def test_sites_partly_outside_are_refused_within_a_tolerance_and_border_sites_pass() -> None:
    half = box(86.9, 45, 87.1, 45.1)  # half in KAZ, half outside all
    border = box(70, 40.5, 70.1, 40.7)  # KAZ and KGZ
    sliver = box(86.0, 45, 87.005, 45.1)  # 0.5 % outside
    r = run([half, border, sliver])
    assert codes(r, 0) == {"partly_outside"} and r.gdf["status"].iloc[0] == "error"
    assert "50.0 %" in r.issues["message"].iloc[0] and "at most 1 %" in r.issues["message"].iloc[0]
    assert codes(r, 1) == set() and r.gdf["countries"].iloc[1] == "KAZ,KGZ"
    assert codes(r, 2) == set() and r.gdf["status"].iloc[2] == "ok"
    # the tolerance is a rule: 60 % allows the half-outside site
    assert run([half], rules=SiteRules(max_outside_share=0.6)).ok


def test_non_finite_and_out_of_range_coordinates_are_refused() -> None:
    nan = Polygon([(70, 48), (float("nan"), 48), (70.02, 48.02), (70, 48)])
    inf = Polygon([(70, 48), (float("inf"), 48), (70.02, 48.02), (70, 48)])
    huge = Polygon([(70, 48), (1e308, 48), (70.02, 48.02), (70, 48)])
    polar = box(70, 89.5, 70.1, 90.5)
    r = run([nan, inf, huge, polar])
    assert [codes(r, i) for i in range(4)] == [
        {"not_finite"},
        {"not_finite"},
        {"out_of_range"},
        {"out_of_range"},
    ]
    assert "EPSG code" in r.issues["message"].iloc[2]


def test_geometries_that_could_not_be_parsed_are_refused_with_the_reason() -> None:
    r = run([None, SITE], geometry_errors={0: "a ring is not closed"})
    assert codes(r, 0) == {"unreadable_geometry"} and codes(r, 1) == set()
    assert r.issues["message"].iloc[0] == "a ring is not closed"


@pytest.mark.parametrize(
    "geom",
    [
        Polygon([(70, 48), (70.02, 48), (70, 48)]),  # three positions
        Polygon([(70, 48), (70.01, 48), (70.02, 48), (70, 48)]),  # on one line
        Polygon([(70, 48), (70, 48), (70, 48), (70, 48)]),  # one point
    ],
)
def test_degenerate_polygons_are_refused(geom) -> None:  # type: ignore[no-untyped-def]
    r = run([geom])
    assert codes(r) == {"degenerate"} and r.gdf.geometry.iloc[0] is None
    assert "no area" in r.issues["message"].iloc[0]


def test_repairs_that_change_the_area_are_refused_unless_confirmed() -> None:
    shell = [(70, 48), (70.04, 48), (70.04, 48.04), (70, 48.04)]
    hole = [(69.95, 47.95), (70.09, 47.95), (70.09, 48.09), (69.95, 48.09)]
    r = run([Polygon(shell, [hole])])
    assert codes(r) == {"repair_changes_area"} and not r.ok
    msg = r.issues["message"].iloc[0]
    assert "from 0.0 ha to 14,9" in msg and "confirm_repairs" in msg
    ok = run([Polygon(shell, [hole])], confirm_repairs=True)
    assert ok.ok and codes(ok) == {"repaired"} and "as confirmed" in ok.issues["message"].iloc[0]
    # overlapping parts: the union loses 5 % of the drawn area, within the 10 % tolerance
    parts = shapely.MultiPolygon([box(70, 48, 70.1, 48.1), box(70.09, 48, 70.2, 48.1)])
    r = run([parts])
    assert r.ok and "repaired" in codes(r) and "repair_changes_area" not in codes(r)
    assert not run([parts], rules=SiteRules(max_repair_change=0.01)).ok


def test_undefined_crs_is_refused_unless_named() -> None:
    undefined = (
        'GEOGCS["Undefined geographic SRS",DATUM["unknown",SPHEROID["unknown",6378137,'
        '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
    )
    with pytest.raises(MissingCRS, match="undefined"):
        run([SITE], crs=undefined)
    r = run([SITE], crs=undefined, epsg=4326)
    assert r.ok and any("undefined" in n for n in r.notes)


def test_overlap_with_another_grants_site_is_flagged() -> None:
    other = gpd.GeoDataFrame(
        {"grant_code": ["SOS-X"], "name": ["Upper valley"]},
        geometry=[box(76.94, 43.10, 77.0, 43.14)],
        crs=4326,
    )
    r = run([SITE, box(70, 45, 70.05, 45.04)], other_sites=other)
    assert codes(r, 0) == {"overlaps_other_grant"} and codes(r, 1) == set()
    assert "Upper valley" in r.issues["message"].iloc[0] and "SOS-X" in r.issues["message"].iloc[0]


def test_the_same_geometry_twice_in_a_file_is_refused() -> None:
    r = run([SITE, shapely.normalize(SITE)])
    assert codes(r, 0) == set() and codes(r, 1) == {"duplicate"}


def test_geom_hash_ignores_vertex_order_start_and_tiny_noise() -> None:
    a = np.array([SITE, shapely.reverse(SITE), shapely.transform(SITE, lambda c: c + 1e-10)])
    h = geom_hash(a)
    assert h[0] == h[1] == h[2]
    assert geom_hash(np.array([box(76.9, 43.1, 76.95, 43.15)]))[0] != h[0]


def test_report_to_dict_lists_each_feature() -> None:
    r = run([SITE, Point(1, 1)], names=["A", "B"])
    d = r.to_dict()
    assert d["counts"] == {"features": 2, "ok": 1, "warnings": 0, "errors": 1}
    assert [f["name"] for f in d["features"]] == ["A", "B"]
    assert d["features"][1]["issues"][0]["code"] == "not_polygon"
    assert len(r.accepted) == 1

"""Every supported format is read (geo.uploads) and accepted by the API's dry run."""

from __future__ import annotations

import pytest

from geo.uploads import UploadLimits, read_upload
from geo.validate import validate_sites

from .conftest import site_gdf, upload, write

POLYGON_FORMATS = ["geojson", "shpzip", "gpkg", "kml", "kmz", "csv_wkt", "fgb"]


@pytest.mark.parametrize("fmt", POLYGON_FORMATS)
def test_each_format_reads_names_and_geometry(fmt, tmp_path) -> None:
    gdf = site_gdf(2)
    path = write(gdf, fmt, tmp_path)
    up = read_upload(path, UploadLimits())
    assert sorted(up.names) == sorted(gdf["name"])  # FlatGeobuf may reorder (spatial index)
    report = validate_sites(up.gdf, names=up.names, epsg=4326 if fmt == "csv_wkt" else None)
    assert report.ok, report.issues
    got = report.gdf.sort_values("name").geometry.to_numpy()
    for a, b in zip(got, gdf.sort_values("name").geometry.to_numpy(), strict=True):
        assert a.geom_type == "MultiPolygon"
        assert a.symmetric_difference(b).area <= 1e-5 * b.area  # coordinates rounded to 1 cm


def test_csv_with_lon_lat_columns_is_read_as_points_and_refused_as_sites(tmp_path) -> None:
    path = write(site_gdf(1), "csv_lonlat", tmp_path)
    up = read_upload(path, UploadLimits())
    assert up.gdf.geometry.iloc[0].geom_type == "Point"
    report = validate_sites(up.gdf, names=up.names, epsg=4326)
    assert list(report.issues["code"]) == ["not_polygon"]


def test_projected_shapefile_is_reprojected(tmp_path) -> None:
    gdf = site_gdf(1)
    path = write(gdf.to_crs(32642), "shpzip", tmp_path)
    up = read_upload(path, UploadLimits())
    report = validate_sites(up.gdf, names=up.names)
    assert report.ok and any("reprojected" in n for n in report.notes)
    got, want = report.gdf.geometry.iloc[0], gdf.geometry.iloc[0]
    assert got.symmetric_difference(want).area <= 1e-5 * want.area


@pytest.mark.parametrize("encoding", ["cp1251", "UTF-8"])
@pytest.mark.parametrize("with_cpg", [True, False])
def test_cyrillic_shapefile_names_in_cp1251_or_utf8(encoding, with_cpg, tmp_path) -> None:
    names = ["Урочище Кок-Жайляу", "Ущелье Большая Алматинка"]
    gdf = site_gdf(2, names=names)
    d = tmp_path / "shp"
    d.mkdir()
    import pyogrio

    pyogrio.write_dataframe(gdf, d / "sites.shp", encoding=encoding)
    cpg = d / "sites.cpg"
    if not with_cpg and cpg.exists():
        cpg.unlink()
    assert cpg.exists() == with_cpg
    from .conftest import zip_files

    path = zip_files(tmp_path / "sites.zip", sorted(d.iterdir()))
    up = read_upload(path, UploadLimits())
    assert list(up.names) == names
    assert up.encoding == ("cp1251" if encoding == "cp1251" else "utf-8")
    assert any(("from sites.cpg" if with_cpg else "detected") in n for n in up.notes)


@pytest.mark.parametrize("fmt", ["geojson", "shpzip", "gpkg", "kmz", "fgb"])
def test_api_dry_run_accepts_each_format(fmt, grantee, tmp_path) -> None:
    path = write(site_gdf(1), fmt, tmp_path)
    r = upload(grantee, path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and body["dry_run"] and not body["committed"]
    assert body["features"][0]["action"] == "insert"
    assert body["features"][0]["countries"] == ["KAZ"]
    assert body["preview"]["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_api_csv_is_wgs84_unless_an_epsg_code_is_named(grantee, tmp_path) -> None:
    gdf = site_gdf(1)
    path = write(gdf, "csv_wkt", tmp_path)
    r = upload(grantee, path)
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert any("read as WGS 84" in n for n in r.json()["notes"])
    # the same site in UTM zone 42N, with the EPSG code named
    utm = write(gdf.to_crs(32642), "csv_wkt", tmp_path / "utm")
    r = upload(grantee, utm, epsg=32642)
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert not any("read as WGS 84" in n for n in r.json()["notes"])
    assert any("reprojected from WGS 84 / UTM zone 42N" in n for n in r.json()["notes"])


def test_csv_of_boundary_vertices_becomes_polygons(tmp_path) -> None:
    import pandas as pd

    gdf = site_gdf(2, names=["Урочище А", "Урочище Б"])
    rows = []
    for name, poly in zip(gdf["name"], gdf.geometry, strict=True):
        for i, (x, y) in enumerate(poly.exterior.coords[:-1]):
            rows.append({"site": name, "seq": i + 1, "lon": x, "lat": y})
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # rows out of order
    path = tmp_path / "vertices.csv"
    table.to_csv(path, index=False)
    up = read_upload(path, UploadLimits())
    assert sorted(up.names) == sorted(gdf["name"])
    assert any("built 2 polygon(s) from 24 boundary points" in n for n in up.notes)
    report = validate_sites(up.gdf, names=up.names, epsg=4326)
    assert report.ok, report.issues
    by_name = dict(zip(report.gdf["name"], report.gdf.geometry, strict=True))
    for name, poly in zip(gdf["name"], gdf.geometry, strict=True):
        assert by_name[name].symmetric_difference(poly).area <= 1e-5 * poly.area


def test_geopackage_with_several_layers_needs_a_layer_name(tmp_path) -> None:
    import pyogrio

    from geo.errors import SchemaMismatch

    path = tmp_path / "two.gpkg"
    a, b = site_gdf(1), site_gdf(2)
    pyogrio.write_dataframe(a, path, layer="camera_traps")
    pyogrio.write_dataframe(b, path, layer="survey_blocks", append=True)
    with pytest.raises(SchemaMismatch, match="camera_traps, survey_blocks"):
        read_upload(path, UploadLimits())
    up = read_upload(path, UploadLimits(), layer="survey_blocks")
    assert sorted(up.names) == sorted(b["name"])


def test_read_vector_refuses_an_undefined_geopackage_srs(tmp_path) -> None:
    import sqlite3

    import pyogrio

    from geo.errors import MissingCRS
    from geo.io import read_vector

    path = tmp_path / "undefined.gpkg"
    pyogrio.write_dataframe(site_gdf(1), path, driver="GPKG")
    with sqlite3.connect(path) as c:
        c.execute("UPDATE gpkg_geometry_columns SET srs_id = 0")
        c.execute("UPDATE gpkg_contents SET srs_id = 0")
    with pytest.raises(MissingCRS, match="undefined"):
        read_vector(path)
    assert read_vector(path, crs=4326).crs.to_epsg() == 4326

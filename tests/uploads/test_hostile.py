"""Hostile and broken files: each gets a clear 4xx, nothing is stored, the server keeps going."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text

from geo.archive import ArchiveLimits, extract_zip
from geo.errors import InvalidInput, TooLarge, UnreadableFile
from geo.uploads import UploadLimits, read_upload
from tests.rollback import bound_app

from .conftest import GRANT, site_gdf, upload, write


def _sites(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM field_sites")).scalar_one())


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


GEOJSON = (
    b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},'
    b'"geometry":{"type":"Polygon","coordinates":[[[70,48],[70.02,48],[70.02,48.02],[70,48]]]}}]}'
)


# ---- pure: the archive and reader refuse before anything is used --------------------------


def test_zip_bomb_is_refused_from_the_directory(tmp_path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", {"a.geojson": b"\0" * (20 * 1024 * 1024)})
    assert bomb.stat().st_size < 100_000
    with pytest.raises(TooLarge, match="zip bomb"):
        extract_zip(bomb, tmp_path / "out", ArchiveLimits())
    assert not any((tmp_path / "out").rglob("*.geojson")) if (tmp_path / "out").exists() else True


def test_zip_whose_directory_lies_about_sizes_is_refused_while_extracting(tmp_path) -> None:
    data = random.randbytes(3000) + b"\0" * 3_000_000
    path = _zip(tmp_path / "liar.zip", {"a.geojson": data})
    raw = bytearray(path.read_bytes())
    # shrink the uncompressed size in the central directory (and local header) to 1,000 bytes
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 1000)
    struct.pack_into("<I", raw, 22, 1000)
    path.write_bytes(bytes(raw))
    with pytest.raises((TooLarge, UnreadableFile)):
        extract_zip(path, tmp_path / "out", ArchiveLimits())


def test_total_uncompressed_size_is_limited(tmp_path) -> None:
    path = _zip(tmp_path / "big.zip", {f"{i}.csv": random.randbytes(400_000) for i in range(3)})
    with pytest.raises(TooLarge, match="unpacks to more than"):
        extract_zip(path, tmp_path / "out", ArchiveLimits(max_uncompressed_bytes=1_000_000))


@pytest.mark.parametrize(
    "name",
    [
        "../evil.geojson",
        "a/../../evil.geojson",
        "/etc/evil.geojson",
        "..\\evil.geojson",
        "C:/evil.geojson",
    ],
)
def test_path_traversal_in_member_names_is_refused(name, tmp_path) -> None:
    path = _zip(tmp_path / "trav.zip", {name: GEOJSON})
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(InvalidInput, match="outside the archive"):
        extract_zip(path, out, ArchiveLimits())
    assert list(tmp_path.rglob("evil.geojson")) == []


def test_symbolic_links_in_archives_are_refused(tmp_path) -> None:
    info = zipfile.ZipInfo("link.geojson")
    info.external_attr = 0o120777 << 16
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(info, "/etc/passwd")
    with pytest.raises(InvalidInput, match="symbolic link"):
        extract_zip(path, tmp_path / "out", ArchiveLimits())


def test_feature_and_vertex_limits(tmp_path) -> None:
    path = write(site_gdf(5), "geojson", tmp_path)
    with pytest.raises(TooLarge, match="more than 4 features"):
        read_upload(path, UploadLimits(max_features=4))
    with pytest.raises(TooLarge, match="vertices"):
        read_upload(path, UploadLimits(max_vertices=20))
    assert len(read_upload(path, UploadLimits(max_features=5)).gdf) == 5


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        ("sites.geojson", b"", "empty"),
        ("sites.geojson", b"PK\x03\x04" + b"\0" * 100, "the content is zip"),
        ("sites.gpkg", GEOJSON, "the content is json"),
        ("sites.zip", GEOJSON, "the content is json"),
        ("sites.kml", GEOJSON, "the content is json"),
        ("sites.exe", GEOJSON, "unsupported file type"),
        ("sites", GEOJSON, "unsupported file type"),
        ("sites.shp", b"\0\0\x27\x0a", "zipped together"),
        ("sites.geojson", GEOJSON[:70], "cannot be"),
        ("sites.geojson", GEOJSON.replace(b'"x"', '"Урочище"'.encode("cp1251")), "not UTF-8"),
        (
            "sites.csv",
            "name,wkt\nУрочище,POLYGON((70 48,71 48,71 49,70 48))\n".encode("cp1251"),
            "not UTF-8",
        ),
        ("sites.zip", b"PK\x03\x04" + b"\0" * 100, "zip"),
        ("sites.fgb", b"fgb\x03fgb\x00" + b"\0" * 20, "cannot be|holds no vector layer"),
    ],
)
def test_broken_and_mislabelled_files_are_refused(filename, content, match, tmp_path) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises((UnreadableFile, TooLarge, InvalidInput), match=match):
        read_upload(path, UploadLimits())


def test_truncated_geopackage_and_zip(tmp_path) -> None:
    gpkg = write(site_gdf(3), "gpkg", tmp_path)
    cut = tmp_path / "cut.gpkg"
    cut.write_bytes(gpkg.read_bytes()[: gpkg.stat().st_size // 3])
    with pytest.raises(UnreadableFile):
        read_upload(cut, UploadLimits())
    shz = write(site_gdf(3), "shpzip", tmp_path)
    cutz = tmp_path / "cut.zip"
    cutz.write_bytes(shz.read_bytes()[: shz.stat().st_size // 2])
    with pytest.raises(UnreadableFile):
        read_upload(cutz, UploadLimits())


def test_shapefile_with_wrong_cpg_is_refused_as_undecodable(tmp_path) -> None:
    import pyogrio

    d = tmp_path / "shp"
    d.mkdir()
    pyogrio.write_dataframe(site_gdf(1, names=["Урочище"]), d / "s.shp", encoding="cp1251")
    (d / "s.cpg").write_text("UTF-8")
    from .conftest import zip_files

    path = zip_files(tmp_path / "s.zip", sorted(d.iterdir()))
    with pytest.raises(UnreadableFile, match="cannot be decoded as utf-8"):
        read_upload(path, UploadLimits())


def test_shapefile_without_dbf_or_with_two_datasets(tmp_path) -> None:
    gdf = site_gdf(1)
    d = tmp_path / "shp"
    d.mkdir()
    import pyogrio

    pyogrio.write_dataframe(gdf, d / "s.shp")
    from .conftest import zip_files

    files = [p for p in sorted(d.iterdir()) if p.suffix != ".dbf"]
    with pytest.raises(UnreadableFile, match=r"lacks \.dbf"):
        read_upload(zip_files(tmp_path / "nodbf.zip", files), UploadLimits())
    two = _zip(tmp_path / "two.zip", {"a.geojson": GEOJSON, "b.geojson": GEOJSON})
    with pytest.raises(InvalidInput, match="several data sets"):
        read_upload(two, UploadLimits())


# ---- through the API: 4xx, nothing stored, still serving ---------------------------------


# Every hostile file through the API (dry run and commit): tests/uploads/test_corpus.py.


@pytest.fixture
def small_app(settings, db_tx, tmp_path):  # type: ignore[no-untyped-def]
    """The app with small upload limits, in the test's transaction (rolled back after it)."""
    from api.app import create_app

    s = settings.model_copy(deep=True)
    s.uploads.max_bytes = 2_000
    s.uploads.max_features = 3
    s.database.listen = False
    s.var_dir = tmp_path / "var"
    with bound_app(create_app(s), db_tx) as app:
        yield app


def test_api_size_and_feature_limits(small_app, db_tx, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.auth.testing import login, make_user

    engine = db_tx.engine
    name = make_user(engine, roles=["grantee"], grants=[GRANT])
    with TestClient(small_app) as c:
        c.csrf = login(c, name)  # type: ignore[attr-defined]
        before = _sites(engine)
        r = upload(c, tmp_path / "big.geojson", content=b" " * 5_000 + GEOJSON)
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        many = write(site_gdf(4, size_deg=0.001), "shpzip", tmp_path)
        assert many.stat().st_size < 2_000
        r = upload(c, many, dry_run=False)
        assert r.status_code == 413 and "more than 3 features" in r.json()["description"]
        assert _sites(engine) == before


def test_control_characters_in_names_and_filenames_are_cleaned(grantee, tmp_path) -> None:
    raw = GEOJSON.replace(
        b'"x"', b'"bad\\u0000 name\\u0007 ' + f"{random.getrandbits(24):06x}".encode() + b'"'
    )
    r = upload(
        grantee, tmp_path / "a.geojson", content=raw, dry_run=False, filename="evil\x00name.geojson"
    )
    assert r.status_code == 201, r.text
    name = r.json()["features"][0]["name"]
    assert name.startswith("bad") and "\x00" not in name and "\x07" not in name


def test_kml_with_entity_expansion_or_external_entities_is_refused(tmp_path) -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol" * 10}">' for i in range(9))
    for dtd, body in ((lol, "&l8;"), ('<!ENTITY x SYSTEM "file:///etc/passwd">', "&x;")):
        path = tmp_path / "e.kml"
        path.write_text(
            f'<?xml version="1.0"?><!DOCTYPE k [{dtd}]><kml xmlns="http://www.opengis.net/kml/2.2">'
            f"<Document><Placemark><name>{body}</name><Polygon><outerBoundaryIs><LinearRing>"
            "<coordinates>70,48 70.02,48 70.02,48.02 70,48</coordinates></LinearRing>"
            "</outerBoundaryIs></Polygon></Placemark></Document></kml>"
        )
        with pytest.raises(UnreadableFile):
            read_upload(path, UploadLimits())

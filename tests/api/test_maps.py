"""Map pages render with local assets only and carry legends, attribution and example marks."""

from __future__ import annotations

import pytest

import folium

from layers.maps import external_urls, localise


@pytest.mark.parametrize(
    "url",
    ["/atlas", "/collections/protected_areas/map", "/collections/rivers/map", "/cases/kok-jailau"],
)
def test_map_pages_need_no_internet(client, url: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(url)
    assert r.status_code == 200
    assert external_urls(r.text) == []
    assert "/vendor/leaflet/dist/leaflet.js" in r.text
    # the atlas draws every layer from the dataset tileset, the other maps layer by layer
    assert ("Irbis.dataset(" if url == "/atlas" else "L.vectorGrid.protobuf") in r.text


def test_vendor_assets_are_served(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/atlas").text
    import re

    for src in re.findall(r'(?:src|href)="(/(?:vendor|static)/[^"]+)"', page):
        assert client.get(src).status_code == 200, src


def test_atlas_has_every_layer_a_switcher_and_a_legend(client) -> None:  # type: ignore[no-untyped-def]
    from layers.registry import layer_ids

    page = client.get("/atlas").text
    assert "/tiles/WebMercatorQuad/{z}/{y}/{x}?v=" in page  # one tile for every layer
    for layer in layer_ids():
        assert f'"id": "{layer}"' in page  # each layer in the switcher and the legend
    assert "L.control.layers" in page and "Irbis.legend" in page
    assert "/rasters/relief/tiles/" in page  # the basemap is our own relief


def test_case_page_shows_the_numbers_and_example_marks(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/cases/kok-jailau").text
    for fact in ("1,002 ha", "63 km", "470 million USD", "27 ha", "326 m³", "10,000"):
        assert fact in page
    assert "badge example" in page
    assert "ha (geodesic area)" in page


def test_localise_refuses_assets_without_a_local_copy() -> None:
    m = folium.Map(tiles=None)
    m.default_js = [*m.default_js, ("mystery", "https://cdn.example.org/x.js")]
    with pytest.raises(ValueError, match="mystery"):
        localise(m.get_root())
    ok = folium.Map(tiles=None)
    localise(ok.get_root())
    assert external_urls(ok.get_root().render()) == []


def test_case_footprint_area_is_geodesic(client, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    import geopandas as gpd

    from geo.crs import area_ha
    from layers.cases import kok_jailau

    with engine.connect() as conn:
        case = kok_jailau(conn)
        assert case is not None
        gdf = gpd.read_postgis(
            text("SELECT geom FROM threats WHERE id = :i"),
            conn,
            params={"i": case["id"]},
            geom_col="geom",
        )
    assert case["footprint_ha"] == pytest.approx(float(area_ha(gdf)[0]), rel=0.002)
    assert case["footprint_ha"] == pytest.approx(1002, rel=0.01)
    assert 0 < case["inside_park_ha"] <= case["footprint_ha"] + 1e-6


def test_vendor_serves_only_what_pages_load(client) -> None:  # type: ignore[no-untyped-def]
    """node_modules holds sources, tests and package metadata: none of it is published."""
    for path in (
        "/vendor/leaflet/package.json",
        "/vendor/leaflet/src/Leaflet.js",
        "/vendor/.package-lock.json",
        "/vendor/leaflet/dist/../package.json",
        "/vendor/jquery/dist/jquery.min.js",
    ):
        assert client.get(path).status_code == 404, path
    assert client.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


def test_vendor_stylesheets_find_their_images_and_fonts(client) -> None:  # type: ignore[no-untyped-def]
    """Every url(...) in a served stylesheet resolves to a file that is served too."""
    import posixpath
    import re

    page = client.get("/atlas").text
    sheets = re.findall(r'href="(/vendor/[^"]+\.css)"', page)
    assert sheets
    for sheet in sheets:
        css = client.get(sheet).text
        for ref in set(re.findall(r"url\(['\"]?([^'\")]+)['\"]?\)", css)):
            if ref.startswith(("data:", "#")):
                continue
            target = posixpath.normpath(
                posixpath.join(posixpath.dirname(sheet), ref.split("?")[0].split("#")[0])
            )
            assert client.get(target).status_code == 200, (sheet, ref)

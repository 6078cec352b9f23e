"""Bad input gets a 4xx with the OGC exception body, never a 500 (injection attempts included)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

INJECT = "1;DROP TABLE places;--"
QUOTE = "x' OR '1'='1"

CASES = [
    # unknown things
    ("/collections/nope", 404),
    ("/collections/nope/items", 404),
    ("/collections/no_such_layer/items", 404),
    (f"/collections/{quote(INJECT)}/items", 404),
    ("/collections/places/items/999999999", 404),
    ("/collections/places/items/abc", 404),
    (f"/collections/places/items/{quote(QUOTE)}", 404),
    ("/collections/places/items/99999999999999999999999", 404),
    # bbox
    ("/collections/places/items?bbox=1,2,3", 400),
    ("/collections/places/items?bbox=a,b,c,d", 400),
    ("/collections/places/items?bbox=0,0,200,10", 400),
    ("/collections/places/items?bbox=-181,0,10,10", 400),
    ("/collections/places/items?bbox=0,95,10,96", 400),
    ("/collections/places/items?bbox=10,20,11,10", 400),
    (f"/collections/places/items?bbox={quote(INJECT)}", 400),
    # datetime
    ("/collections/places/items?datetime=yesterday", 400),
    ("/collections/occurrences/items?datetime=2021-13-01", 400),
    ("/collections/occurrences/items?datetime=2022-01-01/2021-01-01", 400),
    (f"/collections/occurrences/items?datetime={quote(QUOTE)}", 400),
    # CQL2
    ("/collections/places/items?filter=name%20%3D", 400),
    ("/collections/places/items?filter=nosuch%20%3D%201", 400),
    ("/collections/places/items?filter=recorded_by%20%3D%201", 400),
    (f"/collections/places/items?filter={quote(chr(39) + INJECT)}", 400),
    (
        f"/collections/places/items?filter={quote('name = ' + chr(39) + 'x' + chr(39) + '; DROP TABLE places')}",
        400,
    ),
    ("/collections/places/items?filter=%7Bbroken", 400),
    ("/collections/places/items?filter=name%3D%27x%27&filter-lang=sql", 400),
    ("/collections/places/items?filter=pg_sleep(10)%20%3D%201", 400),
    ("/collections/occurrences/items?filter=recorded_by%20LIKE%20%27%25%27", 400),
    # values of the wrong type for a property, arithmetic on text, division by zero
    ("/collections/places/items?filter=name%20%3E%205", 400),
    ("/collections/places/items?filter=population%20%3D%20%27abc%27", 400),
    ("/collections/places/items?filter=population%20%2F%200%20%3E%201", 400),
    ("/collections/places/items?filter=population%20%2B%20name%20%3E%201", 400),
    ("/collections/places/items?filter=S_INTERSECTS(name%2C%20geometry)", 400),
    ("/collections/places/items?filter=name%20%3D%20true", 400),
    ("/collections/places/items?filter=scalerank%20IN%20(%27a%27%2C%20%27b%27)", 400),
    ("/collections/places/items?filter=population%20BETWEEN%20%27a%27%20AND%20%27b%27", 400),
    ("/collections/places/items?filter=name", 400),
    # properties, limit, offset, f, unknown parameters
    ("/collections/places/items?properties=name,nosuch", 400),
    (f"/collections/places/items?properties={quote(INJECT)}", 400),
    ("/collections/places/items?limit=100000", 400),
    ("/collections/places/items?limit=0", 400),
    ("/collections/places/items?limit=abc", 400),
    ("/collections/places/items?offset=-1", 400),
    (f"/collections/places/items?limit={quote(INJECT)}", 400),
    ("/collections/places/items?f=xml", 400),
    (f"/collections/places/items?{quote(INJECT)}=1", 400),
    ("/collections/places/items?crs=EPSG:3857", 400),
    # tiles
    ("/collections/places/tiles/NoGrid/1/0/0", 404),
    ("/collections/places/tiles/WebMercatorQuad/3/0/8", 404),
    ("/collections/places/tiles/WebMercatorQuad/3/8/0", 404),
    ("/collections/places/tiles/WebMercatorQuad/-1/0/0", 404),
    ("/collections/places/tiles/WebMercatorQuad/25/0/0", 404),
    ("/collections/places/tiles/WorldCRS84Quad/0/1/0", 404),
    ("/collections/places/tiles/WebMercatorQuad/a/b/c", 400),
    (f"/collections/places/tiles/WebMercatorQuad/{quote(INJECT)}/0/0", 400),
    ("/collections/places/tiles/WebMercatorQuad/1/0/0?f=png", 400),
    ("/tileMatrixSets/Nope", 404),
    ("/rasters/nope/tiles/WebMercatorQuad/1/0/0.png", 404),
    ("/rasters/relief/tiles/WebMercatorQuad/1/0/0.png?style=rainbow", 400),
    (f"/rasters/{quote(QUOTE)}/tiles/WebMercatorQuad/1/0/0.png", 404),
    # downloads
    ("/collections/places/download?format=shp", 400),
    ("/collections/places/download?format=gpkg&bbox=1,2", 400),
    ("/collections/places/download?format=csv&filter=nosuch%3D1", 400),
    ("/collections/nope/download", 404),
    ("/collections/nope/map", 404),
]


@pytest.mark.parametrize(("url", "status"), CASES)
def test_bad_input_answers_with_an_ogc_exception(client, url: str, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(url)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"code", "description"}
    assert body["description"]


def test_the_database_survived(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/collections/places/items?limit=1").json()["numberMatched"] > 300


def test_database_errors_caused_by_a_request_are_its_errors(engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from api.ogc import query_errors
    from geo.errors import InvalidInput, TooLarge

    with pytest.raises(InvalidInput), query_errors(), engine.connect() as conn:
        conn.execute(text("SELECT 1 / 0"))
    with pytest.raises(TooLarge), query_errors(), engine.connect() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 10"))
        conn.execute(text("SELECT pg_sleep(1)"))

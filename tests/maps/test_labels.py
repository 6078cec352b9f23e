"""Map labels (GET /labels): place names in the request's language, by importance for the
zoom, only from what the public sees; a clear 400 for a bad view."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from layers import labels
from layers.labels import LabelSource, label_query

ALMATY = "76.5,43.0,77.4,43.5"
REGION = "46,35,88,56"


def labelled(client: Any, bbox: str, zoom: int, lang: str) -> list[dict[str, Any]]:
    r = client.get(
        "/labels", params={"bbox": bbox, "zoom": zoom}, headers={"Accept-Language": lang}
    )
    assert r.status_code == 200, r.text
    assert r.json()["lang"] == lang
    return list(r.json()["labels"])


@pytest.mark.parametrize(
    ("lang", "city", "town"),
    [("ru", "Алматы", "Каскелен"), ("kk", "Алматы", "Қаскелең"), ("en", "Almaty", "Qaskeleñ")],
)
def test_labels_in_the_request_language(client: Any, lang: str, city: str, town: str) -> None:
    got = labelled(client, ALMATY, 10, lang)
    names = [g["name"] for g in got]
    assert names[0] == city and got[0]["kind"] == "settlement"
    assert got[0]["lat"] == pytest.approx(43.24, abs=0.05)
    assert town in names
    assert {"protected_area", "settlement"} <= {g["kind"] for g in got}


def test_zoom_decides_what_is_labelled(client: Any) -> None:
    """The whole region at zoom 5: cities and ranges, no villages; closer in, towns too."""
    wide = labelled(client, REGION, 5, "en")
    cities = client.get(
        "/collections/settlements/items",
        params={"filter": "place = 'city'", "limit": 100, "f": "json"},
    ).json()["features"]
    city_names = {f["properties"]["name_en"] or f["properties"]["name"] for f in cities}
    settlements = {g["name"] for g in wide if g["kind"] == "settlement"}
    assert settlements and settlements <= city_names
    assert "range" in {g["kind"] for g in wide}
    assert "Qaskeleñ" not in {g["name"] for g in labelled(client, ALMATY, 6, "en")}
    # ranges are not labelled up close
    assert "range" not in {g["kind"] for g in labelled(client, ALMATY, 12, "en")}


def test_labels_are_cached_by_data_version(client: Any) -> None:
    r = client.get("/labels", params={"bbox": ALMATY, "zoom": 9})
    assert r.status_code == 200 and r.headers["etag"]
    assert "Accept-Language" in r.headers["vary"] and "Cookie" in r.headers["vary"]
    again = client.get(
        "/labels", params={"bbox": ALMATY, "zoom": 9}, headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    other = client.get(
        "/labels", params={"bbox": ALMATY, "zoom": 9}, headers={"Accept-Language": "ru"}
    )
    assert other.headers["etag"] != r.headers["etag"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"bbox": "1,2,3", "zoom": 5}, "four numbers"),
        ({"bbox": "a,b,c,d", "zoom": 5}, "four numbers"),
        ({"bbox": "77,43,76,44", "zoom": 5}, "west < east"),
        ({"bbox": "76,43,77,44", "zoom": 30}, "zoom"),
        ({"bbox": "76,43,77,44"}, "zoom"),
    ],
)
def test_a_bad_view_gets_a_400(client: Any, params: dict[str, Any], words: str) -> None:
    r = client.get("/labels", params=params)
    assert r.status_code == 400, r.text
    assert words in r.text


def test_only_what_the_public_sees_is_labelled(db_tx: Any) -> None:
    """Rows hidden from the public (unpublished threats) are never labelled; a layer that
    generalises locations for the public (occurrences) cannot be a source at all."""
    with db_tx.engine.begin() as conn:
        for name, published in (("Zqx camp open", True), ("Zqx camp hidden", False)):
            conn.execute(
                text(
                    "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                    " source, licence, method) SELECT :n, kind, status, links, properties, :p,"
                    " ST_SetSRID(ST_MakePoint(77.0, 43.1), 4326), source, licence, method"
                    " FROM threats LIMIT 1"
                ),
                {"n": name, "p": published},
            )
        src = LabelSource(
            "threats",
            "threat",
            {"en": ("name",)},
            min_zoom=lambda _: 0,
            tier=lambda _: 0,
            area=True,
        )
        rows = conn.execute(label_query((76.9, 43.0, 77.1, 43.2), 10, "en", sources=(src,))).all()
        assert [r.name for r in rows if r.name.startswith("Zqx")] == ["Zqx camp open"]
    sensitive = LabelSource(
        "occurrences",
        "occurrence",
        {"en": ("scientific_name",)},
        min_zoom=lambda _: 0,
        tier=lambda _: 0,
    )
    with pytest.raises(ValueError, match="never labelled"):
        label_query((76, 43, 77, 44), 10, "en", sources=(sensitive,))
    assert all(s.layer not in ("occurrences", "monitoring_points") for s in labels.SOURCES)


@pytest.mark.parametrize(
    ("lang", "syr", "ili"),
    [("ru", "Сырдарья", "Или"), ("kk", "Сырдария", "Іле"), ("en", None, "Ile")],
)
def test_main_rivers_are_labelled_along_their_lines(
    client: Any, engine: Any, lang: str, syr: str | None, ili: str
) -> None:
    """The Syr Darya at zoom 6 and the Ili at zoom 7 are named in the reader's language, at a
    point of the river inside the view, turned along it; other labels are not turned; closer
    in than zoom 11 Natural Earth's coarse lines are not labelled."""
    view = (64.0, 40.0, 72.0, 46.0)
    got = labelled(client, ",".join(map(str, view)), 6, lang)
    rivers = [g for g in got if g["kind"] == "river"]
    assert all("angle" not in g for g in got if g["kind"] != "river")
    assert rivers and all(-90 <= g["angle"] < 90 for g in rivers)
    if syr is not None:
        assert syr in {g["name"] for g in rivers}
    with engine.connect() as conn:
        for g in rivers:
            assert view[0] <= g["lon"] <= view[2] and view[1] <= g["lat"] <= view[3]
            # on the river's line (5 decimals of a degree: within a metre or two)
            metres = conn.execute(
                text(
                    "SELECT min(ST_Distance(geom::geography,"
                    " ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)) FROM rivers"
                    " WHERE coalesce(name_kk, name_ru, name) = :n OR name_ru = :n OR name = :n"
                ),
                {"x": g["lon"], "y": g["lat"], "n": g["name"]},
            ).scalar_one()
            assert metres < 5, g
    ile = {g["name"] for g in labelled(client, "74,42,80,45", 7, lang) if g["kind"] == "river"}
    assert ili in ile
    assert not [
        g for g in labelled(client, "76.9,43.6,77.4,44.0", 12, lang) if g["kind"] == "river"
    ]


def test_a_river_label_follows_the_rivers_direction(db_tx: Any) -> None:
    """The angle is the river's direction at the label (Web Mercator, clockwise from the
    horizontal): a river drawn straight east is not turned, one drawn north-east is turned by
    -45 degrees, one drawn south-east by 45."""
    src = next(s for s in labels.SOURCES if s.layer == "rivers")
    with db_tx.engine.begin() as conn:
        for name, line in [
            ("test east", "LINESTRING(10 0.5, 11 0.5)"),
            ("test north-east", "LINESTRING(10 1, 11 1.9996447)"),  # 45 degrees in Mercator
            ("test south-east", "LINESTRING(10 4, 11 3.0018789)"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO rivers (geom, name, scalerank, properties, source, licence,"
                    " method) VALUES (ST_Multi(ST_GeomFromText(:g, 4326)), :n, 2, '{}',"
                    " 'test', 'test', 'example')"
                ),
                {"g": line, "n": name},
            )
        rows = conn.execute(label_query((9.0, 0.0, 12.0, 4.5), 6, "en", sources=(src,))).all()
    angles = {r.name: float(r.angle) for r in rows}
    assert angles["test east"] == pytest.approx(0, abs=0.5)
    assert angles["test north-east"] == pytest.approx(-45, abs=0.5)
    assert angles["test south-east"] == pytest.approx(45, abs=0.5)

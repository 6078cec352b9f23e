"""Former names of settlements and places: the reviewed list names features of the data, the
demo stores them, and name search finds a town by a former name (Issyk for Esik, Frunze for
Bishkek) and shows its current name in the reader's language."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, update

import pyogrio

from api.db import models as m
from api.demo.loader import FORMER_NAME_KEYS, FORMER_NAMES, former_names, load_former_names
from geo.names import SEPARATOR

FILES = {
    "settlements": ("places/hotosm_kaz_populated_places.gpkg", "osm_id"),
    "places": ("natural_earth/ne10m_populated_places_central_asia.gpkg", "name"),
}


def found(client: Any, q: str, lang: str = "en") -> list[dict[str, Any]]:
    r = client.get("/search", params={"q": q}, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def test_every_row_names_one_feature_of_the_data_and_gives_its_source(settings: Any) -> None:
    """Read the data files directly (not through Irbis): each row's key is one feature of its
    layer; its former names are distinct, none is the current name, and a source is given."""
    rows = former_names()
    assert rows and FORMER_NAMES.name == "former_names.csv"
    assert len({(r["layer"], r["key"]) for r in rows}) == len(rows)
    for layer, (file, column) in FILES.items():
        data = pyogrio.read_dataframe(
            settings.data_dir / file, read_geometry=False, columns=sorted({column, "name"})
        )
        # the loader writes the settlements' OSM ids as "node/<id>"
        keys = "node/" + data[column].astype(str) if layer == "settlements" else data[column]
        for r in (r for r in rows if r["layer"] == layer):
            match = data[keys == r["key"]]
            assert len(match) == 1, r
            names = r["former_names"].split(SEPARATOR)
            assert len(set(names)) == len(names) and all(n.strip() == n and n for n in names)
            assert match["name"].iloc[0] not in names, r
            assert r["source"].startswith("https://"), r
    assert {r["layer"] for r in rows} <= set(FORMER_NAME_KEYS)


def test_the_demo_stores_the_former_names(engine: Engine, demo: dict[str, int]) -> None:
    with engine.connect() as conn:
        esik = conn.execute(
            select(m.Settlement.name, m.Settlement.former_names).where(
                m.Settlement.osm_id == "node/243743625"
            )
        ).one()
        bishkek = conn.scalar(select(m.Place.former_names).where(m.Place.name == "Bishkek"))
    assert esik == ("Есік", "Issyk / Иссык")
    assert bishkek is not None and "Frunze" in bishkek.split(SEPARATOR)


def test_loading_again_writes_nothing_and_keeps_a_corrected_name(db_tx: Any) -> None:
    with db_tx.engine.begin() as conn:
        conn.execute(
            update(m.Place).where(m.Place.name == "Semey").values(former_names="Semipalatinsk")
        )
        conn.execute(update(m.Place).where(m.Place.name == "Bishkek").values(former_names=None))
    assert load_former_names(db_tx.engine) == 1
    assert load_former_names(db_tx.engine) == 0
    with db_tx.engine.connect() as conn:
        got = dict(
            conn.execute(
                select(m.Place.name, m.Place.former_names).where(
                    m.Place.name.in_(["Semey", "Bishkek"])
                )
            ).all()
        )
    assert got == {"Semey": "Semipalatinsk", "Bishkek": "Pishpek / Frunze / Пишпек / Фрунзе"}


@pytest.mark.parametrize(
    ("q", "lang", "name"),
    [
        ("Issyk", "en", "Esik"),
        ("Иссык", "ru", "Есик"),
        ("Issyk", "kk", "Есік"),
        ("Kapchagay", "en", "Qonaev"),
        ("Капчагай", "ru", "Конаев"),
        ("Semipalatinsk", "en", "Semey"),
        ("Семипалатинск", "kk", "Семей"),
        ("Tselinograd", "en", "Astana"),
        ("Akmola", "en", "Astana"),
        ("Nur-Sultan", "ru", "Астана"),
        ("Dzhambul", "ru", "Тараз"),
        ("Aulie-Ata", "en", "Taraz"),
    ],
)
def test_a_former_name_finds_the_settlement_first_by_its_current_name(
    client: Any, q: str, lang: str, name: str
) -> None:
    first = found(client, q, lang)[0]
    assert (first["layer"], first["name"]) == ("settlements", name)


def test_a_former_name_finds_a_place_outside_kazakhstan(client: Any) -> None:
    """Bishkek, a Natural Earth place (the settlements are Kazakhstan's), by its Soviet name;
    the lake Issyk-Kul is still found by "Issyk", after the town."""
    assert ("places", "Bishkek") in {(r["layer"], r["name"]) for r in found(client, "Frunze")}
    assert ("places", "Бишкек") in {(r["layer"], r["name"]) for r in found(client, "Фрунзе", "ru")}
    issyk = [(r["layer"], r["name"]) for r in found(client, "Issyk")]
    assert issyk.index(("settlements", "Esik")) < issyk.index(("lakes", "Issyk-Kul"))


def test_a_misspelt_former_name_is_found_by_similarity(client: Any) -> None:
    assert found(client, "Semipalatinks")[0]["name"] == "Semey"


@pytest.mark.parametrize(
    ("lang", "title"),
    [("en", "Former names"), ("ru", "Прежние названия"), ("kk", "Бұрынғы атаулары")],
)
def test_a_settlements_page_and_its_feature_show_its_former_names(
    client: Any, engine: Engine, demo: dict[str, int], lang: str, title: str
) -> None:
    """Esik's page lists "Issyk / Иссык" under a translated title; Bishkek's GeoJSON carries
    its former names."""
    with engine.connect() as conn:
        esik = conn.scalar(select(m.Settlement.id).where(m.Settlement.osm_id == "node/243743625"))
        bishkek = conn.scalar(select(m.Place.id).where(m.Place.name == "Bishkek"))
    page = client.get(
        f"/collections/settlements/items/{esik}",
        params={"f": "html"},
        headers={"Accept-Language": lang},
    )
    assert page.status_code == 200
    assert f"<th>{title}</th><td>Issyk / Иссык</td>" in page.text
    feature = client.get(f"/collections/places/items/{bishkek}", params={"f": "geojson"}).json()
    assert feature["properties"]["former_names"] == "Pishpek / Frunze / Пишпек / Фрунзе"

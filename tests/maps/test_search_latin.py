"""Name search in Latin letters and by similarity (migration 0014): settlements named in
Cyrillic only are found by their Latin spellings, a slightly misspelt name finds its place,
the settlements are searched through their trigram indexes, and hostile queries get a 400 or
nothing, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text

from api.db import models as m
from geo.names import latin_names, search_key
from layers import search


def found(client: Any, q: str, lang: str = "en") -> list[dict[str, Any]]:
    r = client.get("/search", params={"q": q}, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def settlement_ids(engine: Engine, **names: str) -> set[int]:
    """Ids of the settlements with these names, read straight from the table."""
    t = m.Settlement.__table__
    with engine.connect() as conn:
        return set(
            conn.scalars(select(t.c.id).where(*(t.c[k] == v for k, v in names.items()))).all()
        )


@pytest.mark.parametrize(
    ("q", "names", "shown"),
    [
        # Russian spelling in Latin letters; the English name is "Qaskeleñ"
        ("Kaskelen", {"name": "Қаскелең"}, "Қаскелең"),
        # Kazakh spelling in Latin letters, and the Russian one (no English name in the data)
        ("Qandyaghash", {"name": "Қандыағаш", "name_ru": "Кандыагаш"}, "Қандыағаш"),
        ("kandyagash", {"name": "Қандыағаш", "name_ru": "Кандыагаш"}, "Қандыағаш"),
        ("Beyneu", {"name": "Бейнеу"}, "Бейнеу"),
        ("Zhitikara", {"name": "Жітіқара"}, "Жітіқара"),
        # a word of a name: "Zashaghan" is the Kazakh name, "Zachagansk" the Russian one
        ("zachag", {"name": "Зашаған"}, "Зашаған"),
    ],
)
def test_latin_spellings_find_settlements_named_in_cyrillic_only(
    client: Any, engine: Engine, q: str, names: dict[str, str], shown: str
) -> None:
    ids = settlement_ids(engine, **names)
    assert ids, names
    first = found(client, q, "kk")[0]
    assert (first["layer"], first["id"]) in {("settlements", i) for i in ids}
    assert first["name"] == shown


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("Shimkent", {"name_en": "Shymkent"}),  # y/i
        ("Jambyl", {"name": "Жамбыл"}),  # j/zh
        ("Jitikara", {"name": "Жітіқара"}),  # j/zh in a Russian spelling
        ("Kandyagach", {"name": "Қандыағаш"}),  # ch/sh
        ("Шимкент", {"name": "Шымкент"}),  # a Cyrillic misspelling
    ],
)
def test_a_misspelt_name_finds_the_place(
    client: Any, engine: Engine, q: str, names: dict[str, str]
) -> None:
    ids = settlement_ids(engine, **names)
    assert ids, names
    first = found(client, q)[0]
    assert first["layer"] == "settlements" and first["id"] in ids


def test_names_that_start_with_the_query_come_before_names_alike(engine: Engine) -> None:
    """The order: exact names, then names that start with the query, then names alike (the
    more alike first)."""
    rows = search.find(engine, "Kaskelen", "en", limit=20)
    assert rows[0].exact == 0 and rows[0].matched == "Қаскелең"
    kinds = [(r.exact, r.alike) for r in rows]
    assert kinds == sorted(kinds)
    alike = [r for r in rows if r.alike == 1]
    assert alike, "no name alike by similarity"
    assert [r.score for r in alike] == sorted((r.score for r in alike), reverse=True)
    assert all(search.SIMILARITY <= r.score < 1 for r in alike)


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _plan_nodes(child))]


@pytest.mark.parametrize("q", ["Kaskelen", "Shimkent", "Қаскел"])
def test_settlements_are_searched_through_their_trigram_indexes(engine: Engine, q: str) -> None:
    """Every searched column of the settlements is read through its trigram index, with the
    search's settings (:data:`layers.search.SESSION`) and the table's statistics (autovacuum
    gathers them within a minute of a load; here ``ANALYZE``)."""
    settlements = tuple(s for s in search.SOURCES if s.layer == "settlements")
    query = search.search_query(q, "en", sources=settlements)
    compiled = query.compile(dialect=engine.dialect)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE settlements"))
    with engine.connect() as conn, conn.begin():
        search.prepare(conn)
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params)
        doc = raw.scalar_one()
    plan = (json.loads(doc) if isinstance(doc, str) else doc)[0]["Plan"]
    nodes = _plan_nodes(plan)
    scans = {n["Node Type"] for n in nodes if n.get("Relation Name") == "settlements"}
    assert "Seq Scan" not in scans
    used = {n.get("Index Name") for n in nodes}
    names = ("name", "name_en", "name_ru", "name_kk", "former_names")
    expected = {f"settlements_{c}_trgm" for c in names}
    assert expected | {"settlements_name_latin_trgm"} <= used


@pytest.mark.parametrize(
    "q", ["%%%%", "____", "%a%", "Alm%", "Shim_ent", "\\\\", "'; --", "<%", "Almaty " * 12]
)
def test_hostile_queries_find_nothing_or_a_400_never_a_500(client: Any, q: str) -> None:
    r = client.get("/search", params={"q": q})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert "at most 80" in r.text
    else:
        assert r.json()["results"] == []


def test_latin_forms_are_made_on_insert_and_kept_by_the_loader(db_tx: Any, engine: Engine) -> None:
    """The column default fills ``name_latin`` on any insert through the model; the demo's
    settlements were loaded that way."""
    t = m.Settlement.__table__
    with db_tx.engine.begin() as conn:
        new = conn.execute(
            insert(t).returning(t.c.name_latin),
            [
                {
                    "osm_id": "node/-1",
                    "name": "Үшқоңыр",
                    "name_ru": "Ушконыр",
                    "iso_a3": "KAZ",
                    "geom": "SRID=4326;POINT(76.7 43.2)",
                    "source": "test",
                    "licence": "test",
                    "method": "example",
                }
            ],
        ).scalar_one()
    assert new == "Ushqongyr / Ushkonyr / uwkonir"
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, name_en, name_ru, name_kk, name_latin FROM settlements")
        ).all()
    assert sum(r.name_latin is not None for r in rows) > len(rows) / 2
    assert all(r.name_latin == latin_names(r.name, r.name_en, r.name_ru, r.name_kk) for r in rows)


def test_what_the_kazakh_letters_become() -> None:
    """anyascii's Kazakh: ә ғ қ ң ө ұ ү һ і (the spellings of the 2021 Latin alphabet's
    digraphs; the Russian names give the older spellings: Каскелен, Kaskelen)."""
    assert latin_names("ә ғ қ ң ө ұ ү һ і") == "a gh q ng o u u h i / a g k n o u u h i"
    assert latin_names("Almaty", "Алматы") == "almati"  # the search key only
    assert latin_names(None, "", "  ") is None


def layer_ids(engine: Engine, layer: str, column: str, value: str) -> set[int]:
    """Ids of a layer's features whose ``column`` is ``value``, read straight from the table."""
    with engine.connect() as conn:
        return set(conn.scalars(text(f"SELECT id FROM {layer} WHERE {column} = :v"), {"v": value}))


@pytest.mark.parametrize(
    ("q", "layer", "column", "value", "first"),
    [
        # й as i (the data and anyascii spell it y), the town before the place and district
        ("Beineu", "settlements", "name", "Бейнеу", True),
        ("Yesil", "settlements", "name", "Есіл", False),  # Е as ye
        # Ж as dzh, Ы as u (the city of Taraz, formerly Dzhambul, comes first)
        ("Dzhambul", "settlements", "name", "Жамбыл", False),
        # Ы as y or i, doubled letters, the Kazakh name of a lake named in English
        ("Issyk", "lakes", "name", "Issyk-Kul", False),
        ("Ystyqkol", "lakes", "name", "Issyk-Kul", True),
        ("Ysyk-Kol", "lakes", "name", "Issyk-Kul", True),
        ("Kapshagai", "lakes", "name", "Kapchagay Reservoir", False),
        # peaks by their Russian or Kazakh name in Latin letters
        ("Muztau", "peaks", "name", "Belukha", True),
        ("Pik Pobedy", "peaks", "name", "Pik Pobeda", True),
        # ranges and regions
        ("Betpakdala", "regions", "name", "BETPAQDALA DESERT", True),
        ("Tyan-Shan", "regions", "name", "TIAN SHAN", True),
        # protected areas, by the Kazakh spelling and Ң as ng
        ("Jongar Alatau", "protected_areas", "name", "Zhongar-Alatau National Park", True),
        ("Naurizim", "protected_areas", "name", "Naurzum Nature Reserve", False),
    ],
)
def test_spelling_variants_find_names_of_every_kind(
    client: Any, engine: Engine, q: str, layer: str, column: str, value: str, first: bool
) -> None:
    """Latin spellings that differ from the data's (and from anyascii's) by the usual
    variants find the feature; ``first``: it comes first."""
    ids = layer_ids(engine, layer, column, value)
    assert ids, (layer, value)
    results = [(r["layer"], r["id"]) for r in found(client, q, "ru")]
    wanted = {(layer, i) for i in ids}
    assert wanted & set(results), results
    if first:
        assert results[0] in wanted, results


def test_search_keys_made_by_python_and_by_the_database_agree(engine: Engine) -> None:
    """The database folds the small layers' names with :func:`layers.search.fold`, the
    settlements' keys are stored as :func:`geo.names.search_key` made them: both give the same
    key for every name in the data (a step that PostgreSQL read otherwise would differ)."""
    names = text(
        "SELECT DISTINCT n FROM ("
        " SELECT unnest(ARRAY[name, name_ru, name_kk]) FROM lakes"
        " UNION ALL SELECT unnest(ARRAY[name, name_ru, name_kk]) FROM peaks"
        " UNION ALL SELECT unnest(ARRAY[name, name_en, name_ru, name_kk]) FROM regions"
        " UNION ALL SELECT unnest(ARRAY[name, original_name, name_ru, name_kk])"
        " FROM protected_areas"
        " UNION ALL SELECT unnest(ARRAY[name_en, name_ru, name_kk]) FROM districts"
        " UNION ALL SELECT unnest(ARRAY[name, name_ru]) FROM places"
        " UNION ALL (SELECT unnest(ARRAY[name, name_ru, name_kk]) FROM settlements"
        " ORDER BY id LIMIT 1000)) AS t(n) WHERE n IS NOT NULL"
    ).columns(n=m.Settlement.__table__.c.name.type)
    probe = names.subquery()
    with engine.connect() as conn:
        rows = conn.execute(select(probe.c.n, search.fold(probe.c.n))).all()
    assert len(rows) > 1000
    differ = [(n, key) for n, key in rows if search_key(n) != key]
    assert differ == []
    # and the letters the steps fold are in the data
    keys = {key for _, key in rows}
    assert {"isik kul", "istikol", "beineu"} <= keys

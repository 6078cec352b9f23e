"""Name search (GET /search): any of the three languages, case-insensitive, by prefix of a
name or of one of its words; names answered in the request's language; only what the public
sees; a clear 400 for an empty or overlong query."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from layers import search
from layers.search import SearchSource, search_query


def found(client: Any, q: str, lang: str = "en", **params: Any) -> list[dict[str, Any]]:
    r = client.get("/search", params={"q": q, **params}, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lang"] == lang
    return list(body["results"])


@pytest.mark.parametrize(
    ("q", "lang", "name", "kind"),
    [
        ("алматы", "ru", "Алматы", "Населённые пункты Казахстана"),
        ("АЛМА", "kk", "Алматы", "Қазақстанның елді мекендері"),
        ("almaty", "en", "Almaty", "Settlements of Kazakhstan"),
        ("Алматы", "en", "Almaty", "Settlements of Kazakhstan"),
    ],
)
def test_a_city_by_any_of_its_names_first(
    client: Any, q: str, lang: str, name: str, kind: str
) -> None:
    results = found(client, q, lang)
    first = results[0]
    assert (first["name"], first["layer"], first["kind"]) == (name, "settlements", kind)
    assert first["lat"] == pytest.approx(43.24, abs=0.05)
    assert first["lon"] == pytest.approx(76.95, abs=0.05)
    assert first["href"].endswith(f"/collections/settlements/items/{first['id']}?f=html")
    assert all(len(r["bbox"]) == 4 for r in results)


def test_kazakh_names_and_districts_and_parks(client: Any) -> None:
    kk = found(client, "медеу", "kk")
    assert ("districts", "Медеу") in {(r["layer"], r["name"]) for r in kk}
    assert ("districts", "Медеуский") in {
        (r["layer"], r["name"]) for r in found(client, "Medeu", "ru")
    }
    # a word of the name: "Almaty Nature Reserve" by "reserve"; in Kazakh its Kazakh name
    parks = [r for r in found(client, "nature res", "kk") if r["layer"] == "protected_areas"]
    assert "Алматы қорығы" in {r["name"] for r in parks}
    # found by its Kazakh name, shown to a Russian reader in Russian, in English to others
    assert found(client, "Іле Алатауы", "ru")[0]["name"] == "Иле-Алатауский национальный парк"
    assert found(client, "Іле Алатауы", "en")[0]["name"] == "Ile-Alatau National Park"


def test_grants_by_code_or_title(client: Any) -> None:
    by_code = found(client, "sos-ca-ex-01")
    assert [r["layer"] for r in by_code] == ["grants"]
    assert by_code[0]["matched"] == "SOS-CA-EX-01"
    assert "SOS-CA-EX-01" in {r["matched"] for r in found(client, "SOS-CA")}
    by_title = found(client, "camera-trap")
    assert by_title and by_title[0]["layer"] == "grants"


def test_like_wildcards_in_the_query_are_literal(client: Any) -> None:
    assert found(client, "%") == []
    assert found(client, "_lmaty") == []
    assert found(client, "alm") != []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": ""}, "is empty"),
        ({"q": "   "}, "is empty"),
        ({}, "is empty"),
        ({"q": "x" * 81}, "at most 80"),
        ({"q": "alm\x00aty"}, "control characters"),
        ({"q": "alm", "limit": 0}, "limit"),
        ({"q": "alm", "limit": "many"}, "limit"),
    ],
)
def test_bad_queries_get_a_400_with_a_message(
    client: Any, params: dict[str, Any], words: str
) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 400, r.text
    assert words in r.text
    assert "Traceback" not in r.text and "psycopg" not in r.text


def test_a_refused_query_is_explained_in_the_maps_language(client: Any) -> None:
    """The map's search box asks with ``lang=``: the reason comes in that language too."""
    r = client.get("/search", params={"q": "x" * 81, "lang": "kk"})
    assert r.status_code == 400
    body = r.json()
    assert "at most 80" in body["description"]
    assert body["message"] == "Іздеу мәтінінің ұзындығы 81 таңба; ең көбі 80 таңба ізделеді."


def test_only_what_the_public_sees_is_found(db_tx: Any) -> None:
    """A layer with rows hidden from the public (unpublished threats): the builder finds the
    published one only; a layer that generalises locations is never searched."""
    with db_tx.engine.begin() as conn:
        for name, published in (("Zqx quarry open", True), ("Zqx quarry hidden", False)):
            conn.execute(
                text(
                    "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                    " source, licence, method) SELECT :n, kind, status, links, properties, :p,"
                    " geom, source, licence, method FROM threats LIMIT 1"
                ),
                {"n": name, "p": published},
            )
        threats = (SearchSource("threats", ("name",), {"en": ("name",)}, rank=1),)
        rows = conn.execute(search_query("zqx", "en", sources=threats)).all()
        assert [r.name for r in rows] == ["Zqx quarry open"]
    with pytest.raises(ValueError, match="never searched"):
        search_query(
            "x",
            "en",
            sources=(
                SearchSource(
                    "occurrences", ("scientific_name",), {"en": ("scientific_name",)}, rank=1
                ),
            ),
        )
    assert all(s.layer not in ("occurrences", "monitoring_points") for s in search.SOURCES)


def test_queries_of_one_shape_share_a_statement_and_keep_their_own_values(client: Any) -> None:
    """The statement is built once per language, limit and shape of query (by similarity or
    not, with a key that differs from the text or not): each query still finds what the
    statement built for it alone finds."""
    search._BUILT.clear()
    queries = ("Almaty", "Kaskelen", "Shymkent", "alm", "tal", "Алматы")
    for q in queries:
        answers = found(client, q)
        assert answers, q
        with client.app.state.reader_engine.connect() as conn, conn.begin():
            search.prepare(conn)
            alone = conn.execute(search_query(q, "en")).all()
        assert [(a["layer"], a["id"]) for a in answers] == [(r.layer, r.id) for r in alone], q
    assert len(search._BUILT) < len(queries)

"""Public threat dossiers (Kok-Jailau), their exports, the index as of a date, and the feed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import mapbox_vector_tile
import pytest
from lxml import etree
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import morecantile
import shapely
from shapely.geometry import box

from api.demo import data as dd
from layers.threats import overlap_overlays, overlaps

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def ile_alatau(engine: Engine, demo: dict[str, int]) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM protected_areas WHERE name = :n"),
                {"n": dd.ILE_ALATAU["name"]},
            ).scalar_one()
        )


def _number(html: str, element_id: str) -> float:
    m = re.search(rf'id="{element_id}">([\d,.]+) ha', html)
    assert m, f"no {element_id} in the page"
    return float(m.group(1).replace(",", ""))


def test_dossier_area_matches_postgis_geography(
    client: Any, engine: Engine, kok_jailau: int
) -> None:
    page = client.get(f"/threats/{kok_jailau}")
    assert page.status_code == 200
    with engine.connect() as conn:
        ha = conn.execute(
            text("SELECT ST_Area(geom::geography) / 1e4 FROM threats WHERE id = :id"),
            {"id": kok_jailau},
        ).scalar_one()
    assert _number(page.text, "footprint-area") == pytest.approx(ha, abs=0.1)
    assert ha == pytest.approx(dd.KOK_JAILAU["area_ha"], rel=1e-3)  # not degrees


def test_overlap_with_the_park_matches_postgis(
    engine: Engine, kok_jailau: int, ile_alatau: int
) -> None:
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT ST_Area(ST_Intersection(t.geom, p.geom)::geography) / 1e4 "
                "FROM threats t, protected_areas p WHERE t.id = :t AND p.id = :p"
            ),
            {"t": kok_jailau, "p": ile_alatau},
        ).scalar_one()
        geom = conn.execute(
            text("SELECT ST_AsBinary(geom) FROM threats WHERE id = :id"), {"id": kok_jailau}
        ).scalar_one()
        result = overlaps(conn, shapely.from_wkb(bytes(geom)))
    park = next(p for p in result["protected_areas"] if int(p["id"]) == ile_alatau)
    assert expected > 100
    assert park["overlap_ha"] == pytest.approx(expected, rel=1e-3)
    assert park["share"] == pytest.approx(expected / result["footprint_ha"], rel=1e-3)


def test_overlap_with_ecosystems_and_ranges(db_session: Session) -> None:
    """Ecosystems by kind, a species range and its latest modelled habitat, in hectares."""
    conn = db_session.connection()
    foot = box(76.90, 43.10, 77.00, 43.20)
    # the latest ecosystems run is what counts (earlier runs of other tests overlap it)
    eco_run = conn.execute(
        text(
            "INSERT INTO analysis_runs (kind, status) VALUES ('ecosystems', 'succeeded') "
            "RETURNING id"
        )
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO ecosystems (kind, properties, geom, source, licence, method, "
            "analysis_run_id) VALUES "
            "('mountain', '{}', ST_Multi(ST_MakeEnvelope(76.95, 43.0, 77.2, 43.3, 4326)), "
            "'test', 'CC0', 'modelled', :run), "
            "('other', '{}', ST_Multi(ST_MakeEnvelope(76.5, 43.0, 76.95, 43.3, 4326)), "
            "'test', 'CC0', 'modelled', :run)"
        ),
        {"run": eco_run},
    )
    sp = conn.execute(
        text(
            "INSERT INTO species (scientific_name, common_name_kk, iucn_category, sensitive, "
            "source) VALUES ('Testus irbis', 'Сынақ ілбіс', 'VU', true, 'test') RETURNING id"
        )
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO species_ranges (species_id, presence, origin, seasonal, geom, source, "
            "licence, method) VALUES (:sp, 1, 1, 1, "
            "ST_Multi(ST_MakeEnvelope(76.95, 43.15, 77.1, 43.3, 4326)), 'test', 'CC0', 'example')"
        ),
        {"sp": sp},
    )
    # two habitat runs: only the latest counts (a third of the footprint)
    for west in (76.80, 76.9333333):
        run = conn.execute(
            text(
                "INSERT INTO analysis_runs (kind, status) VALUES ('habitat', 'succeeded') "
                "RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO habitat (species_id, ecosystem, analysis_run_id, area_ha, geom, "
                "source, licence, method) VALUES (:sp, 'mountain', :run, 1, "
                "ST_Multi(ST_MakeEnvelope(:w, 43.0, 76.9666667, 43.3, 4326)), 't', 't', "
                "'modelled')"
            ),
            {"sp": sp, "run": run, "w": west},
        )
    result = overlaps(conn, foot)
    (hab,) = [h for h in result["habitat"] if h["scientific_name"] == "Testus irbis"]
    assert hab["share"] == pytest.approx(1 / 3, rel=0.01)
    assert hab["common_name_kk"] == "Сынақ ілбіс"  # for the dossier in Kazakh
    expected = {
        kind: conn.execute(
            text(
                "SELECT ST_Area(ST_Intersection(ST_Union(geom), ST_MakeEnvelope(76.90, 43.10, "
                "77.00, 43.20, 4326))::geography) / 1e4 FROM ecosystems "
                "WHERE kind = :k AND analysis_run_id = :run"
            ),
            {"k": kind, "run": eco_run},
        ).scalar_one()
        for kind in ("mountain", "other")
    }
    got = {e["kind"]: e["overlap_ha"] for e in result["ecosystems"]}
    assert got["mountain"] == pytest.approx(expected["mountain"], rel=1e-3)
    assert got["other"] == pytest.approx(expected["other"], rel=1e-3)
    assert sum(e["share"] for e in result["ecosystems"]) == pytest.approx(1.0, rel=1e-3)
    (rng,) = [r for r in result["ranges"] if r["scientific_name"] == "Testus irbis"]
    assert rng["share"] == pytest.approx(0.25, rel=0.01)
    layers = overlap_overlays(result)
    (habitat_layer,) = [k for k in layers if k.startswith("Modelled habitat: Testus irbis")]
    piece = shapely.geometry.shape(layers[habitat_layer][0]["geometry"])
    assert piece.bounds == pytest.approx((76.9333333, 43.10, 76.9666667, 43.20), abs=1e-6)
    assert any(k.startswith("Ecosystem: mountain") for k in layers)


def test_dossier_shows_the_timeline_and_facts(client: Any, kok_jailau: int) -> None:
    html = client.get(f"/threats/{kok_jailau}").text
    timeline = html[html.index('<ol class="timeline">') :]
    timeline = timeline[: timeline.index("</ol>")]
    dates = re.findall(r'<time datetime="([\d-]+)">', timeline)
    assert dates == [day for _, day, _ in dd.KOK_JAILAU["timeline"]]
    assert "Construction banned" in timeline
    bar = re.findall(r'<div class="period status (\w+)" style="flex-grow: ([\d.]+)"', html)
    assert [b[0] for b in bar] == ["approved", "halted", "proposed"]  # two halts merged
    assert sum(float(b[1]) for b in bar) == pytest.approx(1.0, abs=1e-3)
    assert "spruce forest to cut ha" in html and "470,000,000" in html
    forest = html[html.index('<tr class="forest">') :]
    assert "spruce forest to cut ha: 27" in forest[: forest.index("</tr>")]
    assert "/vendor/leaflet/dist/leaflet.js" in html
    assert "cdn." not in html.lower()


def _expected_status(day: dt.date) -> str | None:
    known = [(dt.date.fromisoformat(d), s) for s, d, _ in dd.KOK_JAILAU["timeline"]]
    before = [s for d, s in sorted(known) if d <= day]
    return before[-1] if before else None


@pytest.mark.parametrize("day", ["2013-06-01", "2019-06-01", "2020-01-01", "2025-06-01"])
def test_index_as_of_a_date(client: Any, kok_jailau: int, day: str) -> None:
    body = client.get("/threats", params={"as_of": day, "f": "json"}).json()
    kj = next(t for t in body["threats"] if t["id"] == kok_jailau)
    assert kj["status_as_of"] == _expected_status(dt.date.fromisoformat(day))
    html = client.get("/threats", params={"as_of": day}).text
    assert dd.KOK_JAILAU["name"] in html


def test_unknown_or_unpublished_threat_is_404(tx_client: Any, db_tx) -> None:
    assert tx_client.get("/threats/987654").status_code == 404
    with db_tx.engine.begin() as conn:
        hidden = conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom, "
                "source, licence, method) VALUES ('Hidden mine', 'mining', 'proposed', '{}', "
                "'{}', false, ST_MakeEnvelope(77.02, 43.15, 77.03, 43.16, 4326), 't', 't', 'observed') "
                "RETURNING id"
            )
        ).scalar_one()
    try:
        assert tx_client.get(f"/threats/{hidden}").status_code == 404
        assert tx_client.get(f"/threats/{hidden}/dossier.html").status_code == 404
        assert "Hidden mine" not in tx_client.get("/threats").text
        assert "Hidden mine" not in tx_client.get("/threats/feed.atom").text
        items = tx_client.get("/collections/threats/items", params={"limit": 1000})
        assert items.status_code == 200 and "Hidden mine" not in items.text
        assert tx_client.get(f"/collections/threats/items/{hidden}").status_code == 404
        for fmt in ("geojson", "csv"):
            dl = tx_client.get("/collections/threats/download", params={"format": fmt})
            assert dl.status_code == 200
            assert dd.KOK_JAILAU["name"] in dl.text and "Hidden mine" not in dl.text
        # the tile over Kok-Jailau carries the published threat, never the hidden one
        tile = morecantile.tms.get("WebMercatorQuad").tile(77.025, 43.155, 9)
        r = tx_client.get(f"/collections/threats/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}")
        assert r.status_code == 200
        names = [
            f["properties"].get("name")
            for layer in mapbox_vector_tile.decode(r.content).values()
            for f in layer["features"]
        ]
        assert dd.KOK_JAILAU["name"] in names and "Hidden mine" not in names
    finally:
        with db_tx.engine.begin() as conn:
            conn.execute(text("DELETE FROM threats WHERE id = :id"), {"id": hidden})


def test_export_html_is_self_contained(client: Any, kok_jailau: int) -> None:
    r = client.get(f"/threats/{kok_jailau}/dossier.html")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    html = r.text
    assert dd.KOK_JAILAU["name"] in html and "L.map(" in html  # Leaflet is inlined
    assert not re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="(?!data:)', html)
    assert not re.findall(r"url\((?!data:)['\"]?[a-z/]", html)
    assert "@import" not in html


def test_export_pdf(client: Any, kok_jailau: int) -> None:
    r = client.get(f"/threats/{kok_jailau}/dossier.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and r.content.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", r.content)) >= 2


def _feed(client: Any, **params: Any) -> etree._Element:
    r = client.get("/threats/feed.atom", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    return etree.fromstring(r.content)


def test_feed_is_valid_atom(client: Any, kok_jailau: int) -> None:
    feed = _feed(client)
    assert feed.tag == f"{ATOM}feed"
    for child in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{child}") is not None, child
    assert feed.find(f"{ATOM}link[@rel='self']").get("href").endswith("/threats/feed.atom")
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    updated = []
    for e in entries:
        for child in ("id", "title", "updated", "published", "summary"):
            assert e.find(f"{ATOM}{child}") is not None, child
        dt.datetime.fromisoformat(e.find(f"{ATOM}updated").text)  # RFC 3339
        updated.append(dt.datetime.fromisoformat(e.find(f"{ATOM}published").text))
    assert updated == sorted(updated, reverse=True)  # newest first
    kj = [e for e in entries if e.find(f"{ATOM}title").text == dd.KOK_JAILAU["name"]]
    assert kj and kj[0].find(f"{ATOM}link").get("href").endswith(f"/threats/{kok_jailau}")
    assert "1,002.0 ha" in kj[0].find(f"{ATOM}summary").text


def test_feed_per_protected_area(client: Any, engine: Engine, ile_alatau: int) -> None:
    titles = [t.text for t in _feed(client, protected_area=ile_alatau).iter(f"{ATOM}title")]
    assert any("Ile-Alatau" in t for t in titles[:1])
    assert dd.KOK_JAILAU["name"] in titles
    with engine.connect() as conn:
        far = conn.execute(
            text("SELECT id FROM protected_areas WHERE name = 'Aksu-Zhabagly Nature Reserve'")
        ).scalar_one()
    far_titles = [t.text for t in _feed(client, protected_area=far).iter(f"{ATOM}title")]
    assert dd.KOK_JAILAU["name"] not in far_titles
    assert client.get("/threats/feed.atom", params={"protected_area": 99999}).status_code == 404
    assert client.get("/threats/feed.atom", params={"protected_area": "x"}).status_code == 400

"""The maps speak the page's language: the words of the map scripts (popups, legend, search,
coordinates), the layer switcher, the base layers, the legend and the popups' property labels
are rendered translated into the page; every layer title and label is marked for translation."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, insert

from api import i18n
from api.db import models as m
from layers import map_words, maps
from layers.registry import layers
from layers.styles import legend_label
from tests.rollback import RolledBack

TOOLS = re.compile(r"Irbis\.tools\(\w+, (\{.*?\})\);", re.S)
LEGEND = re.compile(r"Irbis\.legend\(\w+, (\[.*?\]), (\"[^\"]*\")\);", re.S)
DATASET = re.compile(r"Irbis\.dataset\(\w+, \"[^\"]*\",\s*(\[.*?\]), \{", re.S)


def js(word: str) -> str:
    """``word`` as the map script spells it (a JSON string: non-ASCII as \\u escapes)."""
    return json.dumps(word)


def tools_of(html: str) -> dict[str, Any]:
    m = TOOLS.search(html)
    assert m, "the page hands no tools to the map scripts"
    return dict(json.loads(m.group(1)))


def page(client: Any, path: str, lang: str) -> str:
    r = client.get(path, headers={"Accept-Language": lang, "Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    assert "set-cookie" not in r.headers or "lang=" not in r.headers["set-cookie"]
    return str(r.text)


def test_every_layer_title_label_and_category_is_marked_for_translation() -> None:
    words = set(map_words.SPEC_WORDS)
    missing = set()
    for spec in layers():
        missing |= {spec.title, *(c.label for c in spec.columns)} - words
        for item in spec.style.categories:  # codes shown as words; species names are kept
            if item.label.islower():
                missing |= {maps.readable(legend_label(item.label))} - words
    assert not missing, f"add these to layers/map_words.py SPEC_WORDS (and translate): {missing}"


def test_russian_atlas_hands_russian_words_to_the_map_scripts(client: Any) -> None:
    html = page(client, "/atlas", "ru")
    tools = tools_of(html)
    assert tools["lang"] == "ru"
    texts = tools["texts"]
    assert (texts["yes"], texts["no"]) == ("да", "нет")
    assert texts["legend"] == "Легенда"
    assert (texts["observed"], texts["modelled"], texts["example"]) == (
        "наблюдение",
        "модель",
        "пример",
    )
    assert texts["source"] == "Источник" and texts["details"] == "подробнее"
    assert texts["search"] == "Найти место, парк, район или грант"
    assert set(texts) == set(map_words.JS_TEXTS)
    assert tools["search"] == "/search" and tools["labels"] == "/labels"
    # the layer switcher and the base layers
    assert js("Охраняемые территории") in html and js("Отмывка рельефа") in html
    assert "Shaded relief" not in html and '"Populated places"' not in html
    # the legend and its title
    entries = json.loads(LEGEND.search(html).group(1))  # type: ignore[union-attr]
    assert {"Охраняемые территории", "Озёра"} <= {e["label"] for e in entries}
    assert json.loads(LEGEND.search(html).group(2)) == "Атлас"  # type: ignore[union-attr]
    # the popups' property labels and layer titles
    described = {d["id"]: d for d in json.loads(DATASET.search(html).group(1))}  # type: ignore[union-attr]
    assert described["peaks"]["title"] == "Вершины и перевалы"
    assert described["peaks"]["labels"]["elevation_m"] == "Высота (м)"
    assert "<h1>Атлас</h1>" in html


def test_kazakh_layer_map_and_english_atlas(client: Any) -> None:
    kk = page(client, "/collections/lakes/map", "kk")
    tools = tools_of(kk)
    assert tools["texts"]["yes"] == "иә" and tools["texts"]["lat"] == "ендік"
    assert tools["search"] is None  # the search box is the atlas's
    assert js("Көлдер") in kk and js("Бедердің көлеңкелі бейнесі") in kk
    en = page(client, "/atlas", "en")
    tools = tools_of(en)
    assert tools["texts"]["yes"] == "yes" and tools["texts"] == map_words.JS_TEXTS
    assert "Shaded relief" in en and "Populated places" in en


def test_the_scale_is_metric_only_and_added_by_the_tools(client: Any) -> None:
    html = page(client, "/cases/kok-jailau", "ru")
    assert tools_of(html)["texts"]["centre"] == "центр карты"
    # folium's own scale (metric and imperial) is off; irbis-map.js adds a metric one
    assert "L.control.scale" not in html
    script = client.get("/static/irbis-map.js").text
    assert "L.control.scale({ metric: true, imperial: false" in script


def test_translations_reach_every_js_word() -> None:
    for lang in ("ru", "kk"):
        token = i18n.set_locale(lang)
        try:
            texts = map_words.js_texts(i18n.gettext)
        finally:
            i18n.reset(token)
        same = [k for k, v in texts.items() if v == map_words.JS_TEXTS[k]]
        assert not same, f"{lang}: untranslated map words {same}"


def _overlap_run_with_a_feature(db: RolledBack) -> int:
    with db.engine.begin() as conn:
        run_id = conn.scalar(
            insert(m.AnalysisRun)
            .values(kind="overlap", status="succeeded", parameters={}, inputs={}, results={})
            .returning(m.AnalysisRun.id)
        )
        conn.execute(
            insert(m.AnalysisFeature).values(
                run_id=run_id,
                kind="overlap",
                properties={"area_ha": 1.0},
                geom=func.ST_GeomFromText("POLYGON((77 43,77.1 43,77.1 43.1,77 43.1,77 43))", 4326),
            )
        )
    return int(run_id)


def test_grant_analysis_and_scenario_maps_speak_the_page_language(
    db_tx: RolledBack, tx_client: Any, solved_scenario: int
) -> None:
    """Every page with a map hands the page's words to its map scripts, not only the atlas."""
    client = tx_client
    code = client.get("/api/grants").json()[0]["code"]
    run_id = _overlap_run_with_a_feature(db_tx)
    paths = [
        f"/grants/{code}",
        "/grants",
        f"/analyses/{run_id}",
        f"/prioritisation/scenarios/{solved_scenario}/map",
    ]
    for path in paths:
        for lang, yes in (("ru", "да"), ("kk", "иә")):
            tools = tools_of(page(client, path, lang))
            assert tools["lang"] == lang, path
            assert tools["texts"]["yes"] == yes, path
            assert tools["labels"] == "/labels", path

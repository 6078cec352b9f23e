"""A run page shows its parameters under labels in the reader's language, with their values
formatted (dates in words, hectares, yes/no, layer and epoch names), not as raw JSON."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from sqlalchemy import insert

from api.db import models as m
from geo.funding import RULE
from tests.rollback import RolledBack


class _Parameters(HTMLParser):
    """The label and the text of each parameter listed in ``#parameters``, read from the page
    as a browser would (nested lists flattened to their text)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0  # elements open inside #parameters (0: outside)
        self.lists = 0  # <dl> open inside #parameters
        self.rows: list[list[str]] = []
        self.part = 0  # 0: label (dt), 1: value (dd)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.inside:
            self.inside += 1
        elif ("id", "parameters") in attrs:
            self.inside = 1
            return
        if not self.inside:
            return
        if self.rows:  # nested elements read as separate words, as a page shows them
            self.rows[-1][self.part] += " "
        if tag == "dl":
            self.lists += 1
        elif self.lists == 1 and tag == "dt":
            self.rows.append(["", ""])
            self.part = 0
        elif self.lists == 1 and tag == "dd":
            self.part = 1

    def handle_endtag(self, tag: str) -> None:
        if self.inside:
            self.inside -= 1
            if tag == "dl":
                self.lists -= 1

    def handle_data(self, data: str) -> None:
        if self.inside and self.rows:
            self.rows[-1][self.part] += data

    def parameters(self) -> dict[str, str]:
        """Label -> value, every run of white space (no-break spaces too) as one space."""
        return {" ".join(k.split()): " ".join(v.split()) for k, v in self.rows}


def _page_parameters(client: Any, run_id: int, lang: str) -> dict[str, str]:
    r = client.get(f"/analyses/{run_id}", params={"lang": lang}, headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    parser = _Parameters()
    parser.feed(r.text)
    return parser.parameters()


def _run(db: RolledBack, kind: str, parameters: dict[str, Any]) -> int:
    with db.engine.begin() as conn:
        run_id = conn.scalar(
            insert(m.AnalysisRun)
            .values(kind=kind, status="succeeded", parameters=parameters, inputs={}, results={})
            .returning(m.AnalysisRun.id)
        )
    assert run_id is not None
    return int(run_id)


FUNDED = "field sites of grants under way on the date"


def test_overlap_parameters_in_russian(db_tx: RolledBack, tx_client: Any) -> None:
    run_id = _run(
        db_tx,
        "overlap",
        {
            "layers": ["protected_areas", "field_sites"],
            "as_of": "2021-06-30",
            "funded": FUNDED,
            "dissolved": True,
        },
    )
    shown = _page_parameters(tx_client, run_id, "ru")
    assert shown == {
        "Пересекаемые слои": "Охраняемые территории, Полевые участки",
        "Финансируемые полевые участки учтены на дату": "30 июня 2021 г.",
        "Финансируемые полевые участки": FUNDED,
        "dissolved": "да",  # a parameter with no label yet is still shown, under its name
    }


def test_loss_and_gaps_parameters_in_russian_and_kazakh(db_tx: RolledBack, tx_client: Any) -> None:
    loss = _run(
        db_tx,
        "loss",
        {
            "threat": None,
            "epochs": {"current": "habitat_panthera_uncia_run_2"},
            "habitat_values": [1],
            "extra_layers": [],
            "as_of": "2021-06-30",
        },
    )
    gaps = _run(db_tx, "gaps", {"habitat_run": 2, "min_gap_ha": 1500.5})
    assert _page_parameters(tx_client, loss, "ru") == {
        "Угроза": "все опубликованные угрозы",
        "Сравниваемые растры местообитаний": "как сейчас: habitat_panthera_uncia_run_2",
        "Значения растра, считающиеся местообитанием": "1",
        "Другие слои, измеренные в контурах угроз": "нет",
        "Финансируемые полевые участки учтены на дату": "30 июня 2021 г.",
    }
    # hectares with the language's separators; an earlier run named and linked
    assert _page_parameters(tx_client, gaps, "ru") == {
        "Анализ местообитаний": "анализ 2",
        "Наименьший учитываемый пробел": "1 500,5 га",
    }
    assert _page_parameters(tx_client, gaps, "kk") == {
        "Мекендеу орындарын талдау": "2 талдауы",
        "Есепке алынатын ең кіші олқылық": "1 500,5 га",
    }
    page = tx_client.get(f"/analyses/{gaps}?lang=ru", headers={"Accept": "text/html"}).text
    assert '<a href="/analyses/2">анализ 2</a>' in page


def test_parameters_in_english_and_as_stored_in_json(db_tx: RolledBack, tx_client: Any) -> None:
    stored = {"layers": ["threats", "countries"], "as_of": "2021-06-30"}
    run_id = _run(db_tx, "overlap", stored)
    shown = _page_parameters(tx_client, run_id, "en")
    assert shown == {
        "Layers overlapped": "Threats, Countries",
        "Funded field sites counted on": "June 30, 2021",
    }
    # in the order of the labels, not the order JSONB keeps keys in (shorter first)
    assert list(shown) == ["Layers overlapped", "Funded field sites counted on"]
    body = tx_client.get(f"/analyses/{run_id}?f=json").json()
    assert body["parameters"] == stored


def test_habitat_parameters_of_each_species_in_russian(db_tx: RolledBack, tx_client: Any) -> None:
    run_id = _run(
        db_tx,
        "habitat",
        {
            "species": {
                "Panthera uncia": {
                    "elevation_min_m": 3000.0,
                    "elevation_min_by_region": {"Altai": 1000.0},
                    "range_countries": ["KAZ", "KGZ"],
                }
            },
            "ecosystems_run": 1,
        },
    )
    assert _page_parameters(tx_client, run_id, "ru") == {
        "Виды": "Panthera uncia Наименьшая высота 3 000 м "
        "Наименьшая высота по регионам Altai: 1 000 м Страны ареала KAZ, KGZ",
        "Анализ экосистем": "анализ 1",
    }


def test_parameter_values_are_escaped(db_tx: RolledBack, tx_client: Any) -> None:
    """Epoch labels and layer names come from the person who ran the analysis (a failed run
    keeps them too): they are shown as text, never as markup."""
    hostile = "<script>alert(1)</script>"
    run_id = _run(db_tx, "loss", {"epochs": {hostile: hostile}, "layers": [hostile]})
    page = tx_client.get(f"/analyses/{run_id}", headers={"Accept": "text/html"}).text
    assert hostile not in page
    assert _page_parameters(tx_client, run_id, "en") == {
        "Habitat rasters compared": f"{hostile}: {hostile}",
        "Layers overlapped": hostile,
    }


def test_rules_stored_as_prose_are_shown_in_the_readers_language(
    db_tx: RolledBack, tx_client: Any
) -> None:
    """The funding rule and the ecosystem rules are stored as English sentences (the JSON keeps
    them so); the page shows them in Russian or Kazakh. An older wording with no translation is
    shown as stored."""
    run_id = _run(
        db_tx,
        "ecosystems",
        {
            "funded": RULE,
            "glaciers": "inside the mountain class of their elevation",
            "aridity": "not assessed",
            "definition": "Kapos et al. (2000); UNEP-WCMC",
        },
    )
    ru = _page_parameters(tx_client, run_id, "ru")
    assert ru["Финансируемые полевые участки"].startswith("полевые участки грантов, действовавших")
    assert ru["Ледники"] == "в горном классе, соответствующем их высоте"
    assert ru["Аридность"] == "не оценивалось"
    assert ru["Определение гор"] == "Kapos et al. (2000); UNEP-WCMC"  # a citation as stored
    kk = _page_parameters(tx_client, run_id, "kk")
    assert "гранттардың далалық учаскелері" in " ".join(kk.values())
    assert "бағаланбаған" in kk.values()
    en = _page_parameters(tx_client, run_id, "en")
    assert RULE in en.values()
    assert tx_client.get(f"/analyses/{run_id}?f=json").json()["parameters"]["funded"] == RULE

"""The Aral Sea's water is MODIS land cover of 2019: the run pages that show lowland habitat and
the source of every ecosystem and habitat record say so, in each language."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.services import analyses as an
from api.settings import Settings

pytestmark = pytest.mark.cleaned_up  # its analysis runs are shared by its tests (module-scoped)

HTML = {"Accept": "text/html"}
NOTE = {
    "en": "Water, the Aral Sea's shore included, is MODIS land cover of 2019",
    "ru": "Вода, включая берег Аральского моря, взята из карты земного покрова MODIS 2019 года",
    "kk": "Су, соның ішінде Арал теңізінің жағалауы, MODIS 2019 жылғы жер жамылғысынан",
}


@pytest.fixture(scope="module")
def runs(engine: Engine, settings: Settings, demo: dict[str, int]) -> dict[str, int]:
    ecosystems = an.run_ecosystems(engine, settings)
    return {
        "ecosystems": ecosystems,
        "habitat": an.run_habitat(engine, settings, ecosystems_run=ecosystems),
    }


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_lowland_run_pages_say_the_water_is_of_2019(client: Any, runs: dict, lang: str) -> None:  # type: ignore[type-arg]
    for kind in ("ecosystems", "habitat"):
        page = client.get(f"/analyses/{runs[kind]}", headers={**HTML, "Accept-Language": lang})
        assert page.status_code == 200
        flat = " ".join(page.text.replace("&#39;", "'").split())
        assert NOTE[lang] in flat, (kind, lang)


def test_ecosystem_and_habitat_records_name_the_water_source(
    engine: Engine, runs: dict[str, int]
) -> None:
    with engine.connect() as conn:
        for table in ("ecosystems", "habitat"):
            sources = set(
                conn.execute(
                    text(f"SELECT DISTINCT source FROM {table} WHERE analysis_run_id = :r"),
                    {"r": runs[table]},
                ).scalars()
            )
            assert sources, table
            assert all("MCD12C1 land cover of 2019" in s for s in sources), (table, sources)

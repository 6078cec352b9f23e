"""Legends give the unit where a number drives the style: the plan's units shaded by how
often perturbed plans chose them (0–100 %), the shaded relief tinted by elevation (metres);
read from the rendered pages, in the page's language."""

from __future__ import annotations

from typing import Any

from layers import maps
from layers import prioritisation as lp
from layers.rastertiles import ELEVATION_STOPS
from tests.maps.test_legends_explain import legend_of


def _ramps(html: str) -> list[dict[str, Any]]:
    return [e for e in legend_of(html) if e["kind"] == "ramp"]


def test_the_plan_map_legend_gives_the_share_of_plans_in_percent(
    client: Any, solved_scenario: int
) -> None:
    url = f"/prioritisation/scenarios/{solved_scenario}/map"
    page = client.get(url, headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    plan = [e for e in _ramps(page.text) if e["group"] == "Plan: selected units"]
    assert len(plan) == 1
    assert plan[0]["label"] == "chosen in (share of perturbed plans): 0–100 %"
    # the ramp's ends are the fills of a unit chosen in no perturbed plan and in all of them
    ends = [lp._selected_style({"properties": {"frequency": f}})["fillOpacity"] for f in (0, 1)]
    assert [c.split(")")[0].rsplit(",", 1)[1] for c in plan[0]["colours"]] == [str(e) for e in ends]
    ru = client.get(url, headers={"Accept-Language": "ru"}).text
    (row,) = [e for e in _ramps(ru) if e["group"] == "План: выбранные единицы"]
    assert row["label"] == "выбрана в (доля возмущённых планов): 0–100 %"


def test_the_relief_legend_gives_elevations_in_metres(client: Any) -> None:
    for lang, group, words in (
        ("en", "Shaded relief", "Elevation (m)"),
        ("ru", "Отмывка рельефа", "Высота (м)"),
    ):
        html = client.get("/atlas", headers={"Accept-Language": lang}).text
        (relief,) = [e for e in _ramps(html) if e["group"] == group]
        low, high = ELEVATION_STOPS[0][0], ELEVATION_STOPS[-1][0]
        assert relief["label"] == f"{words}: {low:g}–{high:g}"
        assert len(relief["colours"]) == len(ELEVATION_STOPS)
        assert relief["colours"][0].endswith(" 0%") and relief["colours"][-1].endswith(" 100%")
        # shown while the shaded relief is the base layer: its tiles' URL holds the marker
        assert relief["tiles"] in maps.RELIEF_URL and relief["tiles"] not in maps.HILLSHADE_URL


def test_a_ramp_places_each_colour_at_its_value() -> None:
    row = maps.number_legend("Depth", [(0, "#000000"), (25, "#777777"), (100, "#ffffff")], unit="m")
    assert row["label"] == "Depth: 0–100 m"
    assert row["colours"] == ["#000000 0%", "#777777 25%", "#ffffff 100%"]

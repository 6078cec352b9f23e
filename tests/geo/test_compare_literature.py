"""The literature comparison table (scripts/compare_literature.py): ratios, published statements
where no area is published, and the rule that a ratio outside 0.67–1.5 must be explained."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_literature.py"


@pytest.fixture(scope="module")
def cl() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_literature", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _rows(table: str) -> dict[tuple[str, str], list[str]]:
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0] not in ("figure", "---"):
            out[(cells[0], cells[1])] = cells
    return out


def _modelled(kaz_gazelle_km2: float) -> pd.DataFrame:
    rows = [
        ("goitered gazelle habitat", "KAZ", kaz_gazelle_km2, "km²"),
        ("goitered gazelle habitat", "KGZ", 4_000.0, "km²"),
        ("goitered gazelle habitat", "TJK", 14_000.0, "km²"),
        ("goitered gazelle habitat", "UZB", 290_000.0, "km²"),
    ]
    return pd.DataFrame(rows, columns=["what", "iso3", "modelled", "unit"])


def test_gazelle_rows_compare_with_the_former_range_and_quote_the_rest(cl: ModuleType) -> None:
    text = cl.table(_modelled(1_500_000.0))
    rows = _rows(text)
    kaz = rows[("goitered gazelle habitat", "Kazakhstan")]
    # the former range: 58 % of Kazakhstan's 2,724,900 km² (desert 44 % + semi-desert 14 %)
    assert kaz[3].startswith("1,580,442 km²")
    assert kaz[4] == f"{1_500_000 / (0.58 * 2_724_900):.2f}"
    assert "[MK01]" in kaz[5] and kaz[6]
    for country, words in (
        ("Kyrgyzstan", "extirpated"),
        ("Tajikistan", "Tigrovaya Balka"),
        ("Uzbekistan", "breeding enclosure"),
    ):
        row = rows[("goitered gazelle habitat", country)]
        assert words in row[3] and row[4] == "–" and row[6].startswith("no ratio"), row
    # every cited key is listed under the table
    for key in ("[MK01]", "[KZ58]", "[KG25]", "[WWF09]", "[BL06]", "[ACBK20]", "[RBK]", "[RL17]"):
        assert f"- {key} " in text
    assert "goitered gazelle numbers" in text and "13,000–15,000" in text


def test_an_unexplained_ratio_outside_the_band_stops_the_script(
    cl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(cl.EXPLAINED, ("goitered gazelle habitat", "KAZ"))
    cl.table(_modelled(1_400_000.0))  # ratio 0.89: inside 0.67–1.5, no explanation needed
    with pytest.raises(SystemExit, match="not explained"):
        cl.table(_modelled(500_000.0))  # ratio 0.32


def _kazakhstan_shares(mountain: float, desert: float, arid: float) -> pd.DataFrame:
    rows = [
        ("mountain share", "KAZ", mountain, "%"),
        ("desert share", "KAZ", desert, "%"),
        ("arid lowland share", "KAZ", arid, "%"),
        # no published desert share elsewhere: this row is not shown
        ("desert share", "UZB", 60.0, "%"),
        ("arid lowland share", "UZB", 76.0, "%"),
        ("mountain share", "UZB", 13.0, "%"),
    ]
    return pd.DataFrame(rows, columns=["what", "iso3", "modelled", "unit"])


def test_kazakhstan_shares_compare_with_the_figures_read_at_their_source(cl: ModuleType) -> None:
    text = cl.table(_kazakhstan_shares(5.6, 24.0, 90.0))
    rows = _rows(text)
    mountain = rows[("mountain share", "Kazakhstan")]
    # the CBD Secretariat's profile: mountain 7 %, desert 32 %
    assert mountain[3] == "7.0 %" and mountain[4] == "0.80" and mountain[5] == "[CBD]"
    assert "12.4 %" in mountain[6] and "[LOC96]" in mountain[6]
    desert = rows[("desert share", "Kazakhstan")]
    assert desert[3] == "32.0 %" and desert[4] == "0.75" and desert[5] == "[CBD]"
    assert "44 % [KZ58]" in desert[6] and "secondary" in desert[6]
    # the Library of Congress's "more than three-quarters": a lower bound, ratio against 75 %
    arid = rows[("arid lowland share", "Kazakhstan")]
    assert arid[3].startswith("75.0 %") and "lower bound" in arid[3]
    assert arid[4] == "1.20" and arid[5] == "[LOC06]"
    assert ("desert share", "Uzbekistan") not in rows
    # Uzbekistan: "about 80 percent ... desert or arid steppe" [KO04] against the arid lowland;
    # "almost 80 percent" flat desert [LOC96U] leaves at most a fifth for the mountains: an
    # upper bound, which a smaller modelled share agrees with (and says so)
    uzb_arid = rows[("arid lowland share", "Uzbekistan")]
    assert uzb_arid[3].startswith("80.0 %") and uzb_arid[4] == "0.95" and uzb_arid[5] == "[KO04]"
    uzb_mountain = rows[("mountain share", "Uzbekistan")]
    assert uzb_mountain[3].startswith("20.0 %") and "at most" in uzb_mountain[3]
    assert uzb_mountain[4] == "0.65" and uzb_mountain[5] == "[LOC96U]"
    assert "upper bound" in uzb_mountain[6] and "valleys" in uzb_mountain[6]
    # the quotes and the addresses they were read at
    refs = {line.split(" ", 2)[1]: line for line in text.splitlines() if line.startswith("- [")}
    assert "desert (32%), and mountain (7%)" in refs["[CBD]"]
    assert "cbd.int/countries/profile/?country=kz" in refs["[CBD]"]
    assert "More than three-quarters of the country is desert or semi-desert" in refs["[LOC06]"]
    assert "hitpages.com/doc/4508415359451136/3/" in refs["[LOC06]"]
    assert "Only 12.4 percent of Kazakstan is mountainous" in refs["[LOC96]"]
    assert "desert topography that comprises almost 80 percent" in refs["[LOC96U]"]
    assert "**Secondary source**" in refs["[LOC96U]"]
    assert "About 80 percent of Uzbekistan is desert or arid steppe" in refs["[KO04]"]
    assert "studmed.ru" in refs["[KO04]"]


def test_figures_not_read_at_their_source_name_the_secondary_source(cl: ModuleType) -> None:
    text = cl.table(_modelled(1_500_000.0))
    refs = {line.split(" ", 2)[1]: line for line in text.splitlines() if line.startswith("- [")}
    # the four Survival Strategy figures as the reproduction gives them, and where it is
    for figure in ("Kazakhstan/50,000", "Kyrgyz Republic/105,000", "Tajikistan/100,000"):
        assert figure in refs["[SLSS03]"]
    assert "Uzbekistan/10,000" in refs["[SLSS03]"]
    for p in cl.PUBLISHED:
        if p.source == cl.SLSS:
            assert f"/{p.value:,.0f}/" in refs["[SLSS03]"], p
    assert "**Secondary source**" in refs["[SLSS03]"]
    assert "blogspot.com/2008/11/snow-leopard.html" in refs["[SLSS03]"]
    assert "**Secondary source**" in refs["[MK01]"] and "multiurok.ru" in refs["[MK01]"]
    assert "unbroken range throughout the semidesert and desert zones" in refs["[MK01]"]
    assert "**Secondary source**" in refs["[KZ58]"] and "advantour.com" in refs["[KZ58]"]
    # the 58 % used for the gazelle's former range is the one the secondary source gives
    assert "(44%) and semi-deserts (14%)" in refs["[KZ58]"]
    assert pytest.approx((0.44 + 0.14) * 2_724_900) == cl.KAZ_DESERT_ZONES_KM2

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

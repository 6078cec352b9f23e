"""Modelled figures against published ones: writes the comparison table into docs/analyses.md.

Runs the ecosystem classification and the Area of Habitat model of the demo (the same
functions, data and defaults as ``irbis analyse ecosystems`` and ``irbis analyse habitat``)
straight on the files of ``data/``, without the database, and compares:

- the mountain share of each programme country with the UNEP-WCMC (Kapos et al. 2000 /
  2002 criteria) figures published by GRID-Arendal (2016);
- the snow leopard's habitat per country with the national potential-habitat figures of the
  Snow Leopard Survival Strategy (McCarthy & Chapron 2003, Table 1);
- the goitered gazelle's habitat per country with what the literature says of its range
  there: the former range in Kazakhstan (the desert and semi-desert zones, Mallon &
  Kingswood 2001), extirpation and reintroduction in Kyrgyzstan, the surviving populations
  of Tajikistan and Uzbekistan; with its numbers and protection for context.

Usage: ``.venv/bin/python scripts/compare_literature.py`` (about 30 s); ``--print`` prints
the table instead of writing it.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import ecosystems as eco  # noqa: E402
from geo import habitat as hb  # noqa: E402
from geo import ranges as rg  # noqa: E402
from geo.crs import PROGRAMME_COUNTRIES, area_ha  # noqa: E402

DATA = ROOT / "data"
DOC = ROOT / "docs" / "analyses.md"
START, END = "<!-- literature:start -->", "<!-- literature:end -->"
NAMES = {"KAZ": "Kazakhstan", "KGZ": "Kyrgyzstan", "TJK": "Tajikistan", "UZB": "Uzbekistan"}

GRID_ARENDAL = "[GA16]"
SLSS = "[SLSS03]"
REFERENCES = {
    "[GA16]": "GRID-Arendal (2016) *Waste Management Outlook for Mountain Regions*, p. 9, map "
    '"Percentage of mountain area per country" (UNEP-WCMC 2002 criteria, i.e. Kapos et al. '
    "2000, on GTOPO30)",
    "[SLSS03]": "McCarthy, T.M. & Chapron, G. (eds.) (2003) *Snow Leopard Survival Strategy*, "
    "ISLT and SLN, Seattle: Table 1, potential habitat by range state (after Fox 1994) (the four "
    "national figures are transcribed as the table is commonly cited and have not been re-read "
    "from the printed table: check them there before quoting the ratios)",
    "[RL17]": "IUCN SSC Antelope Specialist Group (2017) *Gazella subgutturosa*, IUCN Red List "
    "e.T8976A50187422 (assessed 2016-08-08): Vulnerable A2acd; range described, no area per "
    "country; the Turkmen population has almost disappeared and the largest Kazakh one, "
    "formerly about 20,000, has declined drastically",
    "[RBK]": "Red Book of Kazakhstan, *Gazella subgutturosa* (redbook.kz, species 93): Ustyurt, "
    "Mangyshlak, Ili basin, Kyzylkum, Taukum and Moiynkum; 30,000–50,000 animals, 20,000–25,000 "
    "of them in Mangystau; protected in the Ustyurt and Barsa-Kelmes reserves, Altyn-Emel "
    "National Park and the Aktau-Buzachi reserve; no area",
    "[MK01]": "Mallon, D.P. & Kingswood, S.C. (2001) *Antelopes. Part 4: North Africa, the "
    'Middle East, and Asia*, IUCN, Gland: Kazakhstan chapter, "goitered gazelles formerly had '
    'an unbroken range throughout the semidesert and desert zones of Kazakhstan" (quoted as '
    "the chapter is reproduced online; the printed page not re-read)",
    "[KZ58]": "Kazakhstan's natural zones as commonly cited (e.g. Advantour, *Nature of "
    "Kazakhstan*): deserts 44 % and semi-deserts 14 % of 2,724,900 km²; to be checked against "
    "the National Atlas of Kazakhstan before the ratio is quoted",
    "[ACBK20]": "ACBK and IUCN Save Our Species (2020), reported by The Astana Times, 2020-08: "
    "13,000–15,000 goitered gazelles left in Kazakhstan, about 90 % fewer than in past decades",
    "[KG25]": "Ministry of Natural Resources of the Kyrgyz Republic (2025), reported by 24.kg: 30 "
    "gazelles from a breeding group brought from Uzbekistan in 2021–2022 released in Issyk-Kul "
    "region; the species had disappeared from Kyrgyzstan",
    "[WWF09]": "WWF Russia (2009) *Goitred gazelles: first month in the wild*: in Tajikistan two "
    "small populations survive, in the desert part of the Tigrovaya Balka reserve and in the "
    "north-west; animals reintroduced there since 2004–2005",
    "[BL06]": "BirdLife International (2006) IBA factsheet *Dzheiran Ecocentre* (Uzbekistan): "
    "a fenced 5,145 ha breeding enclosure with 899 goitered gazelles (2004 count), founded 1977",
}


@dataclass(frozen=True)
class Published:
    what: str
    iso3: str
    value: float | None  # None: no published figure; ``statement`` says what was found
    unit: str
    source: str
    statement: str = ""


#: Kazakhstan's desert (44 %) and semi-desert (14 %) zones, the gazelle's former range [MK01].
KAZ_DESERT_ZONES_KM2 = 0.58 * 2_724_900

PUBLISHED = [
    Published("mountain share", "KAZ", None, "%", GRID_ARENDAL),
    Published("mountain share", "KGZ", 90.7, "%", GRID_ARENDAL),
    Published("mountain share", "TJK", 91.9, "%", GRID_ARENDAL),
    Published("mountain share", "UZB", None, "%", GRID_ARENDAL),
    Published("snow leopard habitat", "KAZ", 50_000, "km²", SLSS),
    Published("snow leopard habitat", "KGZ", 105_000, "km²", SLSS),
    Published("snow leopard habitat", "TJK", 100_000, "km²", SLSS),
    Published("snow leopard habitat", "UZB", 10_000, "km²", SLSS),
    Published(
        "goitered gazelle habitat",
        "KAZ",
        KAZ_DESERT_ZONES_KM2,
        "km²",
        "[MK01], [KZ58]",
        "former unbroken range: the desert and semi-desert zones",
    ),
    Published(
        "goitered gazelle habitat",
        "KGZ",
        None,
        "km²",
        "[KG25]",
        "extirpated; 30 animals reintroduced at Issyk-Kul (2025)",
    ),
    Published(
        "goitered gazelle habitat",
        "TJK",
        None,
        "km²",
        "[WWF09]",
        "two small populations: Tigrovaya Balka's desert part and the north-west",
    ),
    Published(
        "goitered gazelle habitat",
        "UZB",
        None,
        "km²",
        "[RL17], [BL06]",
        "no national area; 51 km² fenced breeding enclosure (Ecocentre Dzheiran)",
    ),
]

#: Numbers and protection, for reading the habitat figures (no ratio: not an area).
CONTEXT = [
    (
        "goitered gazelle numbers",
        "Kazakhstan",
        "30,000–50,000 (Red Book, after Blank 1991); 13,000–15,000 (2020)",
        "[RBK], [ACBK20]",
        "the modelled habitat would hold about one gazelle per 100 km²: the species lives in "
        "scattered herds in a small part of it",
    ),
    (
        "goitered gazelle protected share",
        "Kazakhstan",
        "not found; protected in Ustyurt, Barsa-Kelmes, Altyn-Emel and Aktau-Buzachi",
        "[RBK]",
        "the gap analysis reports the modelled share; no published share to compare it with",
    ),
]

#: Why a ratio lies outside 0.67-1.5 (or why there is no ratio), and why the figures differ.
EXPLAINED = {
    ("mountain share", "KAZ"): "no national figure published in the source (map class only)",
    ("mountain share", "UZB"): "no national figure published in the source (map class only)",
    ("goitered gazelle habitat", "KAZ"): (
        "close to the former range by construction (both follow the desert and semi-desert "
        "zones); the species now lives in scattered populations (13,000–15,000 animals in "
        "2020), so both are an upper bound on the area occupied today"
    ),
    ("goitered gazelle habitat", "KGZ"): (
        "no ratio: the modelled habitat is the lowland the species occupied until the "
        "mid-20th century; today only the reintroduced herd lives there"
    ),
    ("goitered gazelle habitat", "TJK"): (
        "no ratio: the modelled south-western lowlands are potential habitat; the two "
        "surviving populations occupy a small part of them"
    ),
    ("goitered gazelle habitat", "UZB"): (
        "no ratio: no national area published; the modelled habitat covers the Kyzylkum and "
        "Ustyurt deserts, where wild herds are scattered"
    ),
}


def compute() -> pd.DataFrame:
    countries = gpd.read_file(DATA / "boundaries/ne10m_admin0_central_asia.gpkg", layer="admin0")
    countries = countries[countries["iso_a3"].isin(PROGRAMME_COUNTRIES)]
    ne_regions = gpd.read_file(DATA / "natural_earth/ne10m_geography_regions_central_asia.gpkg")
    ecoregions = gpd.read_file(DATA / "ecoregions/resolve2017_centralasia.geojson")
    grid = eco.classify_region(
        countries,
        DATA / "elevation/mapzen_pvlib_central_asia_5arcmin.tif",
        fine_dem=DATA / "elevation/gebco2023_tianshan_pamir_15s.tif",
        lakes=gpd.read_file(DATA / "natural_earth/ne10m_lakes_central_asia.gpkg"),
        glaciers=gpd.read_file(DATA / "natural_earth/ne10m_glaciated_areas_central_asia.gpkg"),
        koppen=DATA / "climate/kgc_rubel2017_koppen_centralasia.tif",
        aridity=DATA / "climate/koppen_beck2018_main_class_1km_centralasia.tif",
        landcover=DATA / "landcover/mcd12c1_2019_igbp_centralasia.tif",
        ecoregions=ecoregions,
    )
    rows = []
    for iso, c in grid.stats["countries"].items():
        rows.append(("mountain share", iso, 100 * c["mountain_ha"] / c["land_ha"], "%"))
    parts = rg.part_polygons(
        tuple(p for ps in rg.RANGES.values() for p in ps), ecoregions, ne_regions
    )
    label = {"Panthera uncia": "snow leopard", "Gazella subgutturosa": "goitered gazelle"}
    for sp, name in label.items():
        params = hb.default_params(sp)
        rng = hb.default_range(params, countries, parts=parts)
        h = hb.habitat_summary(hb.model_habitat(grid, params, rng, parts))
        by = h.groupby("iso3")["area_ha"].sum()
        for iso in PROGRAMME_COUNTRIES:
            rows.append((f"{name} habitat", iso, float(by.get(iso, 0.0)) / 100, "km²"))
        cut = gpd.overlay(rng, countries[["iso_a3", "geometry"]], how="intersection")
        cut["km2"] = area_ha(cut) / 100
        for iso, km2 in cut.groupby("iso_a3")["km2"].sum().items():
            rows.append((f"{name} modelled range", str(iso), float(km2), "km²"))
    return pd.DataFrame(rows, columns=["what", "iso3", "modelled", "unit"])


def table(modelled: pd.DataFrame) -> str:
    pub = {(p.what, p.iso3): p for p in PUBLISHED}
    lines = [
        "| figure | country | modelled | published | ratio | source | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in modelled.itertuples():
        p = pub.get((r.what, r.iso3))
        fmt = "{:.1f}" if r.unit == "%" else "{:,.0f}"
        mod = fmt.format(r.modelled) + f" {r.unit}"
        if p is None:
            if "modelled range" not in r.what:
                continue
            lines.append(f"| {r.what} | {NAMES[r.iso3]} | {mod} | – | – | – | for reference |")
            continue
        if p.value is not None:
            published = fmt.format(p.value) + f" {p.unit}"
            if p.statement:
                published += f" ({p.statement})"
        else:
            published = p.statement or "not found"
        ratio = r.modelled / p.value if p.value else None
        note = EXPLAINED.get((r.what, r.iso3), "")
        if ratio is not None and not 0.67 <= ratio <= 1.5 and not note:
            raise SystemExit(f"ratio {ratio:.2f} for {r.what} {r.iso3} is not explained")
        lines.append(
            f"| {r.what} | {NAMES[r.iso3]} | {mod} | {published} | "
            f"{f'{ratio:.2f}' if ratio is not None else '–'} | {p.source} | {note} |"
        )
    lines += ["", "| context | country | published | source | reading |", "|---|---|---|---|---|"]
    lines.extend(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in CONTEXT)
    lines.append("")
    lines.extend(f"- {k} {v}" for k, v in REFERENCES.items())
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print", action="store_true", help="print the table, do not write it")
    args = ap.parse_args()
    text = table(compute())
    if args.print:
        print(text)
        return
    doc = DOC.read_text(encoding="utf-8")
    block = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _m: block, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")
    print(f"table written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

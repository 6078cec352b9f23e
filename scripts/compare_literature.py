"""Modelled figures against published ones: writes the comparison table into docs/analyses.md.

Runs the ecosystem classification and the Area of Habitat model of the demo (the same
functions, data and defaults as ``irbis analyse ecosystems`` and ``irbis analyse habitat``)
straight on the files of ``data/``, without the database, and compares:

- the mountain share of each programme country with the UNEP-WCMC (Kapos et al. 2000 /
  2002 criteria) figures published by GRID-Arendal (2016);
- the snow leopard's habitat per country with the national potential-habitat figures of the
  Snow Leopard Survival Strategy (McCarthy & Chapron 2003, Table 1);
- the goitered gazelle's modelled range and habitat per country, where a published figure
  exists.

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
RED_LIST = "[RL17], [RBK]"
REFERENCES = {
    "[GA16]": "GRID-Arendal (2016) *Waste Management Outlook for Mountain Regions*, p. 9, map "
    '"Percentage of mountain area per country" (UNEP-WCMC 2002 criteria, i.e. Kapos et al. '
    "2000, on GTOPO30)",
    "[SLSS03]": "McCarthy, T.M. & Chapron, G. (eds.) (2003) *Snow Leopard Survival Strategy*, "
    "ISLT and SLN, Seattle: Table 1, potential habitat by range state (after Fox 1994)",
    "[RL17]": "IUCN SSC Antelope Specialist Group (2017) *Gazella subgutturosa*, IUCN Red List "
    "e.T8976A50187422: range described, no area per country",
    "[RBK]": "Red Book of Kazakhstan, *Gazella subgutturosa*: Ustyurt, Mangyshlak, Ili basin, "
    "Kyzylkum, Taukum and Moiynkum; no area",
}


@dataclass(frozen=True)
class Published:
    what: str
    iso3: str
    value: float | None  # None: no published figure found
    unit: str
    source: str


PUBLISHED = [
    Published("mountain share", "KAZ", None, "%", GRID_ARENDAL),
    Published("mountain share", "KGZ", 90.7, "%", GRID_ARENDAL),
    Published("mountain share", "TJK", 91.9, "%", GRID_ARENDAL),
    Published("mountain share", "UZB", None, "%", GRID_ARENDAL),
    Published("snow leopard habitat", "KAZ", 50_000, "km²", SLSS),
    Published("snow leopard habitat", "KGZ", 105_000, "km²", SLSS),
    Published("snow leopard habitat", "TJK", 100_000, "km²", SLSS),
    Published("snow leopard habitat", "UZB", 10_000, "km²", SLSS),
]
for iso in PROGRAMME_COUNTRIES:
    PUBLISHED.append(
        Published(
            "goitered gazelle habitat",
            iso,
            None,
            "km²",
            RED_LIST,
        )
    )

#: Why a ratio lies outside 0.67-1.5 (or why there is no ratio).
EXPLAINED = {
    ("mountain share", "KAZ"): "no national figure published in the source (map class only)",
    ("mountain share", "UZB"): "no national figure published in the source (map class only)",
    ("goitered gazelle habitat", "KAZ"): (
        "no published area; the modelled habitat follows the whole desert and semi-desert "
        "ecoregions, while the species now lives in scattered populations (Red Book of "
        "Kazakhstan): an upper bound"
    ),
    ("goitered gazelle habitat", "KGZ"): "no published area; marginal in Kyrgyzstan",
    ("goitered gazelle habitat", "TJK"): "no published area",
    ("goitered gazelle habitat", "UZB"): "no published area",
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
        published = fmt.format(p.value) + f" {p.unit}" if p.value is not None else "not found"
        ratio = r.modelled / p.value if p.value else None
        note = EXPLAINED.get((r.what, r.iso3), "")
        if ratio is not None and not 0.67 <= ratio <= 1.5 and not note:
            raise SystemExit(f"ratio {ratio:.2f} for {r.what} {r.iso3} is not explained")
        lines.append(
            f"| {r.what} | {NAMES[r.iso3]} | {mod} | {published} | "
            f"{f'{ratio:.2f}' if ratio is not None else '–'} | {p.source} | {note} |"
        )
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

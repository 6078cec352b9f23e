"""Modelled species ranges from published descriptions, as named ecoregions and mountain systems.

Without an IUCN range file (not redistributable), a species' range is built from what the
literature says about where it lives, expressed through polygons anyone can check: RESOLVE
2017 ecoregions (Dinerstein et al. 2017, *BioScience* 67:534, CC BY 4.0) and Natural Earth
physical regions (public domain; generalised label polygons). Each part of a range is a
:class:`RangePart`: its ecoregions and regions, an optional box that cuts them (where one
ecoregion spans two systems), a lower elevation limit where the literature gives one for that
system, and the source. An imported IUCN range always takes precedence (see
:mod:`geo.habitat`).

Snow leopard (*Panthera uncia*): the whole Tien Shan including its western ranges (Talas,
Ugam, Pskem, Chatkal), Pamir–Alay, Dzungarian Alatau, Altai and Saur–Tarbagatai. Goitered
gazelle (*Gazella subgutturosa*): the deserts and semi-deserts of southern Kazakhstan
(Ili–Balkhash, Moiynkum, Betpak-Dala, Kyzylkum, Ustyurt), Uzbekistan's deserts and
Tajikistan's south-western lowlands.

Examples
--------
>>> [p.name for p in SNOW_LEOPARD_RANGE][:2]
['Tien Shan (northern, inner and central)', 'Western Tien Shan']
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import shapely

from geo.crs import STORAGE_EPSG
from geo.ecosystems import MAX_EDGE_DEG
from geo.errors import InvalidInput


@dataclass(frozen=True)
class RangePart:
    """One named part of a modelled range.

    Attributes
    ----------
    name : str
        The part's name (a mountain system, a desert).
    ecoregions : tuple of str
        RESOLVE 2017 ``eco_name`` values whose union makes the part.
    regions : tuple of str
        Natural Earth region ``name`` values added to it.
    clip : tuple of float, optional
        ``(west, south, east, north)`` in degrees: the part is cut to this box (used where
        one ecoregion spans two systems).
    elevation_min_m : float, optional
        The species' lower elevation limit in this part, where the literature gives one.
    source : str
        Where the part and its limit come from.
    """

    name: str
    ecoregions: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    clip: tuple[float, float, float, float] | None = None
    elevation_min_m: float | None = None
    source: str = ""


_RL_UNCIA = (
    "McCarthy et al. (2017) Panthera uncia, IUCN Red List e.T22732A50664030: alpine and "
    "subalpine zones, 3,000-4,500 m, lower in the north of the range"
)
_KG_RED_BOOK = (
    "Red Book of the Kyrgyz Republic (2006), snow leopard: alpine and subalpine belts at "
    "3,000-4,000 m, in winter also the upper forest belt, following ibex"
)
_SLSS = (
    "Snow Leopard Network (2014) Snow Leopard Survival Strategy, ch. 2: down to the upper "
    "forest belt in the Tien Shan in winter; 1,800 m = lower edge of the Schrenk's spruce "
    "belt on the northern slopes (modelling choice)"
)
_AKSU = (
    "Shakula, V. (Wild Nature society) Snow leopard in Aksu-Zhabagly Nature Reserve: "
    "records every year in a reserve spanning 1,300-4,030 m in the Talas Alatau "
    "(1,500 m: modelling choice)"
)
_ALTAI = (
    "WWF Russia, Altai-Sayan ecoregion: snow leopards live down to 500-600 m there; "
    "Paltsyn et al. (2012) Snow Leopard Conservation in Russia, WWF (1,000 m: modelling "
    "choice above the lowest records)"
)
_PAMIR_ALAY = (
    _KG_RED_BOOK + "; in Uzbekistan most snow leopards live in the Pamir-Alay "
    "(Gissar, Turkestan ranges) and a smaller part in the Western Tien Shan "
    "(Snow Leopards, 2nd ed., ch. 34, Uzbekistan) (2,000 m: modelling choice)"
)

#: The snow leopard's modelled range in the four countries.
SNOW_LEOPARD_RANGE: tuple[RangePart, ...] = (
    RangePart(
        "Tien Shan (northern, inner and central)",
        ecoregions=("Tian Shan montane steppe and meadows", "Tian Shan montane conifer forests"),
        regions=("TIAN SHAN",),
        elevation_min_m=1800.0,
        source=_SLSS,
    ),
    RangePart(
        "Western Tien Shan",
        ecoregions=("Alai-Western Tian Shan steppe", "Gissaro-Alai open woodlands"),
        clip=(68.0, 40.6, 74.5, 43.5),
        elevation_min_m=1500.0,
        source=_AKSU,
    ),
    RangePart(
        "Pamir-Alay",
        ecoregions=(
            "Pamir alpine desert and tundra",
            "Gissaro-Alai open woodlands",
            "Alai-Western Tian Shan steppe",
        ),
        regions=("PAMIRS",),
        clip=(64.0, 36.0, 76.0, 40.6),
        elevation_min_m=2000.0,
        source=_PAMIR_ALAY,
    ),
    RangePart(
        "Dzungarian Alatau",
        regions=("Alataw Mts.",),
        elevation_min_m=1800.0,
        source=_SLSS,
    ),
    RangePart(
        "Altai",
        ecoregions=("Altai alpine meadow and tundra", "Altai montane forest and forest steppe"),
        regions=("ALTAY MOUNTAINS",),
        clip=(82.0, 48.3, 88.0, 51.5),
        elevation_min_m=1000.0,
        source=_ALTAI,
    ),
    RangePart(
        "Saur-Tarbagatai",
        ecoregions=("Altai alpine meadow and tundra",),
        regions=("Tarbagatay Ra.",),
        clip=(80.0, 46.5, 87.0, 48.3),
        elevation_min_m=1000.0,
        source=_ALTAI + "; " + _RL_UNCIA,
    ),
)

_RL_GAZELLE = (
    "IUCN SSC Antelope Specialist Group (2017) Gazella subgutturosa, IUCN Red List "
    "e.T8976A50187422: deserts and semi-deserts of the plains and foothills"
)
_MALLON = (
    "Mallon, D.P. & Kingswood, S.C. (2001) Antelopes. Part 4: North Africa, the Middle East "
    "and Asia. IUCN SSC Antelope Specialist Group: Kazakhstan (Ili-Balkhash, Moiynkum, "
    "Betpak-Dala, Kyzylkum, Ustyurt), Uzbekistan (deserts), Tajikistan (south-western "
    "lowlands)"
)

#: The goitered gazelle's modelled range in the four countries.
GOITERED_GAZELLE_RANGE: tuple[RangePart, ...] = (
    RangePart(
        "Northern deserts: Ili-Balkhash, Betpak-Dala, Ustyurt, northern Kyzylkum",
        ecoregions=("Central Asian northern desert",),
        source=_MALLON,
    ),
    RangePart(
        "Southern deserts: Kyzylkum, Uzbekistan's deserts",
        ecoregions=("Central Asian southern desert", "Caspian lowland desert"),
        source=_MALLON,
    ),
    RangePart(
        "Semi-deserts: Kazakh semi-desert (Betpak-Dala, Moiynkum margins)",
        ecoregions=("Kazakh semi-desert",),
        source=_RL_GAZELLE,
    ),
    RangePart(
        "Moiynkum and river valleys (riparian woodlands)",
        ecoregions=("Central Asian riparian woodlands",),
        source=_MALLON,
    ),
    RangePart(
        "Foothill arid steppe of the Tien Shan (Altyn-Emel, Ili valley)",
        ecoregions=("Tian Shan foothill arid steppe",),
        source=_MALLON,
    ),
    RangePart(
        "Tajikistan's south-western lowlands (Vakhsh, Kafirnigan, Tigrovaya Balka)",
        ecoregions=("Badghyz and Karabil semi-desert", "Gissaro-Alai open woodlands"),
        clip=(67.3, 36.6, 70.2, 38.3),
        source=_MALLON,
    ),
)

RANGES: dict[str, tuple[RangePart, ...]] = {
    "Panthera uncia": SNOW_LEOPARD_RANGE,
    "Gazella subgutturosa": GOITERED_GAZELLE_RANGE,
}


def part_polygons(
    parts: tuple[RangePart, ...],
    ecoregions: gpd.GeoDataFrame,
    regions: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """The polygon of each range part (columns ``name``, ``elevation_min_m``, ``source``).

    Raises
    ------
    InvalidInput
        A part names an ecoregion or region that is not in the data given.
    """
    eco = ecoregions.to_crs(STORAGE_EPSG)
    reg = regions.to_crs(STORAGE_EPSG) if regions is not None else None
    rows = []
    for p in parts:
        geoms = []
        for name in p.ecoregions:
            g = eco.loc[eco["eco_name"] == name].geometry
            if g.empty:
                raise InvalidInput(f"range part {p.name!r}: no ecoregion named {name!r}")
            geoms.extend(g)
        for name in p.regions:
            if reg is None:
                raise InvalidInput(f"range part {p.name!r} needs the Natural Earth regions")
            g = reg.loc[reg["name"] == name].geometry
            if g.empty:
                raise InvalidInput(f"range part {p.name!r}: no region named {name!r}")
            geoms.extend(g)
        geom = shapely.union_all([shapely.make_valid(g) for g in geoms])
        if p.clip is not None:
            # a box's edges run along parallels: densified, so that planar, equal-area and
            # geodesic (PostGIS geography) readings of the range agree
            box = shapely.segmentize(shapely.box(*p.clip), MAX_EDGE_DEG)
            geom = shapely.intersection(geom, box)
        rows.append(
            {
                "name": p.name,
                "elevation_min_m": p.elevation_min_m,
                "source": p.source,
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_EPSG)

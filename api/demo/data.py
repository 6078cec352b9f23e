"""The example records of the demo: an SOS Central Asia grant portfolio, protected areas and
the Kok-Jailau case. Every record here has ``method = 'example'``: the facts they rest on are
cited in ``source``; the geometries are schematic and never official boundaries.
"""

from __future__ import annotations

from typing import Any

SOS_SOURCE = (
    "IUCN Save Our Species Central Asia (Nov 2018 - Dec 2022): grants of 25,000-200,000 USD "
    "for the snow leopard and the goitered gazelle in KZ, KG, TJ, UZ. This grant is an "
    "illustrative example, not an actual award."
)
EXAMPLE_LICENCE = "CC0-1.0 (Irbis example record)"

SPECIES: list[dict[str, Any]] = [
    {
        "scientific_name": "Panthera uncia",
        "common_name_en": "Snow leopard",
        "common_name_ru": "Снежный барс (ирбис)",
        "common_name_kk": "Ілбіс",
        "iucn_category": "VU",
        "sensitive": True,
        "iucn_taxon_id": 22732,
        "gbif_taxon_key": 5219432,
        "source": "IUCN Red List: Vulnerable",
    },
    {
        "scientific_name": "Gazella subgutturosa",
        "common_name_en": "Goitered gazelle",
        "common_name_ru": "Джейран",
        "common_name_kk": "Қарақұйрық",
        "iucn_category": "VU",
        "sensitive": True,
        "iucn_taxon_id": 8976,
        "gbif_taxon_key": 2441071,
        "source": "IUCN Red List: Vulnerable",
    },
]

# Field-site centres were checked against GEBCO 2023 / the 5' DEM: the snow-leopard sites lie
# in the alpine and subalpine belt (about 2,900-4,800 m at the centre), the gazelle sites in
# deserts and semi-deserts of the plains and foothills (about 50-900 m).
SL, GG = "Panthera uncia", "Gazella subgutturosa"
#: The ecosystem focus of an example grant follows its species.
ECOSYSTEM_OF_SPECIES = {SL: "mountain", GG: "arid_lowland"}
GRANTS: list[dict[str, Any]] = [
    {
        "code": "SOS-CA-EX-01",
        "title": "Camera-trap monitoring of snow leopards in the upper Ile Alatau (example)",
        "grantee_organisation": "Association for the Conservation of Biodiversity of Kazakhstan",
        "amount": 120_000,
        "start_date": "2019-03-01",
        "end_date": "2021-12-31",
        "countries": ["KAZ"],
        "species": [SL],
        "status": "closed",
        "sites": [("Bolshaya Almatinka headwaters", 76.95, 43.03, 6.0)],
    },
    {
        "code": "SOS-CA-EX-02",
        "title": "Snow leopard and prey surveys in the Talas Alatau (example)",
        "grantee_organisation": "Association for the Conservation of Biodiversity of Kazakhstan",
        "amount": 85_000,
        "start_date": "2019-06-01",
        "end_date": "2021-05-31",
        "countries": ["KAZ"],
        "species": [SL],
        "status": "closed",
        "sites": [("Aksu canyon uplands", 70.55, 42.35, 7.0)],
    },
    {
        "code": "SOS-CA-EX-03",
        "title": "Community rangers for snow leopards around Sarychat-Ertash (example)",
        "grantee_organisation": "International Snow Leopard Trust",
        "amount": 160_000,
        "start_date": "2019-09-01",
        "end_date": "2022-08-31",
        "countries": ["KGZ"],
        "species": [SL],
        "status": "closed",
        "sites": [("Sarychat valley", 78.45, 41.95, 9.0), ("Ertash ridge", 78.15, 41.88, 5.0)],
    },
    {
        "code": "SOS-CA-EX-04",
        "title": "Reducing conflict with herders in the At-Bashy range (example)",
        "grantee_organisation": "Snow Leopard Conservancy",
        "amount": 60_000,
        "start_date": "2020-04-01",
        "end_date": "2022-03-31",
        "countries": ["KGZ"],
        "species": [SL],
        "status": "closed",
        "sites": [("At-Bashy summer pastures", 75.6, 41.0, 6.0)],
    },
    {
        "code": "SOS-CA-EX-05",
        "title": "Snow leopard population assessment in the eastern Pamir (example)",
        "grantee_organisation": "Wildlife Without Borders",
        "amount": 195_000,
        "start_date": "2019-05-01",
        "end_date": "2022-10-31",
        "countries": ["TJK"],
        "species": [SL],
        "status": "closed",
        "sites": [("Murghab plateau", 73.7, 38.4, 10.0), ("Zorkul lake basin", 73.7, 37.45, 8.0)],
    },
    {
        "code": "SOS-CA-EX-06",
        "title": "Anti-poaching patrols in the Ugam-Chatkal mountains (example)",
        "grantee_organisation": 'Public Fund "Ecobioproject"',
        "amount": 70_000,
        "start_date": "2020-01-01",
        "end_date": "2021-12-31",
        "countries": ["UZB"],
        "species": [SL],
        "status": "closed",
        "sites": [("Upper Pskem valley", 70.2, 41.9, 6.0)],
    },
    {
        "code": "SOS-CA-EX-07",
        "title": "Snow leopards of the Gissar range (example)",
        "grantee_organisation": 'Public Fund "Ecobioproject"',
        "amount": 45_000,
        "start_date": "2020-09-01",
        "end_date": "2022-08-31",
        "countries": ["UZB"],
        "species": [SL],
        "status": "closed",
        "sites": [("Gissar high valleys", 68.0, 39.05, 5.0)],
    },
    {
        "code": "SOS-CA-EX-08",
        "title": "Goitered gazelle counts on the Ustyurt plateau (example)",
        "grantee_organisation": "Tabigi Orta",
        "amount": 110_000,
        "start_date": "2019-04-01",
        "end_date": "2021-10-31",
        "countries": ["KAZ"],
        "species": [GG],
        "status": "closed",
        "sites": [("Ustyurt chink", 55.7, 44.3, 15.0)],
    },
    {
        "code": "SOS-CA-EX-09",
        "title": "Goitered gazelle corridors in the Ili valley (example)",
        "grantee_organisation": "Association for the Conservation of Biodiversity of Kazakhstan",
        "amount": 90_000,
        "start_date": "2020-03-01",
        "end_date": "2022-12-31",
        "countries": ["KAZ"],
        "species": [GG],
        "status": "closed",
        "sites": [("Altyn-Emel foothills", 78.3, 44.0, 12.0)],
    },
    {
        "code": "SOS-CA-EX-10",
        "title": "Reintroduced goitered gazelles of the Kyzylkum (example)",
        "grantee_organisation": "Marwell Wildlife",
        "amount": 140_000,
        "start_date": "2019-10-01",
        "end_date": "2022-09-30",
        "countries": ["UZB"],
        "species": [GG],
        "status": "closed",
        "sites": [
            ("Bukhara desert steppe", 64.65, 39.55, 12.0),
            ("Central Kyzylkum", 63.5, 42.0, 14.0),
        ],
    },
    {
        "code": "SOS-CA-EX-11",
        "title": "Goitered gazelles of the lower Vakhsh tugai and deserts (example)",
        "grantee_organisation": "Wildlife Without Borders",
        "amount": 35_000,
        "start_date": "2021-01-01",
        "end_date": "2022-12-31",
        "countries": ["TJK"],
        "species": [GG],
        "status": "closed",
        "sites": [("Tigrovaya Balka desert margins", 68.45, 37.25, 7.0)],
    },
    {
        "code": "SOS-CA-EX-12",
        "title": "Transboundary snow leopard and gazelle capacity building (example)",
        "grantee_organisation": "International Snow Leopard Trust",
        "amount": 25_000,
        "start_date": "2021-06-01",
        "end_date": "2022-12-31",
        "countries": ["KAZ", "KGZ", "TJK", "UZB"],
        "species": [SL, GG],
        "status": "closed",
        "sites": [],
    },
]

# Protected areas of Kazakhstan: real boundaries from OpenStreetMap (see data/PROVENANCE.md,
# "Added 2026-11-30"), loaded as observed records under the ODbL.
OSM_PA_PATH = "protected_areas/kz_osm_protected_areas.geojson"
OSM_PA_SOURCE = (
    "OpenStreetMap boundary (osm_id), as returned by Nominatim's lookup simplified to about "
    "100 m (data/PROVENANCE.md)"
)
OSM_PA_LICENCE = "ODbL-1.0, © OpenStreetMap contributors"
#: Public facts about some of the OSM parks (IUCN category, year of designation), as in the
#: example records they replace.
OSM_PA_FACTS: dict[str, tuple[str, int]] = {
    "relation/21255164": ("II", 1996),  # Ile-Alatau National Park
    "relation/20688891": ("Ia", 1961),  # Almaty Nature Reserve
    "relation/3388788": ("Ia", 1926),  # Aksu-Zhabagly Nature Reserve
    "relation/5935486": ("II", 1996),  # Altyn-Emel National Park
    "way/1185318988": ("II", 2004),  # Charyn National Park
    "relation/17950167": ("II", 2007),  # Kolsai Lakes National Park
    "way/493654755": ("Ia", 1984),  # Ustyurt Nature Reserve
}
#: Example records of earlier demos that the OSM boundaries replace (deleted on load).
REPLACED_BY_OSM = (
    "Almaty State Nature Reserve",
    "Aksu-Zhabagly State Nature Reserve",
    "Altyn-Emel State National Nature Park",
    "Charyn State National Nature Park",
    "Kolsai Koldery State National Nature Park",
    "Ustyurt State Nature Reserve",
    "Ile-Alatau State National Nature Park (schematic)",
)

# Protected areas of Kyrgyzstan, Tajikistan and Uzbekistan as points at an approximate centre
# with the area reported in public descriptions (how the WDPA itself stores areas with no
# boundary). No openly licensed boundaries exist for them; importing the WDPA replaces them.
PA_SOURCE = (
    "Example record: approximate centre and the area reported in public descriptions, not a "
    "boundary (no openly licensed boundary exists; the WDPA is licensed). Stays a point with "
    "its reported area until the WDPA is imported (irbis import protected_areas FILE)"
)
PROTECTED_POINTS = [
    # name, designation, IUCN cat, iso3, status year, km², lon, lat
    (
        "Sary-Chelek State Biosphere Reserve",
        "Biosphere Reserve",
        "Ia",
        "KGZ",
        1959,
        239.0,
        71.95,
        41.85,
    ),
    (
        "Sarychat-Ertash State Nature Reserve",
        "State Nature Reserve",
        "Ia",
        "KGZ",
        1995,
        1341.0,
        78.35,
        41.9,
    ),
    (
        "Tajik National Park (Mountains of the Pamirs)",
        "National Park",
        "II",
        "TJK",
        1992,
        26116.0,
        72.8,
        38.6,
    ),
    (
        "Tigrovaya Balka State Nature Reserve",
        "State Nature Reserve",
        "Ia",
        "TJK",
        1938,
        497.0,
        68.45,
        37.3,
    ),
    ("Zorkul State Nature Reserve", "State Nature Reserve", "Ia", "TJK", 2000, 877.0, 73.6, 37.45),
    ("Chatkal State Biosphere Reserve", "Biosphere Reserve", "Ia", "UZB", 1947, 357.0, 70.1, 41.15),
    (
        "Ugam-Chatkal State National Nature Park",
        "National Park",
        "II",
        "UZB",
        1990,
        5746.0,
        70.2,
        41.7,
    ),
    ("Gissar State Nature Reserve", "State Nature Reserve", "Ia", "UZB", 1983, 810.0, 67.9, 39.0),
    (
        "Kyzylkum State Nature Reserve",
        "State Nature Reserve",
        "Ia",
        "UZB",
        1971,
        103.0,
        61.9,
        41.05,
    ),
]

#: Ile-Alatau National Park: its real (OSM) boundary from now on.
ILE_ALATAU: dict[str, Any] = {
    "name": "Ile-Alatau National Park",
    "osm_id": "relation/21255164",
    # The park's snow leopards, quoted exactly as the source says it (the national park
    # administration, via Qazinform). The "only 200 of us" of a campaign letter speaks for
    # the species in the whole country, not for the park.
    "snow_leopards": (
        "Experts estimate that around 40 snow leopards inhabit the territory of the "
        "Ile-Alatau National Park and its adjacent areas."
    ),
    "snow_leopards_source": (
        'Qazinform News Agency, "Hidden life revealed: Five rare species spotted in '
        'Ile-Alatau Park", 23 December 2025, citing the national park administration, '
        "https://qazinform.com/news/hidden-life-revealed-five-rare-species-spotted-in-ile-alatau-park-5c7a40"
    ),
}

KOK_JAILAU: dict[str, Any] = {
    "name": "Kok-Jailau ski resort (planned)",
    "kind": "ski_resort",
    "status": "proposed",
    "proposed_on": "2014-01-01",
    "description": (
        "A planned ski resort in the Kok-Jailau (Kok-Zhailau) valley inside Ile-Alatau "
        "National Park, between the Malaya and Bolshaya Almatinka gorges, about 10 km from "
        "Almaty (plateau at about 1,450-1,740 m by one source, 1,600-2,200 m by others). "
        "1,002 ha were taken out of the park in 2014 "
        "for 63 km of ski runs on 1.85 km², for about 10,000 visitors a day, at about 470 "
        "million USD of public money; 27 ha of Schrenk's spruce forest were to be cut and "
        "snowmaking would need 326 m³ of water a day. A petition gathered more than 10,000 "
        "signatures. Construction was banned in October 2019 and the land returned to the park "
        "in February 2022; the plan came back in 2025 within an 'Almaty Mountain Cluster'. "
        "The footprint drawn here is schematic, not the project's boundary: an ellipse of "
        "1,002 ha on the plateau between the two gorges, its long axis west-east across the "
        "interfluve from the Bolshaya Almatinka to the Malaya Almatinka gorge (both gorges "
        "run south-north), inside the park's OpenStreetMap boundary; its elevation is the "
        "one the demo's DEM gives there."
    ),
    # On the plateau between the gorges (GEBCO 2023 15": median about 1,750 m over the
    # footprint), south of the park's northern boundary.
    "center": (76.95, 43.135),
    "area_ha": 1002.0,
    #: Ellipse long axis / short axis, and the azimuth of the long axis (degrees from north).
    "aspect": 1.8,
    "long_axis_azimuth_deg": 90.0,
    #: The registered DEM the footprint's elevation is read from.
    "dem": "dem_gebco_almaty",
    "properties": {
        "excised_from_park_ha": 1002,
        "ski_runs_km": 63,
        "ski_runs_area_km2": 1.85,
        "visitors_per_day": 10000,
        "public_cost_usd": 470_000_000,
        "spruce_forest_to_cut_ha": 27,
        "forest_species": "Picea schrenkiana (Schrenk's spruce)",
        "snowmaking_water_m3_per_day": 326,
        "petition_signatures_min": 10000,
        "plateau_elevation_m_reported": [1450, 1740],
        "footprint": "schematic ellipse of the excised area, not the project boundary",
        "footprint_orientation": "long axis west-east, across the plateau between the gorges",
    },
    "source": (
        "Public reporting on the Kok-Zhailau resort plan (2014-2025) as summarised in the "
        "Irbis data notes; footprint schematic"
    ),
    "timeline": [
        (
            "approved",
            "2014-01-01",
            "1,002 ha excised from Ile-Alatau National Park (2014; day not known)",
        ),
        ("halted", "2019-10-01", "Construction banned (October 2019)"),
        ("halted", "2022-02-01", "Land returned to the park (February 2022)"),
        ("proposed", "2025-01-01", "Plan revived within an 'Almaty Mountain Cluster' (2025)"),
    ],
    #: The land's own boundary history in Ile-Alatau National Park (protected_area_changes):
    #: outside the park from the excision until its return.
    "park_changes": [
        ("excised", "2014-01-01", "1,002 ha excised from the park for the resort (2014)"),
        ("returned", "2022-02-01", "Land returned to the park by decree (February 2022)"),
    ],
}

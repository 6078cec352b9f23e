"""Small files in the real column layouts of WDPA, IUCN, GBIF and OpenStreetMap exports."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Point, Polygon, box

from geo.shapes import irregular_polygon

WDPA_COLUMNS = [
    "WDPAID",
    "WDPA_PID",
    "PA_DEF",
    "NAME",
    "ORIG_NAME",
    "DESIG",
    "DESIG_ENG",
    "DESIG_TYPE",
    "IUCN_CAT",
    "INT_CRIT",
    "MARINE",
    "REP_M_AREA",
    "GIS_M_AREA",
    "REP_AREA",
    "GIS_AREA",
    "NO_TAKE",
    "NO_TK_AREA",
    "STATUS",
    "STATUS_YR",
    "GOV_TYPE",
    "OWN_TYPE",
    "MANG_AUTH",
    "MANG_PLAN",
    "VERIF",
    "METADATAID",
    "SUB_LOC",
    "PARENT_ISO",
    "ISO3",
    "SUPP_INFO",
    "CONS_OBJ",
]


def _wdpa_row(wdpaid: int, name: str, status: str, rep_area: float, iso3: str) -> dict:
    return {
        "WDPAID": wdpaid,
        "WDPA_PID": str(wdpaid),
        "PA_DEF": "1",
        "NAME": name,
        "ORIG_NAME": name,
        "DESIG": "Государственный природный заповедник",
        "DESIG_ENG": "State Nature Reserve",
        "DESIG_TYPE": "National",
        "IUCN_CAT": "Ia",
        "INT_CRIT": "Not Applicable",
        "MARINE": "0",
        "REP_M_AREA": 0.0,
        "GIS_M_AREA": 0.0,
        "REP_AREA": rep_area,
        "GIS_AREA": rep_area,
        "NO_TAKE": "Not Applicable",
        "NO_TK_AREA": 0.0,
        "STATUS": status,
        "STATUS_YR": 1961,
        "GOV_TYPE": "Federal or national ministry or agency",
        "OWN_TYPE": "State",
        "MANG_AUTH": "Committee of Forestry and Wildlife",
        "MANG_PLAN": "Not Reported",
        "VERIF": "State Verified",
        "METADATAID": 1234,
        "SUB_LOC": "KZ-ALA",
        "PARENT_ISO": iso3,
        "ISO3": iso3,
        "SUPP_INFO": "Not Applicable",
        "CONS_OBJ": "Not Applicable",
    }


def wdpa_polygons(path: Path) -> Path:
    """A WDPA polygon layer (GeoPackage): two test reserves, one proposed."""
    rows = [
        _wdpa_row(990001, "Test Reserve Alpha", "Designated", 113.5, "KAZ"),
        _wdpa_row(990002, "Test Reserve Beta", "Proposed", 40.2, "KGZ"),
    ]
    geoms = [irregular_polygon(77.5, 43.0, 6, seed=1), irregular_polygon(75.0, 41.5, 3.5, seed=2)]
    gdf = gpd.GeoDataFrame(rows, columns=WDPA_COLUMNS, geometry=geoms, crs=4326)
    gdf.to_file(path, layer="WDPA_poly_Nov2026", driver="GPKG")
    return path


def wdpa_points(path: Path) -> Path:
    """A WDPA point layer (GeoJSON): a site with a reported area and no boundary."""
    rows = [_wdpa_row(990003, "Test Sanctuary Gamma", "Designated", 25.0, "UZB")]
    gdf = gpd.GeoDataFrame(rows, columns=WDPA_COLUMNS, geometry=[Point(64.5, 39.6)], crs=4326)
    gdf.to_file(path, driver="GeoJSON")
    return path


def iucn_ranges(path: Path) -> Path:
    """An IUCN Red List range file as shipped: a zipped Shapefile with .prj and .cpg."""
    cols = [
        "id_no",
        "sci_name",
        "presence",
        "origin",
        "seasonal",
        "compiler",
        "yrcompiled",
        "citation",
        "subspecies",
        "subpop",
        "source",
        "island",
        "tax_comm",
        "dist_comm",
        "generalisd",
        "legend",
        "kingdom",
        "phylum",
        "class",
        "order_",
        "family",
        "genus",
        "category",
        "marine",
        "terrestial",
        "freshwater",
    ]
    base = {
        "id_no": 22732,
        "sci_name": "Panthera uncia",
        "origin": 1,
        "seasonal": 1,
        "compiler": "IUCN",
        "yrcompiled": 2016,
        "citation": "IUCN (International Union for Conservation of Nature)",
        "subspecies": None,
        "subpop": None,
        "source": None,
        "island": None,
        "tax_comm": None,
        "dist_comm": None,
        "generalisd": 0,
        "legend": "Extant (resident)",
        "kingdom": "ANIMALIA",
        "phylum": "CHORDATA",
        "class": "MAMMALIA",
        "order_": "CARNIVORA",
        "family": "FELIDAE",
        "genus": "Panthera",
        "category": "VU",
        "marine": "false",
        "terrestial": "true",
        "freshwater": "false",
    }
    rows = [{**base, "presence": 1}, {**base, "presence": 3, "legend": "Possibly Extant"}]
    geoms = [box(74.0, 40.5, 80.0, 43.3), box(70.0, 41.0, 72.0, 42.5)]
    gdf = gpd.GeoDataFrame(rows, columns=cols, geometry=geoms, crs=4326)
    shp_dir = path.parent / "iucn_shp"
    shp_dir.mkdir(exist_ok=True)
    gdf.to_file(shp_dir / "data_0.shp", encoding="UTF-8")
    with zipfile.ZipFile(path, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    return path


GBIF_COLUMNS = [
    "gbifID",
    "datasetKey",
    "occurrenceID",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "species",
    "infraspecificEpithet",
    "taxonRank",
    "scientificName",
    "verbatimScientificName",
    "verbatimScientificNameAuthorship",
    "countryCode",
    "locality",
    "stateProvince",
    "occurrenceStatus",
    "individualCount",
    "publishingOrgKey",
    "decimalLatitude",
    "decimalLongitude",
    "coordinateUncertaintyInMeters",
    "coordinatePrecision",
    "elevation",
    "elevationAccuracy",
    "depth",
    "depthAccuracy",
    "eventDate",
    "day",
    "month",
    "year",
    "taxonKey",
    "speciesKey",
    "basisOfRecord",
    "institutionCode",
    "collectionCode",
    "catalogNumber",
    "recordNumber",
    "identifiedBy",
    "dateIdentified",
    "license",
    "rightsHolder",
    "recordedBy",
    "typeStatus",
    "establishmentMeans",
    "lastInterpreted",
    "mediaType",
    "issue",
]


def gbif_occurrences(path: Path) -> Path:
    """A GBIF 'simple' occurrence download (tab separated), one row without coordinates."""

    def row(gid: str, sp: str, lat: str, lon: str, date: str, who: str) -> dict[str, str]:
        r = dict.fromkeys(GBIF_COLUMNS, "")
        r.update(
            {
                "gbifID": gid,
                "datasetKey": "50c9509d-22c7-4a22-a47d-8c48425ef4a7",
                "occurrenceID": f"https://www.inaturalist.org/observations/{gid}",
                "kingdom": "Animalia",
                "species": sp,
                "taxonRank": "SPECIES",
                "scientificName": f"{sp} (Schreber, 1775)",
                "countryCode": "KZ",
                "occurrenceStatus": "PRESENT",
                "decimalLatitude": lat,
                "decimalLongitude": lon,
                "coordinateUncertaintyInMeters": "30.0",
                "eventDate": date,
                "basisOfRecord": "HUMAN_OBSERVATION",
                "license": "CC_BY_NC_4_0",
                "recordedBy": who,
            }
        )
        return r

    rows = [
        row(
            "4400000001",
            "Panthera uncia",
            "43.0512",
            "77.0713",
            "2021-02-14T09:30:00",
            "A. Observer",
        ),
        row("4400000002", "Gazella subgutturosa", "44.0105", "78.4021", "2020-05-02", "B. Ranger"),
        row("4400000003", "Panthera uncia", "", "", "2019-01-01", "C. Nobody"),
    ]
    lines = ["\t".join(GBIF_COLUMNS)] + ["\t".join(r[c] for c in GBIF_COLUMNS) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def osm_protected_areas(path: Path) -> Path:
    """An Overpass-style GeoJSON export of protected areas (plus a park that is not one)."""
    feats = [
        {
            "type": "Feature",
            "id": "relation/990101",
            "properties": {
                "@id": "relation/990101",
                "boundary": "protected_area",
                "name": "Тестовый заказник",
                "name:en": "Test Zakaznik",
                "protect_class": "4",
                "protection_title": "Заказник",
            },
            "geometry": irregular_polygon(76.3, 43.5, 4, seed=3).__geo_interface__,
        },
        {
            "type": "Feature",
            "id": "way/990102",
            "properties": {"@id": "way/990102", "boundary": "national_park", "name": "Test NP"},
            "geometry": irregular_polygon(79.0, 43.2, 5, seed=4).__geo_interface__,
        },
        {
            "type": "Feature",
            "id": "way/990103",
            "properties": {"@id": "way/990103", "leisure": "park", "name": "City park"},
            "geometry": box(76.9, 43.23, 76.91, 43.24).__geo_interface__,
        },
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def no_crs_shapefile(path: Path) -> Path:
    """A zipped Shapefile without its .prj."""
    d = path.parent / "nocrs"
    d.mkdir(exist_ok=True)
    gdf = gpd.GeoDataFrame(
        [_wdpa_row(990009, "No CRS", "Designated", 1.0, "KAZ")],
        columns=WDPA_COLUMNS,
        geometry=[Polygon([(77, 43), (77.1, 43), (77.1, 43.1)])],
        crs=4326,
    )
    gdf.to_file(d / "pa.shp")
    with zipfile.ZipFile(path, "w") as zf:
        for f in d.iterdir():
            if f.suffix != ".prj":
                zf.write(f, f.name)
    return path

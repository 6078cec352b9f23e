"""Bulk import of authoritative files into the store, as one transaction.

``irbis import LAYER FILE`` reads any vector format GDAL reads (and Darwin Core tables),
maps the columns of the authoritative format (WDPA, IUCN Red List ranges, GBIF, OpenStreetMap),
normalises geometries, and writes everything or nothing. Re-importing the same file updates the
records in place (by WDPA_PID, OSM id or gbifID; IUCN ranges of a species from the same source
are replaced), and the audit log keeps the earlier versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

import geopandas as gpd
import shapely

from api.db import models as m
from api.db.engine import transaction
from api.db.store import insert_gdf, rows_from_gdf
from geo import formats
from geo.crs import REGION_BOUNDS
from geo.errors import InvalidGeometry, InvalidInput, OutsideRegion, SchemaMismatch
from geo.io import TABULAR_SUFFIXES, read_table, read_vector
from geo.validate_basic import to_multipolygons

LAYER_FORMATS: dict[str, tuple[str, ...]] = {
    "protected_areas": ("wdpa", "osm"),
    "species_ranges": ("iucn",),
    "occurrences": ("gbif",),
}

DEFAULT_PROVENANCE = {
    "wdpa": (
        "UNEP-WCMC and IUCN, Protected Planet: the World Database on Protected Areas (WDPA)",
        "WDPA terms of use (no redistribution)",
    ),
    "osm": ("OpenStreetMap contributors", "ODbL-1.0, © OpenStreetMap contributors"),
    "iucn": ("IUCN Red List of Threatened Species, spatial data", "IUCN Red List terms of use"),
    "gbif": ("GBIF.org occurrence download", "per record: CC0-1.0, CC-BY-4.0 or CC-BY-NC-4.0"),
}


@dataclass
class ImportResult:
    layer: str
    fmt: str
    read: int
    written: int
    skipped_outside_region: int = 0
    repaired: int = 0
    messages: list[str] = field(default_factory=list)


def _read(
    path: Path, fmt: str | None, layer: str | None, srs: str | None
) -> tuple[Any, str | None]:
    if path.suffix.lower() in TABULAR_SUFFIXES and fmt in (None, "gbif"):
        return read_table(path), fmt or "gbif"
    return read_vector(path, layer=layer, crs=srs), fmt


def _inside_region(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    region = shapely.box(*REGION_BOUNDS)
    inside = gdf.geometry.intersects(region).to_numpy()
    return gdf[inside], int((~inside).sum())


def _species_ids(session: Any, names: gpd.GeoSeries) -> dict[str, int]:
    known = {sp.scientific_name.lower(): sp.id for sp in session.scalars(select(m.Species))}
    unknown = sorted({n for n in names.dropna() if n.lower() not in known})
    if names.isna().any():
        raise SchemaMismatch("some rows have no species name")
    if unknown:
        raise SchemaMismatch(
            f"species not in Irbis: {', '.join(unknown[:10])}; known species: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    return known


def _normalise_points_or_polygons(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    types = shapely.get_type_id(geoms)
    point_like = (types == 0) | (types == 4)
    polygon_like = (types == 3) | (types == 6)
    if not (point_like | polygon_like).all():
        bad = int(((~point_like) & (~polygon_like)).sum())
        raise InvalidGeometry(
            f"{bad} feature(s) are neither polygons nor points (lines or collections); "
            "protected areas must be polygons, or points with a reported area"
        )
    invalid = polygon_like & ~shapely.is_valid(geoms)
    repaired = int(invalid.sum())
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if polygon_like.any():
        polys = to_multipolygons(gdf[polygon_like])
        if len(polys) < int(polygon_like.sum()):
            raise InvalidGeometry("some polygons collapse to nothing when repaired")
        gdf = gpd.GeoDataFrame(
            gdf.astype(object).where(gdf.notna(), None), geometry=gdf.geometry.name, crs=gdf.crs
        )
        gdf.loc[polys.index, gdf.geometry.name] = polys.geometry
    return gdf, repaired


def _upsert(session: Any, model: type[m.Base], rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    stmt = pg_insert(model)
    cols = [c for c in rows[0] if c != key]
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in cols}
    )
    session.execute(stmt, rows)


def _store_ranges(s: Session, mapped: gpd.GeoDataFrame, prov: dict[str, str]) -> gpd.GeoDataFrame:
    """IUCN ranges replace the ranges of the same species from the same source."""
    before = len(mapped)
    mapped = to_multipolygons(mapped)
    if len(mapped) < before:
        raise InvalidGeometry(
            f"{before - len(mapped)} range feature(s) are not polygons; IUCN ranges are polygons"
        )
    ids = _species_ids(s, mapped["scientific_name"])
    mapped["species_id"] = mapped["scientific_name"].str.lower().map(ids)
    s.execute(
        delete(m.SpeciesRange).where(
            m.SpeciesRange.species_id.in_(set(mapped["species_id"])),
            m.SpeciesRange.source == prov["source"],
        )
    )
    insert_gdf(
        s,
        m.SpeciesRange,
        mapped,
        ["species_id", "presence", "origin", "seasonal", "compiler", "year"],
        defaults=prov,
    )
    return mapped


def _store_occurrences(s: Session, mapped: gpd.GeoDataFrame, prov: dict[str, str]) -> None:
    """GBIF occurrences, updated by their GBIF id when they have one."""
    ids = _species_ids(s, mapped["scientific_name"])
    mapped["species_id"] = mapped["scientific_name"].str.lower().map(ids)
    cols = [
        "species_id",
        "gbif_id",
        "occurrence_id",
        "event_date",
        "basis_of_record",
        "coordinate_uncertainty_m",
        "country_code",
        "recorded_by",
        "dataset_key",
    ]
    rows = rows_from_gdf(mapped, cols, defaults=prov)
    with_id = [r for r in rows if r["gbif_id"] is not None]
    without = [r for r in rows if r["gbif_id"] is None]
    _upsert(s, m.Occurrence, with_id, "gbif_id")
    if without:
        s.execute(pg_insert(m.Occurrence), without)


def import_file(
    engine: Engine,
    layer: str,
    path: str | Path,
    *,
    fmt: str | None = None,
    source: str | None = None,
    licence: str | None = None,
    method: str = "observed",
    layer_name: str | None = None,
    srs: str | None = None,
    actor: str = "irbis import",
) -> ImportResult:
    """Import ``path`` into ``layer`` in one transaction; raise a domain error and store
    nothing when the file is broken or cannot be mapped."""
    if layer not in LAYER_FORMATS:
        raise InvalidInput(f"cannot import into {layer!r}; layers: {', '.join(LAYER_FORMATS)}")
    if method not in {x.value for x in m.Method}:
        raise InvalidInput(f"method must be observed, modelled or example, not {method!r}")
    p = Path(path)
    data, fmt = _read(p, fmt, layer_name, srs)
    fmt = fmt or formats.sniff(data)
    allowed = LAYER_FORMATS[layer]
    if fmt is None:
        raise SchemaMismatch(
            f"{p.name}: the columns match none of the formats for {layer} ({', '.join(allowed)}); "
            "check the file, or name the format with --format"
        )
    if fmt not in allowed:
        raise SchemaMismatch(
            f"{p.name} looks like a {fmt} file, which does not go into {layer} "
            f"(it takes: {', '.join(allowed)})"
        )
    mapped = {
        "wdpa": formats.from_wdpa,
        "osm": formats.from_osm,
        "iucn": formats.from_iucn,
        "gbif": formats.from_gbif,
    }[fmt](data)
    n_read = len(mapped)
    mapped = mapped[~(mapped.geometry.isna() | mapped.geometry.is_empty)]
    if len(mapped) == 0:
        raise InvalidGeometry(f"{p.name}: no feature has a geometry")
    mapped, outside = _inside_region(mapped)
    if len(mapped) == 0:
        raise OutsideRegion(
            f"{p.name}: none of the {n_read} features lies in the region Irbis covers "
            f"(lon {REGION_BOUNDS[0]}..{REGION_BOUNDS[2]}, lat {REGION_BOUNDS[1]}..{REGION_BOUNDS[3]}); "
            "check the CRS and whether longitude and latitude are swapped"
        )
    src, lic = DEFAULT_PROVENANCE[fmt]
    prov = {"source": source or src, "licence": licence or lic, "method": method}
    result = ImportResult(
        layer=layer, fmt=fmt, read=n_read, written=0, skipped_outside_region=outside
    )
    if outside:
        result.messages.append(f"{outside} feature(s) outside the region were left out")

    with transaction(engine, actor=actor) as s:
        if layer == "protected_areas":
            mapped, result.repaired = _normalise_points_or_polygons(mapped)
            key = "wdpa_pid" if fmt == "wdpa" else "osm_id"
            cols = [c for c in mapped.columns if c != mapped.geometry.name]
            _upsert(s, m.ProtectedArea, rows_from_gdf(mapped, cols, defaults=prov), key)
        elif layer == "species_ranges":
            mapped = _store_ranges(s, mapped, prov)
        else:
            _store_occurrences(s, mapped, prov)
        result.written = len(mapped)
    return result

"""Planning units: a hexagonal grid (H3) over a study area, with the values planning needs.

A planning unit is an H3 cell clipped to the study area (the four programme countries), so no
land is lost at borders and no sea or foreign land is counted. H3 cells are not exactly equal
in area, so every area is measured in the equal-area CRS (EPSG:6933), never in degrees.

Per unit, :func:`unit_values` computes from plain GeoDataFrames:

- habitat area (km²) per species and ecosystem (one column ``habitat:<species>|<ecosystem>``
  per feature, optionally split by country),
- the share protected (overlapping protected areas dissolved, proposed ones left out, points
  turned into geodesic circles of their reported area, as Protected Planet does),
- threat pressure (0–1: the share of the unit inside threat footprints buffered by a distance,
  weighted by the threat's status),
- the share covered by grants' field sites,
- the geodesic distance to the nearest town (the ``places`` layer) and, if given, road.

:func:`unit_costs` turns them into a cost with a :class:`CostModel`, and :func:`unit_boundaries`
gives the shared boundary lengths the boundary penalty needs.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> area = gpd.GeoDataFrame({"iso3": ["KGZ"]}, geometry=[box(74, 41, 75, 42)], crs=4326)
>>> units = hex_grid(area, resolution=5)
>>> 10 < len(units) < 60
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

import geopandas as gpd
import h3
import shapely
from pyproj import CRS, Geod, Transformer

from geo import protected_planet
from geo.crs import EQUAL_AREA_EPSG, M2_PER_KM2, STORAGE_EPSG, require_crs, to_storage
from geo.errors import InvalidInput, SchemaMismatch, TooLarge
from geo.prioritisation import Boundary
from geo.shapes import polygonal_part, polygonal_parts

#: Prefix of the feature columns (habitat area in km² per species and ecosystem).
FEATURE_PREFIX = "habitat:"
#: The most planning units a grid may have (a finer resolution must be asked over less land).
MAX_UNITS = 200_000
#: Weight of a threat's footprint in the pressure, by status.
THREAT_STATUS_WEIGHTS: dict[str, float] = {
    "active": 1.0,
    "under_construction": 1.0,
    "approved": 0.75,
    "proposed": 0.5,
    "halted": 0.1,
}
#: Protected-area statuses that count (WDPA ``STATUS``); proposed areas are left out.
COUNTED_PA_STATUSES = ("Designated", "Inscribed", "Adopted", "Established")

_GEOD = Geod(ellps="WGS84")
_EARTH_RADIUS_KM = 6371.0088


# --------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------


def hex_grid(
    area: gpd.GeoDataFrame,
    resolution: int,
    *,
    iso3_column: str | None = None,
    max_units: int = MAX_UNITS,
) -> gpd.GeoDataFrame:
    """H3 cells covering ``area``, clipped to it.

    Parameters
    ----------
    area : GeoDataFrame
        The study area (for example the four programme countries), any CRS.
    resolution : int
        H3 resolution, 0–15 (3: about 12,400 km² per cell, 4: 1,770 km², 5: 253 km²).
    iso3_column : str, optional
        Column of ``area`` with a country code; each unit gets the code of the country that
        holds the largest part of it. Default: ``iso3`` or ``iso_a3`` if present.
    max_units : int
        Refuse grids larger than this (:class:`TooLarge`).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``h3`` (cell index), ``iso3``, ``area_km2`` (EPSG:6933), ``clipped`` (the cell was
        cut by the study area's edge), geometry; sorted by ``h3``.
    """
    if not 0 <= int(resolution) <= 15:
        raise InvalidInput("the H3 resolution must be between 0 and 15")
    area = to_storage(area, what="the study area")
    if area.empty:
        raise InvalidInput("the study area is empty")
    col = iso3_column or next((c for c in ("iso3", "iso_a3") if c in area.columns), None)
    if col is not None and col not in area.columns:
        raise SchemaMismatch(f"the study area has no column {col}")
    whole = shapely.make_valid(area.geometry.union_all())
    whole_m2 = float(gpd.GeoSeries([whole], crs=STORAGE_EPSG).to_crs(EQUAL_AREA_EPSG).area[0])
    expected = whole_m2 / M2_PER_KM2 / h3.average_hexagon_area(int(resolution), "km^2")
    if expected > max_units:
        raise TooLarge(
            f"resolution {resolution} gives about {expected:,.0f} units over this area, more "
            f"than the limit {max_units:,}; choose a coarser resolution or a smaller area"
        )
    cells: set[str] = set()
    for poly in polygonal_part(whole).geoms:
        shape = h3.geo_to_h3shape(poly.__geo_interface__)
        cells.update(h3.h3shape_to_cells_experimental(shape, int(resolution), contain="overlap"))
    if not cells:
        raise InvalidInput("no H3 cell overlaps the study area at this resolution")
    ids = sorted(cells)
    hexes = np.array([shapely.Polygon(_cell_ring(c)) for c in ids], dtype=object)
    shapely.prepare(whole)
    inside = shapely.contains(whole, hexes)
    geoms = hexes.copy()
    geoms[~inside] = shapely.intersection(hexes[~inside], whole)
    geoms = polygonal_parts(geoms)[0]
    units = gpd.GeoDataFrame(
        {"h3": ids, "clipped": ~inside}, geometry=list(geoms), crs=STORAGE_EPSG
    )
    units = units[~units.geometry.is_empty & units.geometry.notna()].copy()
    units["area_km2"] = _area_km2(units)
    units = units[units["area_km2"] > 1e-6].copy()
    units["iso3"] = _largest_overlap(units, area, col) if col else None
    units = units[["h3", "iso3", "area_km2", "clipped", "geometry"]]
    return units.sort_values("h3").reset_index(drop=True)


def _geodesic_path(
    points: list[tuple[float, float]], step_km: float = 2.0
) -> list[tuple[float, float]]:
    """Points (lon, lat) joined by great circles, densified every ``step_km``."""
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        out.append((x0, y0))
        length_km = _GEOD.line_length([x0, x1], [y0, y1]) / 1000.0
        n = min(int(length_km // step_km), 256)
        if n > 0:
            out.extend(_GEOD.npts(x0, y0, x1, y1, n))
    out.append(points[-1])
    return out


def _cell_ring(cell: str) -> list[tuple[float, float]]:
    """An H3 cell's outline (lon, lat) with its great-circle edges densified, so that planar
    measures in any CRS agree with geodesic ones (PostGIS geography)."""
    corners = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    return _geodesic_path([*corners, corners[0]])


def _area_km2(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    return np.asarray(gdf.to_crs(EQUAL_AREA_EPSG).area, dtype="float64") / M2_PER_KM2


def _largest_overlap(units: gpd.GeoDataFrame, area: gpd.GeoDataFrame, col: str) -> np.ndarray:
    """For each unit, the value of ``area[col]`` covering the largest part of it."""
    shares = _overlap_km2(units, area[[col, area.geometry.name]], by=col)
    out = np.full(len(units), None, dtype=object)
    if not shares.empty:
        best = shares.idxmax(axis=1)
        out[best.index.to_numpy()] = best.to_numpy()
    return out


# --------------------------------------------------------------------------------------------
# Overlaps, measured in EPSG:6933
# --------------------------------------------------------------------------------------------


def _overlap_km2(
    units: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, *, by: str | Sequence[str] | None = None
) -> pd.DataFrame:
    """Area (km²) of each unit covered by ``layer``, optionally per value of ``by``.

    Returns a DataFrame indexed by the units' positions (0..n-1) with one column per group
    (or a single column ``"area"``); units with no overlap are absent.
    """
    if layer.empty:
        return pd.DataFrame()
    u = units.geometry.reset_index(drop=True).to_crs(EQUAL_AREA_EPSG)
    lay = layer.to_crs(EQUAL_AREA_EPSG).reset_index(drop=True)
    keys = [by] if isinstance(by, str) else list(by or [])
    tree = shapely.STRtree(lay.geometry.to_numpy())
    ui, li = tree.query(u.to_numpy(), predicate="intersects")
    if len(ui) == 0:
        return pd.DataFrame()
    pieces = shapely.intersection(u.to_numpy()[ui], lay.geometry.to_numpy()[li])
    km2 = shapely.area(pieces) / M2_PER_KM2
    df = pd.DataFrame({"unit": ui, "km2": km2})
    if keys:
        df["group"] = (
            lay[keys[0]].astype(str).to_numpy()[li]
            if len(keys) == 1
            else ["|".join(map(str, row)) for row in lay[keys].to_numpy()[li]]
        )
    else:
        df["group"] = "area"
    return df.pivot_table(index="unit", columns="group", values="km2", aggfunc="sum", fill_value=0)


def _dissolved(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One multipolygon for the whole layer: overlapping pieces are counted once."""
    geom = shapely.make_valid(layer.geometry.union_all())
    return gpd.GeoDataFrame(geometry=[polygonal_part(geom)], crs=STORAGE_EPSG)


def geodesic_circle(lon: float, lat: float, area_km2: float, n: int = 64) -> shapely.Polygon:
    """A geodesic circle of the given area around a point (for protected areas given as points).

    Examples
    --------
    >>> from geo.crs import geodesic_area_m2
    >>> round(geodesic_area_m2(geodesic_circle(77.0, 43.0, 100.0)) / 1e6, 1)
    99.8
    """
    radius_m = math.sqrt(area_km2 * M2_PER_KM2 / math.pi)
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = _GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, radius_m))
    return shapely.Polygon(zip(lons, lats, strict=True))


def protected_polygons(
    protected: gpd.GeoDataFrame,
    *,
    statuses: Sequence[str] | None = COUNTED_PA_STATUSES,
    area_column: str = "reported_area_km2",
) -> gpd.GeoDataFrame:
    """Protected areas as polygons, by the Protected Planet rules of
    :func:`geo.protected_planet.protected_polygons` (Proposed, Not Reported and UNESCO-MAB
    Biosphere Reserves left out; points as geodesic circles of their reported area; points
    without one dropped). ``statuses``, when given, also keeps only those statuses.
    """
    pa = to_storage(protected, what="the protected areas")
    if statuses is not None and "status" in pa.columns:
        pa = pa[pa["status"].isin(list(statuses)) | pa["status"].isna()]
    polys = protected_planet.protected_polygons(pa, area_col=area_column)
    return gpd.GeoDataFrame(geometry=polys.geometry.to_numpy(), crs=STORAGE_EPSG)


def _local_buffer(geom: shapely.Geometry, distance_km: float) -> shapely.Geometry:
    """Buffer by a true distance in a local azimuthal equidistant projection."""
    if distance_km <= 0:
        return geom
    c = geom.centroid
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m")
    fwd = Transformer.from_crs(STORAGE_EPSG, local, always_xy=True)
    back = Transformer.from_crs(local, STORAGE_EPSG, always_xy=True)
    projected = shapely.transform(geom, lambda xy: np.column_stack(fwd.transform(*xy.T)))
    buffered = shapely.buffer(projected, distance_km * 1000.0, quad_segs=16)
    return shapely.transform(buffered, lambda xy: np.column_stack(back.transform(*xy.T)))


def threat_footprints(
    threats: gpd.GeoDataFrame,
    *,
    buffer_km: float = 2.0,
    status_weights: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Threats as weighted polygons: each footprint (or line, or point) buffered by a distance.

    Returns
    -------
    GeoDataFrame
        ``weight`` (from the threat's ``status``; 1 if it has none) and the buffered geometry.
    """
    t = to_storage(threats, what="the threats")
    weights = dict(THREAT_STATUS_WEIGHTS if status_weights is None else status_weights)
    rows: list[tuple[float, shapely.Geometry]] = []
    statuses = t["status"] if "status" in t.columns else pd.Series([None] * len(t), index=t.index)
    for geom, status in zip(t.geometry, statuses, strict=True):
        if geom is None or geom.is_empty:
            continue
        w = 1.0 if status is None else float(weights.get(str(status), 0.0))
        if w <= 0:
            continue
        rows.append((w, polygonal_part(shapely.make_valid(_local_buffer(geom, buffer_km)))))
    return gpd.GeoDataFrame(
        {"weight": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=STORAGE_EPSG
    )


# --------------------------------------------------------------------------------------------
# Distances (geodesic, through a k-d tree on the unit sphere)
# --------------------------------------------------------------------------------------------


def _xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def nearest_km(points_lonlat: np.ndarray, targets_lonlat: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) from each point to the nearest target point."""
    if len(targets_lonlat) == 0:
        return np.full(len(points_lonlat), np.nan)
    tree = cKDTree(_xyz(targets_lonlat[:, 0], targets_lonlat[:, 1]))
    chord, _ = tree.query(_xyz(points_lonlat[:, 0], points_lonlat[:, 1]))
    return 2.0 * _EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def _vertices(gdf: gpd.GeoDataFrame, step_deg: float = 0.01) -> np.ndarray:
    """Coordinates of a layer, lines densified so the nearest vertex is the nearest point."""
    g = to_storage(gdf).geometry
    g = g[g.notna() & ~g.is_empty]
    if g.empty:
        return np.zeros((0, 2))
    dense = shapely.segmentize(g.to_numpy(), step_deg)
    return shapely.get_coordinates(dense)


def unit_centres(units: gpd.GeoDataFrame) -> np.ndarray:
    """Centroids (lon, lat) of the units, taken in the equal-area CRS."""
    c = units.geometry.to_crs(EQUAL_AREA_EPSG).centroid.to_crs(STORAGE_EPSG)
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()])


# --------------------------------------------------------------------------------------------
# Values per unit
# --------------------------------------------------------------------------------------------


def feature_columns(units: pd.DataFrame) -> list[str]:
    """The feature (habitat) columns of a planning-unit table."""
    return [c for c in units.columns if str(c).startswith(FEATURE_PREFIX)]


def feature_name(column: str) -> str:
    """``habitat:Panthera uncia|mountain`` -> ``Panthera uncia|mountain``."""
    return column[len(FEATURE_PREFIX) :] if column.startswith(FEATURE_PREFIX) else column


def _share(units: gpd.GeoDataFrame, layer: gpd.GeoDataFrame | None) -> np.ndarray:
    out = np.zeros(len(units))
    if layer is None or layer.empty:
        return out
    cover = _overlap_km2(units, _dissolved(layer))
    if not cover.empty:
        out[cover.index.to_numpy()] = cover["area"].to_numpy()
    return np.clip(out / units["area_km2"].to_numpy(), 0.0, 1.0)


def unit_values(
    units: gpd.GeoDataFrame,
    *,
    habitat: gpd.GeoDataFrame | None = None,
    protected: gpd.GeoDataFrame | None = None,
    threats: gpd.GeoDataFrame | None = None,
    field_sites: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    species_column: str = "species",
    ecosystem_column: str = "ecosystem",
    by_country: bool = False,
    threat_buffer_km: float = 2.0,
    threat_status_weights: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Add to ``units`` the values planning needs (see the module notes).

    Parameters
    ----------
    units : GeoDataFrame
        From :func:`hex_grid` (``h3``, ``iso3``, ``area_km2``, geometry).
    habitat : GeoDataFrame, optional
        Habitat polygons with a species and an ecosystem column; overlapping polygons of the
        same species and ecosystem are dissolved first, so nothing is counted twice.
    protected : GeoDataFrame, optional
        Protected areas (polygons, or points with ``reported_area_km2``; ``status`` if known).
    threats : GeoDataFrame, optional
        Threats (any geometry, ``status`` if known).
    field_sites : GeoDataFrame, optional
        Field sites of grants funded on the grid's day (:func:`geo.funding.funded_sites`).
    places, roads : GeoDataFrame, optional
        Towns (points) and roads (lines) for distances.
    by_country : bool
        Split each habitat feature by country (``...|KGZ``), so targets apply in every
        country. When the habitat has an ``iso3`` column (habitat modelled per country), a
        unit on a border counts for each country by the habitat it holds in that country
        (by intersection); otherwise the whole unit counts for the country holding most of it.

    Returns
    -------
    GeoDataFrame
        ``units`` plus ``habitat:<species>|<ecosystem>[|<iso3>]`` (km²), ``protected_share``,
        ``threat_pressure``, ``grant_share`` (0–1), ``town_km`` and ``road_km`` (km, NaN
        when the layer is not given).
    """
    require_crs(units, what="the planning units")
    for name in ("area_km2",):
        if name not in units.columns:
            raise SchemaMismatch(f"planning units need a column {name} (see hex_grid)")
    out = units.reset_index(drop=True).copy()
    n = len(out)
    if habitat is not None and not habitat.empty:
        missing = [c for c in (species_column, ecosystem_column) if c not in habitat.columns]
        if missing:
            raise SchemaMismatch(
                f"habitat polygons need the column(s) {', '.join(missing)} "
                "(the species and the ecosystem of each polygon)"
            )
        hab = to_storage(habitat, what="the habitat")
        per_country = by_country and "iso3" in hab.columns
        keys = [species_column, ecosystem_column, *(["iso3"] if per_country else [])]
        hab = hab.dissolve(by=keys, as_index=False)
        cover = _overlap_km2(out, hab, by=keys)
        columns: dict[str, np.ndarray] = {}
        for group in sorted(cover.columns):
            values = np.zeros(n)
            values[cover.index.to_numpy()] = cover[group].to_numpy()
            if per_country:
                columns[f"{FEATURE_PREFIX}{group}"] = values
            elif by_country:
                for iso3 in sorted(out["iso3"].dropna().unique()):
                    mask = (out["iso3"] == iso3).to_numpy()
                    if values[mask].sum() > 0:
                        columns[f"{FEATURE_PREFIX}{group}|{iso3}"] = np.where(mask, values, 0.0)
            else:
                columns[f"{FEATURE_PREFIX}{group}"] = values
        out = pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)
    pa = protected_polygons(protected) if protected is not None else None
    out["protected_share"] = _share(out, pa)
    out["grant_share"] = _share(out, to_storage(field_sites) if field_sites is not None else None)
    pressure = np.zeros(n)
    if threats is not None and not threats.empty:
        fp = threat_footprints(
            threats, buffer_km=threat_buffer_km, status_weights=threat_status_weights
        )
        for w, geom in zip(fp["weight"], fp.geometry, strict=True):
            one = gpd.GeoDataFrame(geometry=[geom], crs=STORAGE_EPSG)
            pressure += w * _share(out, one)
    out["threat_pressure"] = np.clip(pressure, 0.0, 1.0)
    centres = unit_centres(out)
    out["town_km"] = (
        nearest_km(centres, shapely.get_coordinates(to_storage(places).geometry.to_numpy()))
        if places is not None and not places.empty
        else np.nan
    )
    out["road_km"] = (
        nearest_km(centres, _vertices(roads)) if roads is not None and not roads.empty else np.nan
    )
    return gpd.GeoDataFrame(out, geometry=units.geometry.name, crs=STORAGE_EPSG)


# --------------------------------------------------------------------------------------------
# Cost, locks, boundaries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostModel:
    """How a unit's cost is made: a base times factors for threat and accessibility.

    ``cost = base × (1 + threat_weight × threat_pressure)
    × (1 + town_weight × exp(-town_km / town_scale_km))
    × (1 + road_weight × exp(-road_km / road_scale_km))``

    The base is the unit's area in km² (``"area"``) or 1 (``"uniform"``). Land near towns and
    roads is more contested, so costs more to secure; a threatened unit costs more to protect.
    """

    base: str = "area"
    threat_weight: float = 0.0
    town_weight: float = 0.0
    town_scale_km: float = 25.0
    road_weight: float = 0.0
    road_scale_km: float = 10.0

    def __post_init__(self) -> None:
        if self.base not in ("area", "uniform"):
            raise InvalidInput("the cost base must be 'area' or 'uniform'")
        for name in ("threat_weight", "town_weight", "road_weight"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise InvalidInput(f"{name} must be a non-negative number")
        for name in ("town_scale_km", "road_scale_km"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise InvalidInput(f"{name} must be a positive number of kilometres")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def unit_costs(units: pd.DataFrame, model: CostModel | None = None) -> np.ndarray:
    """The cost of each unit under ``model`` (see :class:`CostModel`)."""
    model = model or CostModel()
    n = len(units)
    cost = units["area_km2"].to_numpy(dtype="float64") if model.base == "area" else np.ones(n)
    if model.threat_weight:
        cost = cost * (1.0 + model.threat_weight * _column(units, "threat_pressure"))
    for weight, col, scale in (
        (model.town_weight, "town_km", model.town_scale_km),
        (model.road_weight, "road_km", model.road_scale_km),
    ):
        if weight:
            d = _column(units, col)
            if np.isnan(d).all():
                raise InvalidInput(f"the cost uses {col}, but no such layer was given")
            cost = cost * (1.0 + weight * np.exp(-np.nan_to_num(d, nan=np.inf) / scale))
    return cost


def _column(units: pd.DataFrame, name: str) -> np.ndarray:
    if name not in units.columns:
        raise SchemaMismatch(f"planning units have no column {name} (see unit_values)")
    return units[name].to_numpy(dtype="float64")


def overlap_mask(
    units: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, *, min_share: float = 0.0
) -> np.ndarray:
    """Units whose share covered by ``layer`` exceeds ``min_share`` (any overlap with 0).

    Used to lock out units (for example those touching a resort footprint).
    """
    if layer is None or layer.empty:
        return np.zeros(len(units), dtype=bool)
    geoms = to_storage(layer).geometry
    if min_share <= 0:
        tree = shapely.STRtree(geoms.to_numpy())
        ui, _ = tree.query(units.geometry.to_numpy(), predicate="intersects")
        mask = np.zeros(len(units), dtype=bool)
        mask[ui] = True
        return mask
    return _share(units.reset_index(drop=True), to_storage(layer)) > min_share


def unit_boundaries(units: gpd.GeoDataFrame, *, h3_column: str = "h3") -> Boundary:
    """Shared boundary lengths (km, geodesic) between neighbouring H3 units, and perimeters.

    Neighbours are found through H3; a shared edge is H3's own great-circle edge, clipped to
    the units' geometry where a unit was cut by the study area's edge.
    """
    if h3_column not in units.columns:
        raise SchemaMismatch(f"planning units have no column {h3_column}")
    ids = units[h3_column].tolist()
    pos = {c: k for k, c in enumerate(ids)}
    clipped = (
        units["clipped"].to_numpy(dtype=bool)
        if "clipped" in units.columns
        else np.zeros(len(ids), dtype=bool)
    )
    ii: list[int] = []
    jj: list[int] = []
    edges: list[str] = []
    for k, cell in enumerate(ids):
        for nb in h3.grid_ring(cell, 1):
            other = pos.get(nb)
            if other is not None and other > k:
                ii.append(k)
                jj.append(other)
                edges.append(h3.cells_to_directed_edge(cell, nb))
    length = np.array([h3.edge_length(e, "km") for e in edges], dtype="float64")
    geoms = units.geometry.to_numpy()
    cut = np.flatnonzero(clipped[ii] | clipped[jj]) if ii else np.zeros(0, dtype=int)
    for e in cut:
        ends = [(lng, lat) for lat, lng in h3.directed_edge_to_boundary(edges[e])]
        line = shapely.LineString(_geodesic_path(ends))
        both = shapely.intersection(geoms[ii[e]].buffer(1e-6), geoms[jj[e]].buffer(1e-6))
        length[e] = _GEOD.geometry_length(shapely.intersection(line, both)) / 1000.0
    perimeter = np.array([_GEOD.geometry_length(g.boundary) for g in geoms]) / 1000.0
    boundary = Boundary(perimeter=perimeter, i=np.array(ii), j=np.array(jj), length=length)
    # rounding may leave a unit's shared edges a few metres longer than its perimeter
    everything = np.ones(len(ids), dtype=bool)
    perimeter = np.maximum(perimeter, boundary.shared_with(everything))
    return Boundary(perimeter=perimeter, i=boundary.i, j=boundary.j, length=length)


# --------------------------------------------------------------------------------------------
# A coarse habitat proxy from named physical regions (used only when no habitat is stored)
# --------------------------------------------------------------------------------------------

#: Natural Earth ``featurecla`` of physical regions, by the ecosystem they stand for.
REGION_ECOSYSTEMS: dict[str, str] = {
    "Range/mtn": "mountain",
    "Desert": "arid_lowland",
    "Plain": "arid_lowland",
    "Lowland": "arid_lowland",
}
#: Regions whose name decides their ecosystem over their class (semi-desert plateaus and
#: uplands of the gazelle, while the Tibetan plateau is not arid lowland).
REGION_NAME_ECOSYSTEMS: dict[str, str] = {
    "Ustyurt Plateau": "arid_lowland",
    "KAZAKH UPLAND": "arid_lowland",
}
#: Which ecosystems each species lives in (IUCN habitat: snow leopard in the alpine and
#: subalpine zones of mountains; goitered gazelle in deserts and semi-deserts of plains and
#: foothills).
SPECIES_ECOSYSTEMS: dict[str, tuple[str, ...]] = {
    "Panthera uncia": ("mountain",),
    "Gazella subgutturosa": ("arid_lowland",),
}


def habitat_from_regions(
    regions: gpd.GeoDataFrame,
    area: gpd.GeoDataFrame,
    *,
    region_ecosystems: Mapping[str, str] | None = None,
    species_ecosystems: Mapping[str, Sequence[str]] | None = None,
    class_column: str = "featurecla",
) -> gpd.GeoDataFrame:
    """A coarse habitat proxy: named mountain ranges and deserts/plains inside the study area.

    This is not a habitat model: it stands in for one (the Area of Habitat polygons of the
    analyses) when none is stored, so that planning can be shown on the reference data alone.
    Each region's class (Natural Earth ``featurecla``) gives its ecosystem; each species is
    given the regions of the ecosystems it lives in.

    Returns
    -------
    GeoDataFrame
        ``species``, ``ecosystem``, ``region`` and the region clipped to ``area``.
    """
    if class_column not in regions.columns:
        raise SchemaMismatch(f"the regions need a column {class_column}")
    eco_of = dict(REGION_ECOSYSTEMS if region_ecosystems is None else region_ecosystems)
    by_name = REGION_NAME_ECOSYSTEMS if region_ecosystems is None else {}
    species_of = dict(SPECIES_ECOSYSTEMS if species_ecosystems is None else species_ecosystems)
    reg = to_storage(regions, what="the regions")
    whole = shapely.make_valid(to_storage(area, what="the study area").geometry.union_all())
    rows = []
    names = reg["name"] if "name" in reg.columns else pd.Series([None] * len(reg), index=reg.index)
    for name, cls, geom in zip(names, reg[class_column], reg.geometry, strict=True):
        eco = by_name.get(str(name), eco_of.get(str(cls)))
        if eco is None or geom is None:
            continue
        clipped = polygonal_part(shapely.intersection(shapely.make_valid(geom), whole))
        if clipped.is_empty:
            continue
        for species, ecosystems in species_of.items():
            if eco in ecosystems:
                rows.append((species, eco, name, clipped))
    return gpd.GeoDataFrame(
        {
            "species": [r[0] for r in rows],
            "ecosystem": [r[1] for r in rows],
            "region": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=STORAGE_EPSG,
    )


__all__ = [
    "FEATURE_PREFIX",
    "CostModel",
    "feature_columns",
    "feature_name",
    "geodesic_circle",
    "habitat_from_regions",
    "hex_grid",
    "nearest_km",
    "overlap_mask",
    "protected_polygons",
    "threat_footprints",
    "unit_boundaries",
    "unit_centres",
    "unit_costs",
    "unit_values",
]

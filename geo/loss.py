"""Habitat loss: what lies inside threat footprints, and change between raster epochs.

(a) From footprints: the area of habitat, forest, park and ecosystem features inside each
threat, with the threat's status and dates (the Kok-Jailau ski resort inside Ile-Alatau
National Park is the worked example), and a timeline of those areas through the threat's
status changes.

(b) From rasters: the area of habitat (or of any land-cover class) per zone in each epoch of
a raster series, with exact partial-pixel weights (exactextract, see :mod:`geo.raster`), and
the change against the first epoch, as a time series.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> t = gpd.GeoDataFrame({"id": [1], "name": ["resort"], "status": ["proposed"]},
...                      geometry=[box(0, 40, 0.1, 40.1)], crs=4326)
>>> park = gpd.GeoDataFrame({"id": [5]}, geometry=[box(0, 40, 0.05, 40.1)], crs=4326)
>>> r = footprint_loss(t, {"park": park})
>>> round(float(r["share_of_threat"].iloc[0]), 3)
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

import geopandas as gpd
import rasterio
import rasterio.features

from geo.crs import STORAGE_EPSG, area_ha
from geo.errors import InvalidInput
from geo.labels import derived_method
from geo.overlap import overlap, prepare_layer
from geo.raster import RasterLike, class_areas_windowed, open_raster

THREAT_COLS = ("name", "kind", "status", "proposed_on", "started_on", "ended_on")


class ZonalClassAreas(Protocol):
    """The signature of :func:`geo.raster.class_areas` and its windowed and Dask versions."""

    def __call__(
        self,
        raster: RasterLike,
        zones: gpd.GeoDataFrame,
        id_col: str,
        *,
        classify: Callable[[np.ndarray], np.ndarray] | None = ...,
    ) -> pd.DataFrame: ...


def footprint_loss(
    threats: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    threat_id: str = "id",
    id_cols: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Area of each layer's features inside each threat footprint.

    Parameters
    ----------
    threats : GeoDataFrame
        Threat footprints with ``threat_id`` and, if present, ``name, kind, status,
        proposed_on, started_on, ended_on``. Points and lines have no footprint area and
        are left out.
    layers : mapping of name to GeoDataFrame
        E.g. ``{"habitat": ..., "protected_area": ..., "ecosystem": ..., "forest": ...}``.
    id_cols : mapping, optional
        Identifier column per layer (default ``id`` when present, else the index).

    Returns
    -------
    GeoDataFrame
        One row per threat × layer feature: ``threat_id``, the threat's columns, ``layer``,
        ``feature_id``, ``area_ha``, ``share_of_threat``, ``share_of_feature``, ``method``
        (the weakest of the threat's and the feature's ``method`` columns, at best
        ``modelled``), ``example_inputs`` (the example inputs the row rests on) and the
        piece's geometry. Empty (with these columns) when nothing overlaps.
    """
    id_cols = dict(id_cols or {})
    cols = [
        "threat_id",
        *THREAT_COLS,
        "layer",
        "feature_id",
        "feature_label",
        "area_ha",
        "share_of_threat",
        "share_of_feature",
    ]
    t = prepare_layer(threats, "threat", threat_id if threat_id in threats.columns else None)
    if t.empty:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=STORAGE_EPSG)
    info = threats.set_index(threat_id) if threat_id in threats.columns else threats
    frames = []
    for name, layer in layers.items():
        if layer is None or layer.empty:
            continue
        col = id_cols.get(name) or ("id" if "id" in layer.columns else None)
        ov = overlap(
            {"threat": threats, "feature": layer},
            id_cols={"threat": threat_id, **({"feature": col} if col else {})},
        )
        if ov.empty:
            continue
        label = next(
            (
                c
                for c in ("feature_name", "feature_species", "feature_kind", "feature_iso3")
                if c in ov.columns
            ),
            None,
        )
        f = gpd.GeoDataFrame(
            {
                "threat_id": ov["threat_id"],
                "layer": name,
                "feature_id": ov["feature_id"],
                "feature_label": ov[label] if label else None,
                "area_ha": ov["area_ha"],
                "share_of_threat": ov["share_threat"],
                "share_of_feature": ov["share_feature"],
            },
            geometry=ov.geometry,
            crs=STORAGE_EPSG,
        )
        for c in ("feature_ecosystem", "feature_iso3", "feature_species"):
            if c in ov.columns:
                f[c.removeprefix("feature_")] = ov[c].to_numpy()
        f["method"], f["example_inputs"] = _labels(ov, info, layer, col, name, f["feature_label"])
        frames.append(f)
    if not frames:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=STORAGE_EPSG)
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_EPSG)
    for c in THREAT_COLS:
        out[c] = out["threat_id"].map(info[c]) if c in info.columns else None
    extra = [c for c in out.columns if c not in cols and c != "geometry"]
    return out[[*cols, *extra, "geometry"]]


def _labels(
    ov: pd.DataFrame,
    info: pd.DataFrame,
    features: gpd.GeoDataFrame,
    id_col: str | None,
    layer: str,
    feature_label: pd.Series,
) -> tuple[list[str], list[list[str]]]:
    """Each loss row's method, the weakest of the threat's and the feature's and at best
    ``modelled`` (:func:`geo.labels.derived_method`), and the example inputs it rests on."""
    t_method = ov["threat_id"].map(info["method"]) if "method" in info.columns else None
    t_name = ov["threat_id"].map(info["name"]) if "name" in info.columns else ov["threat_id"]
    f_method = None
    if "method" in features.columns:
        by_id = features["method"] if id_col is None else features.set_index(id_col)["method"]
        f_method = ov["feature_id"].map(by_id)
    methods: list[str] = []
    examples: list[list[str]] = []
    for i in range(len(ov)):
        ms: list[str] = []
        ex: list[str] = []
        if t_method is not None and isinstance(t_method.iloc[i], str):
            ms.append(t_method.iloc[i])
            if t_method.iloc[i] == "example":
                ex.append(f"threat: {t_name.iloc[i]}")
        if f_method is not None and isinstance(f_method.iloc[i], str):
            ms.append(f_method.iloc[i])
            if f_method.iloc[i] == "example":
                ex.append(f"{layer}: {feature_label.iloc[i]}")
        methods.append(derived_method(ms))
        examples.append(ex)
    return methods, examples


def loss_timeline(loss: pd.DataFrame, status_changes: pd.DataFrame) -> pd.DataFrame:
    """The footprint areas through each threat's status changes (one row per date × layer).

    Parameters
    ----------
    loss : DataFrame
        From :func:`footprint_loss`.
    status_changes : DataFrame
        ``threat_id, status, changed_on`` (and optionally ``note``, ``source``).

    Returns
    -------
    DataFrame
        ``threat_id, changed_on, status, layer, area_ha`` sorted by date: the area of each
        layer inside the footprint while the threat had that status.
    """
    if loss.empty or status_changes is None or status_changes.empty:
        return pd.DataFrame(columns=["threat_id", "changed_on", "status", "layer", "area_ha"])
    per = loss.groupby(["threat_id", "layer"], as_index=False)["area_ha"].sum()
    sc = status_changes[["threat_id", "status", "changed_on"]]
    out = sc.merge(per, on="threat_id", how="inner")
    return out.sort_values(["threat_id", "changed_on", "layer"]).reset_index(drop=True)


def raster_change(
    epochs: Mapping[str, RasterLike],
    zones: gpd.GeoDataFrame,
    id_col: str,
    *,
    habitat: Callable[[np.ndarray], np.ndarray] | None = None,
    habitat_values: tuple[int, ...] = (1,),
    zonal: ZonalClassAreas = class_areas_windowed,
) -> pd.DataFrame:
    """Habitat area per zone in each epoch of a raster series, and its change.

    Parameters
    ----------
    epochs : mapping of label to raster path
        Ordered epochs (e.g. ``{"2000": "lc2000.tif", "2020": "lc2020.tif"}``) of a habitat
        or land-cover raster, each in EPSG:4326 or an equal-area CRS (others are refused).
    zones : GeoDataFrame
        Protected areas, field sites, countries ...: any polygons with ``id_col``.
    habitat : callable, optional
        Maps raster values to True where habitat; default: value in ``habitat_values``.
    zonal : callable, optional
        How the class areas of an epoch are measured: :func:`geo.raster.class_areas_windowed`
        (the default: window by window, memory flat as the raster grows),
        :func:`geo.raster.class_areas` (in memory) or
        :func:`geo.partitioned.class_areas_dask` (windows on a Dask cluster); all give the
        same numbers.

    Returns
    -------
    DataFrame
        ``id_col, epoch, habitat_ha, valid_ha, nodata_ha, change_ha, change_pct`` where
        the change is against the first epoch. Nodata cells count in ``nodata_ha``, never as
        habitat or as loss.
    """
    if len(epochs) < 1:
        raise InvalidInput("give at least one raster epoch")
    fn = habitat or (lambda a: np.isin(a, habitat_values))
    rows = []
    for label, path in epochs.items():
        ca = zonal(path, zones, id_col, classify=fn)
        if ca.empty:
            continue
        per = ca.groupby(id_col).agg(
            valid_ha=("valid_ha", "first"), nodata_ha=("nodata_ha", "first")
        )
        hab = ca[ca["value"].astype(bool)].groupby(id_col)["area_ha"].sum()
        per["habitat_ha"] = hab.reindex(per.index).fillna(0.0)
        per["epoch"] = str(label)
        rows.append(per.reset_index())
    cols = [id_col, "epoch", "habitat_ha", "valid_ha", "nodata_ha", "change_ha", "change_pct"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rows, ignore_index=True)
    first = out[out["epoch"] == str(next(iter(epochs)))].set_index(id_col)["habitat_ha"]
    base = out[id_col].map(first)
    out["change_ha"] = out["habitat_ha"] - base
    out["change_pct"] = np.where(base > 0, 100 * out["change_ha"] / base, np.nan)
    return out[cols]


def zones_from(layers: Mapping[str, gpd.GeoDataFrame], id_col: str = "id") -> gpd.GeoDataFrame:
    """One zone layer from several (``protected_area:3``, ``field_site:7``, ``country:KAZ``)."""
    parts = []
    for name, g in layers.items():
        if g is None or g.empty:
            continue
        ids = g[id_col] if id_col in g.columns else g.index
        label = g["name"] if "name" in g.columns else ids
        parts.append(
            gpd.GeoDataFrame(
                {"zone": [f"{name}:{i}" for i in ids], "zone_type": name, "zone_name": list(label)},
                geometry=g.to_crs(STORAGE_EPSG).geometry.to_numpy(),
                crs=STORAGE_EPSG,
            )
        )
    if not parts:
        return gpd.GeoDataFrame(
            columns=["zone", "zone_type", "zone_name"], geometry=[], crs=STORAGE_EPSG
        )
    z = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=STORAGE_EPSG)
    z["zone_area_ha"] = area_ha(z)
    return z


def clear_footprints(
    raster: RasterLike, footprints: gpd.GeoDataFrame, out_path: str | Path, value: int = 0
) -> Path:
    """A copy of a habitat raster with every cell touched by a footprint set to ``value``.

    For scenarios ("habitat if the resort is built"): the result is a second epoch for
    :func:`raster_change`. Nodata cells stay nodata.
    """
    with open_raster(raster) as src:
        profile = src.profile
        data = src.read(1)
        fp = footprints.to_crs(src.crs)
        geoms = [g for g in fp.geometry if g is not None and not g.is_empty]
        if geoms:
            hit = rasterio.features.geometry_mask(
                geoms, data.shape, src.transform, invert=True, all_touched=True
            )
            keep = data == src.nodata if src.nodata is not None else np.zeros_like(hit)
            data = np.where(hit & ~keep, value, data).astype(data.dtype)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
    return out

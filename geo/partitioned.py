"""The overlay, zonal and loss steps run partitioned on Dask, with the numbers of the
in-memory functions.

* :func:`overlap_dask`: :func:`geo.overlap.overlap` with the first layer split into
  partitions (dask-geopandas); every partition is overlaid with the whole of the other
  layers, so each piece is computed once, by one task.
* :func:`zonal_stats_dask`: :func:`geo.raster.zonal_stats` over partitions of the zones.
* :func:`class_areas_dask`: :func:`geo.raster.class_areas_windowed` with one task per raster
  window (block-aligned), the partial sums added up in a tree; pass it as ``zonal`` to
  :func:`geo.loss.raster_change` for habitat loss by zone.

Where the tasks run: a ``distributed.Client`` given as ``client``, else the scheduler named by
the ``IRBIS_DASK_SCHEDULER`` setting (an address such as ``tcp://10.0.0.5:8786`` for a
cluster, or one of Dask's local schedulers ``threads``, ``processes``, ``synchronous``), else
Dask's threads in this process. Raster tasks open the raster by its path, so the workers of a
cluster must see the same file (shared storage or object storage GDAL reads).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dask
import dask_geopandas
import numpy as np
import pandas as pd
from distributed import Client

import geopandas as gpd

from geo.crs import STORAGE_EPSG
from geo.overlap import overlap
from geo.raster import (
    WINDOW_CELLS,
    ClassSums,
    RasterLike,
    window_class_sums,
    window_jobs,
    zonal_stats,
)

#: The setting naming where Dask tasks run (see the module's description).
SCHEDULER_ENV = "IRBIS_DASK_SCHEDULER"
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous", "sync", "single-threaded")


def compute(tasks: Sequence[Any], client: Client | None = None) -> list[Any]:
    """Compute Dask tasks on ``client``, on the scheduler of ``IRBIS_DASK_SCHEDULER`` or on
    local threads; results in the order of ``tasks``."""
    if not tasks:
        return []
    if client is not None:
        return list(client.gather(client.compute(list(tasks))))
    where = os.environ.get(SCHEDULER_ENV, "").strip()
    if not where or where in LOCAL_SCHEDULERS:
        return list(dask.compute(*tasks, scheduler=where or "threads"))
    with Client(where, set_as_default=False) as c:
        return list(c.gather(c.compute(list(tasks))))


def _partitions(gdf: gpd.GeoDataFrame, npartitions: int | None) -> list[Any]:
    n = npartitions or max(1, min(len(gdf) // 500 + 1, 64))
    ddf = dask_geopandas.from_geopandas(gdf, npartitions=max(1, min(n, len(gdf) or 1)))
    return list(ddf.to_delayed())


def overlap_dask(
    layers: Mapping[str, gpd.GeoDataFrame],
    id_cols: Mapping[str, str] | None = None,
    *,
    npartitions: int | None = None,
    client: Client | None = None,
) -> gpd.GeoDataFrame:
    """:func:`geo.overlap.overlap` with the first layer in partitions: the same pieces,
    areas and shares (rows in the same order)."""
    names = list(layers)
    if len(names) < 2:
        return overlap(layers, id_cols)  # refused there, with its message
    first, rest = layers[names[0]], {n: layers[n] for n in names[1:]}
    if first.empty:
        return overlap(layers, id_cols)
    run = dask.delayed(_overlap_part, pure=True)
    parts = compute(
        [run(p, names[0], rest, dict(id_cols or {})) for p in _partitions(first, npartitions)],
        client,
    )
    done = [p for p in parts if not p.empty]
    if not done:
        return parts[0]
    out = pd.concat(done, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=STORAGE_EPSG)


def _overlap_part(
    part: gpd.GeoDataFrame,
    name: str,
    rest: Mapping[str, gpd.GeoDataFrame],
    id_cols: Mapping[str, str],
) -> gpd.GeoDataFrame:
    return overlap({name: part, **rest}, id_cols)


def zonal_stats_dask(
    raster: RasterLike,
    zones: gpd.GeoDataFrame,
    id_col: str,
    ops: Sequence[str] = ("mean",),
    *,
    npartitions: int | None = None,
    client: Client | None = None,
) -> pd.DataFrame:
    """:func:`geo.raster.zonal_stats` over partitions of the zones (same rows, same order)."""
    if zones.empty:
        return zonal_stats(raster, zones, id_col, ops)
    run = dask.delayed(zonal_stats, pure=True)
    parts = compute(
        [run(str(raster), p, id_col, list(ops)) for p in _partitions(zones, npartitions)],
        client,
    )
    return pd.concat(parts, ignore_index=True)


def class_areas_dask(
    raster: RasterLike,
    zones: gpd.GeoDataFrame,
    id_col: str,
    *,
    classify: Callable[[np.ndarray], np.ndarray] | None = None,
    band: int = 1,
    max_cells: int = WINDOW_CELLS,
    client: Client | None = None,
) -> pd.DataFrame:
    """:func:`geo.raster.class_areas` as one Dask task per raster window, partial sums
    added up in a tree: the same table, memory per worker bounded by a window."""
    jobs, order = window_jobs(raster, zones, id_col, band=band, max_cells=max_cells)
    run = dask.delayed(window_class_sums, pure=True)
    add = dask.delayed(_add, pure=True)
    level = [run(job, classify) for job in jobs]
    while len(level) > 1:  # a tree of sums: no task holds every window's result
        level = [add(*level[i : i + 8]) for i in range(0, len(level), 8)]
    total = compute(level, client)[0] if level else ClassSums()
    return total.table(id_col, list(dict.fromkeys(order)))


def _add(*parts: ClassSums) -> ClassSums:
    total = ClassSums()
    for p in parts:
        total = total + p
    return total

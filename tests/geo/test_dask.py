"""The overlay, zonal and loss steps on Dask (geo.partitioned) give the in-memory numbers,
on a real distributed.LocalCluster and through the IRBIS_DASK_SCHEDULER setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import geopandas as gpd
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from geo.loss import raster_change
from geo.overlap import overlap
from geo.partitioned import (
    SCHEDULER_ENV,
    class_areas_dask,
    overlap_dask,
    zonal_stats_dask,
)
from geo.raster import class_areas, zonal_stats


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as c:
        yield c


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster, set_as_default=False) as c:
        yield c


def _tiled(path: Path, arr: np.ndarray) -> Path:
    t = from_origin(76.80, 43.30, 0.000375, 0.00027)
    profile = {"driver": "GTiff", "height": arr.shape[0], "width": arr.shape[1], "count": 1,
               "dtype": "uint8", "transform": t, "crs": "EPSG:4326", "nodata": 255,
               "tiled": True, "blockxsize": 32, "blockysize": 32}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(11)
    a = rng.integers(1, 5, size=(260, 240), dtype="uint8")
    a[200:, :60] = 255
    b = a.copy()
    b[50:150, 40:180][b[50:150, 40:180] == 1] = 2
    return _tiled(tmp_path / "a.tif", a), _tiled(tmp_path / "b.tif", b)


@pytest.fixture
def zones() -> gpd.GeoDataFrame:
    geoms = [
        box(76.803, 43.241, 76.861, 43.2893),
        Point(76.85, 43.26).buffer(0.02),
        box(76.79, 43.23, 76.812, 43.31),
        Point(76.86, 43.25).buffer(0.004),
    ]
    return gpd.GeoDataFrame({"zid": [1, 2, 3, 4]}, geometry=geoms, crs=4326)


def _same(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    assert a[key].equals(b[key])
    for c in a.columns:
        if c in key or c == "geometry":
            continue
        if pd.api.types.is_numeric_dtype(a[c]):
            np.testing.assert_allclose(a[c].astype(float), b[c].astype(float), rtol=1e-9)
        else:
            assert a[c].tolist() == b[c].tolist()


def test_class_areas_on_the_cluster(pair, zones, client) -> None:
    mem = class_areas(pair[0], zones, "zid")
    before = _processed(client)
    dask = class_areas_dask(pair[0], zones, "zid", max_cells=48 * 48, client=client)
    assert _processed(client) > before  # the windows ran on the cluster's workers
    _same(mem, dask, ["zid", "value"])


def test_loss_on_the_cluster(pair, zones, client) -> None:
    epochs = {"2000": pair[0], "2020": pair[1]}
    mem = raster_change(epochs, zones, "zid", zonal=class_areas)

    def zonal(raster, z, id_col, *, classify=None):
        return class_areas_dask(
            raster, z, id_col, classify=classify, max_cells=40 * 40, client=client
        )

    dask = raster_change(epochs, zones, "zid", zonal=zonal)
    assert (mem["change_ha"] < 0).any()
    _same(mem.fillna(-1.0), dask.fillna(-1.0), ["zid", "epoch"])


def test_scheduler_from_the_setting(pair, zones, cluster, monkeypatch) -> None:
    """IRBIS_DASK_SCHEDULER names the cluster's address: the tasks run there."""
    monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
    mem = class_areas(pair[1], zones, "zid", classify=lambda v: v == 1)
    with Client(cluster.scheduler_address, set_as_default=False) as watcher:
        before = _processed(watcher)
        dask = class_areas_dask(pair[1], zones, "zid", classify=lambda v: v == 1, max_cells=48 * 48)
        assert _processed(watcher) > before
    _same(mem, dask, ["zid", "value"])


def _processed(c: Client) -> int:
    """Tasks the cluster's workers have finished so far."""
    counts = c.run(lambda dask_worker: dask_worker.state.transition_counter)
    return int(sum(counts.values()))


@pytest.mark.parametrize("where", ["synchronous", "threads"])
def test_local_schedulers_by_setting(pair, zones, monkeypatch, where) -> None:
    monkeypatch.setenv(SCHEDULER_ENV, where)
    _same(
        class_areas(pair[0], zones, "zid"),
        class_areas_dask(pair[0], zones, "zid", max_cells=32 * 64),
        ["zid", "value"],
    )


def test_overlay_in_partitions(client) -> None:
    rng = np.random.default_rng(3)
    sites = gpd.GeoDataFrame(
        {"id": range(1, 301), "name": [f"site {i}" for i in range(1, 301)]},
        geometry=[
            Point(x, y).buffer(r)
            for x, y, r in zip(
                rng.uniform(76, 78, 300),
                rng.uniform(42.5, 43.5, 300),
                rng.uniform(0.005, 0.05, 300),
                strict=True,
            )
        ],
        crs=4326,
    )
    parks = gpd.GeoDataFrame(
        {"id": [10, 11, 12]},
        geometry=[
            box(76.2, 42.6, 76.9, 43.2),
            Point(77.4, 43.1).buffer(0.3),
            box(77.0, 42.5, 77.9, 42.8),
        ],
        crs=4326,
    )
    mem = overlap({"site": sites, "park": parks}, id_cols={"site": "id", "park": "id"})
    dask = overlap_dask(
        {"site": sites, "park": parks},
        id_cols={"site": "id", "park": "id"},
        npartitions=5,
        client=client,
    )
    assert len(mem) > 20
    _same(mem, dask, ["site_id", "park_id"])
    assert (mem.sort_values(["site_id", "park_id"]).geometry.reset_index(drop=True)
            .geom_equals_exact(dask.sort_values(["site_id", "park_id"]).geometry.reset_index(drop=True), 1e-12).all())  # fmt: skip


def test_zonal_stats_in_partitions(pair, zones, client) -> None:
    mem = zonal_stats(pair[0], zones, "zid", ["mean", "count", "max"])
    dask = zonal_stats_dask(
        pair[0], zones, "zid", ["mean", "count", "max"], npartitions=3, client=client
    )
    _same(mem, dask, ["zid"])

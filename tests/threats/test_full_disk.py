"""A full disk while evidence is written: a clear 507, and no report row, no partial file.

The var directory is a small tmpfs mounted by the test (root only), so the disk really fills.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from api.app import create_app
from api.auth.testing import login, make_user
from api.settings import Settings
from tests.threats.conftest import report_form, stored

pytestmark = pytest.mark.cleaned_up  # its apps commit


def noisy_photo(side: int = 700) -> bytes:
    """A JPEG that does not compress well (a few hundred kB)."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, size=(side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="JPEG", quality=92)
    return out.getvalue()


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "var"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def advocate_on_small_disk(
    settings: Settings, demo: dict[str, int], engine: Engine, small_disk: Path
) -> Iterator[tuple[TestClient, str, Path]]:
    app = create_app(settings.model_copy(update={"var_dir": small_disk}))
    with TestClient(app) as client:
        name = make_user(engine, roles=["advocate"])
        yield client, login(client, name), small_disk


def _submit(client: TestClient, csrf: str, photo: bytes, title: str) -> Any:
    return client.post(
        "/reports",
        data=report_form(title=title),
        files=[("evidence", ("slope.jpg", photo, "image/jpeg"))],
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )


def test_evidence_bigger_than_the_free_space(
    advocate_on_small_disk: tuple[TestClient, str, Path], engine: Engine
) -> None:
    client, csrf, var = advocate_on_small_disk
    photo = noisy_photo()
    assert len(photo) > 200_000
    # leave less room than the photo needs
    filler = var / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * max(0, free_bytes(var) - len(photo) // 2))
    assert free_bytes(var) < len(photo)
    files_before = files_under(var)
    rows_before = stored(engine, var)[:3]

    r = _submit(client, csrf, photo, "Road cut seen from the ridge (disk full)")

    assert r.status_code == 507, r.text
    body = r.json()
    assert body["code"] == "insufficient_storage"
    assert "no room left" in body["description"] and "nothing was saved" in body["description"]
    assert str(var) not in r.text and "Errno" not in r.text
    assert stored(engine, var)[:3] == rows_before  # no report, no event, no evidence row
    assert files_under(var) == files_before  # no partial or temporary file

    # with room again, the same submission goes through: the test really filled the disk
    filler.unlink()
    r = _submit(client, csrf, photo, "Road cut seen from the ridge (disk full)")
    assert r.status_code == 201, r.text
    rows = stored(engine, var)
    assert rows[:3] == (rows_before[0] + 1, rows_before[1] + 1, rows_before[2] + 1)
    assert len(files_under(var / "evidence")) == 1


def test_a_failed_commit_removes_the_evidence_file(
    advocate_on_small_disk: tuple[TestClient, str, Path], engine: Engine
) -> None:
    """The file is written first; if the rows then cannot be committed, it is removed."""
    client, csrf, var = advocate_on_small_disk
    rows_before = stored(engine, var)[:3]
    files_before = files_under(var)
    photo = noisy_photo(300)
    # a failure at commit time: a deferred constraint trigger that refuses this report
    trigger = "full_disk_test_refuse"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF strpos(NEW.title, '(refuse at commit)') > 0 THEN "
            "RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$"
        )
        conn.exec_driver_sql(
            f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON threat_reports "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {trigger}()"
        )
    try:
        with pytest.raises(Exception, match="refused at commit"):  # the failure made here
            _submit(client, csrf, photo, "Road cut (refuse at commit)")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER {trigger} ON threat_reports")
            conn.exec_driver_sql(f"DROP FUNCTION {trigger}()")
    assert stored(engine, var)[:3] == rows_before
    assert files_under(var) == files_before
    shutil.rmtree(var / "evidence", ignore_errors=True)


def test_an_analysis_raster_that_does_not_fit_leaves_nothing(small_disk: Path) -> None:
    """Analysis rasters are written beside their final name and renamed: a full disk leaves
    neither the raster nor a temporary file, and is recognised as a full disk (507)."""
    import rasterio
    from rasterio.transform import from_origin

    from api.errors import out_of_space
    from api.services.analyses import write_atomic

    final = small_disk / "analyses" / "ecosystems_run_1.tif"
    data = np.random.default_rng(1).integers(0, 30000, size=(1200, 1200), dtype=np.int16)

    def write(path: Path) -> Path:
        profile = {
            "driver": "GTiff",
            "height": 1200,
            "width": 1200,
            "count": 1,
            "dtype": "int16",
            "crs": "EPSG:4326",
            "transform": from_origin(70, 45, 0.01, 0.01),
        }
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
        return path

    with pytest.raises(Exception) as caught:
        write_atomic(final, write)
    assert out_of_space(caught.value), repr(caught.value)
    assert files_under(small_disk) == []

    small = small_disk / "analyses" / "small.tif"
    data = data[:100, :100]

    def write_small(path: Path) -> Path:
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            height=100,
            width=100,
            count=1,
            dtype="int16",
            crs="EPSG:4326",
            transform=from_origin(70, 45, 0.01, 0.01),
        ) as dst:
            dst.write(data, 1)
        return path

    assert write_atomic(small, write_small) == small
    assert files_under(small_disk) == ["analyses/small.tif"]

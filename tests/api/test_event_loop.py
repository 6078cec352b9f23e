"""Blocking work stays off the event loop: a large photo report does not stall tiles."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from api.auth.testing import login, make_user
from api.settings import ServerSettings, Settings, UploadSettings
from tests.serving import serving
from tests.threats.conftest import report_form

TILE = "/collections/countries/tiles/WebMercatorQuad/4/5/11"


def big_photo() -> bytes:
    """A JPEG of about 40 MB (35 megapixels of noise compress badly), slow to decode and
    encode again: seconds of work for the server."""
    rng = np.random.default_rng(12)
    pixels = rng.integers(0, 255, (5000, 7000, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture(scope="module")
def server(settings: Settings, demo: dict[str, int]) -> Iterator[str]:
    from api.app import create_app

    uploads = UploadSettings(max_photo_bytes=80 * 1024 * 1024, max_bytes=100 * 1024 * 1024)
    app = create_app(settings.model_copy(update={"uploads": uploads}))
    with serving(app, ServerSettings()) as (host, port):
        yield f"http://{host}:{port}"


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("cleaned_up")  # a real server's requests, each on its own connection
def test_tiles_answer_promptly_while_a_large_photo_report_is_processed(server, engine) -> None:
    """The report and its user are committed by the server (concurrent requests on its own
    pools are what is tested), and deleted after the test (``cleaned_up``)."""
    photo = big_photo()
    assert len(photo) > 30_000_000
    advocate = httpx.Client(base_url=server, timeout=120)
    csrf = login(advocate, make_user(engine, roles=["advocate"]))
    tiles = httpx.Client(base_url=server, timeout=30)
    assert tiles.get(TILE).status_code == 200  # warm: the tile is computed once

    result: dict[str, Any] = {}

    def upload() -> None:
        start = time.monotonic()
        r = advocate.post(
            "/reports",
            data=report_form(),
            files=[("evidence", ("big.jpg", photo, "image/jpeg"))],
            headers={"X-CSRF-Token": csrf},
        )
        result["status"], result["text"] = r.status_code, r.text[:300]
        result["seconds"] = time.monotonic() - start
        result["done"] = time.monotonic()

    worker = threading.Thread(target=upload)
    worker.start()
    time.sleep(0.2)  # the upload is on its way
    latencies: list[tuple[float, float]] = []  # (finished at, seconds)
    while worker.is_alive():
        start = time.monotonic()
        r = tiles.get(TILE)
        assert r.status_code == 200
        latencies.append((time.monotonic(), time.monotonic() - start))
        time.sleep(0.05)
    worker.join()
    advocate.close()
    tiles.close()
    assert result["status"] == 201, result
    during = [s for finished, s in latencies if finished < result["done"]]
    # the report took a while (decoding and re-encoding 35 megapixels), and tiles kept coming:
    # had the work run on the event loop, a tile asked for meanwhile would have waited for it
    # (about a second on a quiet machine, several on a busy one)
    assert result["seconds"] > 0.5, result["seconds"]
    assert len(during) >= 3, latencies
    assert max(during) < result["seconds"] / 3, (during, result["seconds"])

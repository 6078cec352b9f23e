"""The dossier PDF: rendered once per data version, cached on disk, at most N at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.settings import DossierSettings, Settings

pytestmark = pytest.mark.cleaned_up  # its apps and server commit


def _app(settings: Settings, var_dir: Path, concurrency: int = 1, queue: int = 4) -> Any:
    from api.app import create_app

    return create_app(
        settings.model_copy(
            update={
                "var_dir": var_dir,
                "dossier": DossierSettings(pdf_concurrency=concurrency, pdf_queue=queue),
            }
        )
    )


def _touch_threat(engine: Engine, threat_id: int) -> None:
    """A new data version of the threat (its description rewritten as it was)."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE threats SET description = description WHERE id = :i"), {"i": threat_id}
        )


def _is_pdf(r: Any) -> bool:
    return r.status_code == 200 and r.content.startswith(b"%PDF")


def test_same_version_renders_once_new_version_renders_anew(
    settings: Settings, engine: Engine, kok_jailau: int, tmp_path: Path
) -> None:
    app = _app(settings, tmp_path)
    url = f"/threats/{kok_jailau}/dossier.pdf"
    with TestClient(app) as c:
        first = c.get(url)
        assert _is_pdf(first)
        renderer = app.state.pdf_renderer
        assert renderer.renders == 1
        cached = list((tmp_path / "cache" / "dossiers").glob(f"threat-{kok_jailau}-*.pdf"))
        assert len(cached) == 1
        again = c.get(url)
        assert _is_pdf(again) and again.content == first.content
        assert renderer.renders == 1

        _touch_threat(engine, kok_jailau)
        assert _is_pdf(c.get(url))
        assert renderer.renders == 2
        now = list((tmp_path / "cache" / "dossiers").glob(f"threat-{kok_jailau}-*.pdf"))
        assert len(now) == 1 and now != cached  # the old version's file is gone


def test_unknown_threat_is_404_without_rendering(settings: Settings, tmp_path: Path) -> None:
    app = _app(settings, tmp_path)
    with TestClient(app) as c:
        r = c.get("/threats/987654/dossier.pdf")
        assert r.status_code == 404
        assert (
            getattr(app.state, "pdf_renderer", None) is None or app.state.pdf_renderer.renders == 0
        )


@pytest.fixture
def server(settings: Settings, tmp_path: Path, demo) -> Iterator[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    """A real server that renders one PDF at a time and lets no request wait."""
    import socket

    import uvicorn

    app = _app(settings, tmp_path, concurrency=1, queue=0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def second_threat(engine: Engine) -> Iterator[int]:
    with engine.begin() as conn:
        tid = conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                " source, licence, method) VALUES ('PDF queue test road', 'road', 'proposed',"
                " '{}', '{}', true, ST_MakeEnvelope(77.05, 43.1, 77.06, 43.11, 4326),"
                " 'tests', 'CC-BY-4.0', 'example') RETURNING id"
            )
        ).scalar_one()
    yield int(tid)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM threats WHERE id = :i"), {"i": tid})


def _get_all(urls: list[str]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda u: httpx.get(u, timeout=120), urls))


def test_full_queue_answers_503_and_same_version_waits(
    server: tuple[str, Any], kok_jailau: int, second_threat: int
) -> None:
    base, app = server
    # two dossiers at once with room for one: one is rendered, the other told to come back
    got = _get_all([f"{base}/threats/{t}/dossier.pdf" for t in (kok_jailau, second_threat)])
    assert sorted(r.status_code for r in got) == [200, 503]
    refused = next(r for r in got if r.status_code == 503)
    assert int(refused.headers["retry-after"]) > 0 and "try again" in refused.text
    assert app.state.pdf_renderer.renders == 1
    # the same dossier asked for twice at once: one render, both answered
    refused_id = second_threat if got[1].status_code == 503 else kok_jailau
    same = _get_all([f"{base}/threats/{refused_id}/dossier.pdf"] * 2)
    assert all(_is_pdf(r) for r in same) and same[0].content == same[1].content
    assert app.state.pdf_renderer.renders == 2

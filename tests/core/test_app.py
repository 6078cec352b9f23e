"""The web app: health, landing page, OpenAPI, sources."""

from __future__ import annotations


def test_health_reports_database_and_demo(client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "up"
    assert body["database"]["postgis"].startswith("3.")
    assert body["database"]["demo_loaded"] is True


def test_landing_page_says_what_irbis_is_and_links(client) -> None:
    r = client.get("/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    for link in ("/atlas", "/collections", "/sources", "/api.html"):
        assert f'href="{link}"' in r.text
    assert "snow leopard" in r.text


def test_openapi_document(client) -> None:
    r = client.get("/api")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.") and "/health" in doc["paths"]
    assert client.get("/api.html").status_code == 200


def test_sources_page_lists_provenance(client) -> None:
    r = client.get("/sources")
    assert r.status_code == 200
    assert "Natural Earth" in r.text and "GEBCO" in r.text and "example" in r.text


def test_unknown_path_is_a_json_404(client) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_health_when_database_is_down(settings) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    down = Settings.for_database("postgresql+psycopg://irbis:irbis@127.0.0.1:1/none")
    down.var_dir = settings.var_dir
    with TestClient(create_app(down)) as c:
        r = c.get("/health")
    assert r.status_code == 503
    assert r.json()["database"]["status"] == "down"


def test_out_of_range_id_is_a_400_not_a_500(client) -> None:
    r = client.get("/collections/protected_areas/items/153391761019737089094189056")
    assert r.status_code in (400, 404)
    assert r.json()["code"] in ("invalid_parameter", "not_found", "NotFound")


def test_favicon(client) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")

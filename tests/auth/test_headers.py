"""Security headers, no-store for what depends on the caller, and links that never follow a
made-up Host (issue 12)."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from api.security_headers import BASE_POLICY, HEADERS
from api.settings import Settings


class _Scripts(HTMLParser):
    """Inline scripts of a page, as a browser would hash them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.inline: list[str] = []
        self._in: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(k == "src" for k, _ in attrs):
            self._in = True
            self.inline.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.inline[-1] += data


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in filter(None, (p.strip() for p in csp.split(";"))):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.parametrize(
    "path", ["/", "/atlas", "/collections?f=json", "/static/irbis-map.js", "/no-such-page"]
)
def test_every_response_has_the_security_headers(client, path: str) -> None:
    r = client.get(path)
    for name, value in HEADERS.items():
        assert r.headers[name] == value
    csp = _directives(r.headers["content-security-policy"])
    for name in ("default-src", "img-src", "object-src", "base-uri", "form-action"):
        assert csp[name] == BASE_POLICY[name].split()
    assert csp["frame-ancestors"] == ["'none'"] and r.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]


def _hashes(html: str) -> set[str]:
    parser = _Scripts()
    parser.feed(html)
    assert parser.inline, "the page has inline map scripts"
    return {
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in parser.inline
    }


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_inline_scripts_are_allowed_by_hash_only(client, encoding: str) -> None:
    """Folium names its maps afresh on every render: each response lists its own scripts."""
    r = client.get("/atlas", headers={"Accept-Encoding": encoding})
    assert r.headers.get("content-encoding", "identity") == encoding
    got = set(_directives(r.headers["content-security-policy"])["script-src"])
    assert got == {"'self'", *_hashes(r.text)}


# -- Cache-Control: no-store for anything about the caller --------------------------------


@pytest.mark.parametrize("path", ["/login", "/account/tokens", "/sites/upload", "/reports/new"])
def test_user_pages_are_never_stored_even_anonymous(client, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.headers["cache-control"] == "no-store", (path, r.status_code)


@pytest.mark.parametrize(
    "path",
    ["/account/tokens", "/api/account", "/api/account/tokens", "/sites/upload", "/", "/atlas"],
)
def test_logged_in_pages_are_never_stored(tx_login_as, path: str) -> None:
    c = tx_login_as("grantee", grants=["SOS-CA-EX-08"])
    r = c.get(path)
    assert r.status_code == 200, (path, r.text[:200])
    assert r.headers["cache-control"] == "no-store"


def test_reports_of_a_user_are_never_stored(tx_login_as) -> None:
    r = tx_login_as("advocate").get("/reports")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def test_public_responses_stay_cacheable(client) -> None:
    r = client.get("/collections/countries/items", params={"limit": 1})
    assert r.status_code == 200 and "no-store" not in r.headers.get("cache-control", "")
    assert "public" in r.headers["cache-control"]


# -- absolute links: a configured public URL, or only allowed hosts -----------------------


LINKED = [
    "/collections?f=json",
    "/collections/threats/items?f=json&limit=1",
    "/collections/threats/tiles/WebMercatorQuad?f=json",
    "/threats?f=json",
    "/threats/feed.atom",
]


@pytest.mark.parametrize("path", ["/", *LINKED])
def test_a_made_up_host_is_refused(client, path: str) -> None:
    r = client.get(path, headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert "evil.example" not in r.text


def test_forwarded_host_does_not_steer_links(client) -> None:
    r = client.get(LINKED[1], headers={"X-Forwarded-Host": "evil.example"})
    assert r.status_code == 200 and "evil.example" not in r.text


@pytest.fixture
def public_client(settings: Settings, demo):  # type: ignore[no-untyped-def]
    from api.app import create_app

    api = settings.api.model_copy(update={"public_url": "https://irbis.example.org/"})
    with TestClient(create_app(settings.model_copy(update={"api": api}))) as c:
        yield c


@pytest.mark.parametrize("path", LINKED)
def test_public_url_makes_every_absolute_link(public_client, path: str) -> None:
    r = public_client.get(
        path,
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert r.status_code == 200, r.text[:200]
    assert "evil.example" not in r.text
    links = re.findall(r"https?://[^\s\"'<>]+", r.text)
    ours = [u for u in links if "/collections" in u or "/threats" in u]
    assert ours and all(u.startswith("https://irbis.example.org/") for u in ours), ours[:5]

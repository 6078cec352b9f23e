"""Costly CQL2 filters are bounded: spatial predicates need a literal geometry, nesting depth,
parts and literal vertices are limited, anonymous filtered reads have a short statement
timeout, and one client may run only a few filtered requests at once.

Every test goes through the real app on the PostGIS test database with the demo data.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.settings import FeatureSettings, Settings

pytestmark = pytest.mark.cleaned_up  # its servers commit

#: The anonymous statement timeout of ``strict_client``'s app: long enough for an ordinary
#: filter on the demo data, far shorter than SLOW takes. The other tests use the defaults.
ANON_TIMEOUT_MS = 300


@pytest.fixture
def strict_client(settings: Settings, demo: dict[str, int]) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.app import create_app

    s = settings.model_copy(deep=True)
    s.features.anonymous_statement_timeout_ms = ANON_TIMEOUT_MS
    s.features.anonymous_filter_max_chars = 20_000
    with TestClient(create_app(s)) as c:
        yield c


@pytest.fixture
def client(settings: Settings, demo: dict[str, int]) -> Iterator[Any]:
    """An anonymous client of an app whose anonymous callers may send filters as long as
    logged-in callers (20,000 characters), so that the rules on depth, parts and vertices are
    reached; ``test_anonymous_filters_are_shorter`` checks the default."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    s = settings.model_copy(deep=True)
    s.features.anonymous_filter_max_chars = 20_000
    with TestClient(create_app(s)) as c:
        yield c


def test_anonymous_filters_are_shorter(settings: Settings, demo: dict[str, int], engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth.testing import make_token, make_user

    most = settings.features.anonymous_filter_max_chars
    assert most == FeatureSettings().anonymous_filter_max_chars  # the default is what is tested
    flt = " AND ".join(f"population <> {i}" for i in range(most // 10))
    assert len(flt) > most
    within = flt[:most].rsplit(" AND ", 1)[0]
    with TestClient(create_app(settings)) as c:
        r = items(c, "places", flt)
        assert_refused(r, f"at most {most} characters (this one has {len(flt)})", "log in")
        assert "use bbox= for an area" in r.json()["description"]
        assert items(c, "places", within).status_code == 200
        token = make_token(engine, make_user(engine, roles=["analyst"]))
        r = c.get(
            "/collections/places/items",
            params={"filter": flt, "limit": "1"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text[:300]


def star(n: int, cx: float = 66.0, cy: float = 45.0) -> str:
    """A WKT polygon of ``n + 1`` positions (a closed star over Central Asia)."""
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        r = 20.0 if i % 2 == 0 else 4.0
        pts.append(f"{cx + r * math.cos(a):.4f} {cy + 0.6 * r * math.sin(a):.4f}")
    return f"POLYGON(({','.join([*pts, pts[0]])}))"


#: Allowed (a literal geometry of 999 vertices) but slow on the Kazakh districts (224
#: polygons, 63,000 positions; 218 of them overlap it): about 1.5 s of GEOS work in PostgreSQL
#: for the count, five times ANON_TIMEOUT_MS. (On the demo glaciers, 188 small
#: polygons, the same filter takes under 0.3 s.)
SLOW_LAYER = "districts"
SLOW = f"S_OVERLAPS(geometry, {star(998)})"


def nested_text(depth: int) -> str:
    """A filter exactly ``depth`` levels deep (a comparison inside alternating AND/OR) that
    selects what ``population > 100000`` selects."""
    s = "population > 100000"
    for i in range(depth - 1):
        s = f"(population < 0 AND {s})" if i % 2 == 0 else f"(population > 100000 OR {s})"
    return s


def nested_json(depth: int) -> str:
    """The same depth in CQL2-JSON as NOTs around a comparison (alternating AND/OR would be
    longer than a filter may be)."""
    head = '{"op":"not","args":[' * (depth - 1)
    cmp = '{"op":">","args":[{"property":"population"},100000]}'
    return head + cmp + "]}" * (depth - 1)


def items(client: Any, layer: str, flt: str, **extra: str) -> httpx.Response:
    return client.get(f"/collections/{layer}/items", params={"filter": flt, "limit": "1", **extra})


def assert_refused(r: httpx.Response, *words: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) >= {"code", "description"}
    for w in words:
        assert w in body["description"], body["description"]


# -- spatial predicates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "flt",
    [
        "S_TOUCHES(geometry, geometry) OR S_CROSSES(geometry, geometry)",
        "S_INTERSECTS(geometry, geometry)",
        "name = 'x' OR S_DISJOINT(geometry, geometry)",
        json.dumps(
            {"op": "s_crosses", "args": [{"property": "geometry"}, {"property": "geometry"}]}
        ),
    ],
)
def test_spatial_predicates_without_a_literal_geometry_are_refused(client, flt: str) -> None:  # type: ignore[no-untyped-def]
    r = items(client, "countries", flt)
    assert_refused(r, "literal geometry")
    assert "S_" in r.json()["description"]


def test_spatial_predicates_with_a_literal_geometry_run(client) -> None:  # type: ignore[no-untyped-def]
    for flt in (
        "S_INTERSECTS(geometry, POLYGON((76 42, 78 42, 78 44, 76 44, 76 42)))",
        "S_TOUCHES(POINT(70 40), geometry) OR S_WITHIN(geometry, BBOX(40, 30, 90, 60))",
        "BBOX(geometry, 76, 42, 78, 44)",
    ):
        r = items(client, "countries", flt)
        assert r.status_code == 200, (flt, r.text)
    assert (
        items(client, "countries", "S_INTERSECTS(geometry, POINT(77 43))").json()["numberMatched"]
        >= 1
    )


# -- depth, parts, vertices ------------------------------------------------------------------


@pytest.mark.parametrize("build", [nested_text, nested_json])
def test_nesting_depth_is_limited(client, build) -> None:  # type: ignore[no-untyped-def]
    assert_refused(items(client, "places", build(401)), "nested 401 levels", "at most 400")
    r = items(client, "places", build(399))
    assert r.status_code == 200, r.text[:500]
    assert r.json()["numberMatched"] > 10


def test_depth_399_gives_the_same_answer_as_a_flat_filter(client) -> None:  # type: ignore[no-untyped-def]
    flat = items(client, "places", "population > 100000").json()["numberMatched"]
    assert flat > 10
    assert items(client, "places", nested_text(399)).json()["numberMatched"] == flat
    # 398 NOTs: the comparison itself
    r = items(client, "places", nested_json(399), **{"filter-lang": "cql2-json"})
    assert r.json()["numberMatched"] == flat


@pytest.mark.parametrize(
    "flt",
    [
        "(" * 9_000 + "population = 1" + ")" * 9_000,
        "[" * 9_900 + "]" * 9_900,
        '{"op": "not", "args": [' * 900
        + '{"op": "=", "args": [{"property": "a"}, 1]}'
        + "]}" * 900,
        "NOT (" * 3_000 + "population = 1" + ")" * 3_000,
    ],
    ids=["parentheses", "json-arrays", "json-not", "text-not"],
)
def test_deep_filters_are_refused_never_a_server_error(client, flt: str) -> None:  # type: ignore[no-untyped-def]
    r = items(client, "places", flt[:20_000])
    assert r.status_code == 400, r.text[:500]
    assert r.json()["description"]


def test_a_1200_term_and_is_refused_for_its_length(client) -> None:  # type: ignore[no-untyped-def]
    flt = " AND ".join("name<>'a'" for i in range(1200))
    assert len(flt) <= 20_000  # within the length limit: refused for its parts
    assert_refused(items(client, "places", flt), "parts", "at most 2000")
    # in CQL2-JSON, 500 such terms are already longer than any filter may be
    terms = [{"op": "<>", "args": [{"property": "name"}, "a"]}] * 500
    flt = json.dumps({"op": "and", "args": terms}, separators=(",", ":"))
    r = items(client, "places", flt, **{"filter-lang": "cql2-json"})
    assert_refused(r, "longer than 20000 characters")


def test_a_long_and_within_the_bound_runs_flat(client) -> None:  # type: ignore[no-untyped-def]
    flt = " AND ".join(f"population <> {i}" for i in range(300))
    r = items(client, "places", flt)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["numberMatched"] > 300


def test_literal_geometries_are_bounded_in_vertices(client) -> None:  # type: ignore[no-untyped-def]
    assert_refused(
        items(client, "countries", f"S_INTERSECTS(geometry, {star(1000)})"), "1000 vertices"
    )
    two = f"S_INTERSECTS(geometry, {star(600)}) OR S_INTERSECTS(geometry, {star(600, 70)})"
    assert_refused(items(client, "countries", two), "1000 vertices")
    assert items(client, "countries", f"S_WITHIN(geometry, {star(900)})").status_code == 200


# -- the anonymous statement timeout ---------------------------------------------------------


def test_a_slow_anonymous_filter_hits_the_anonymous_timeout(strict_client, engine) -> None:  # type: ignore[no-untyped-def]
    from api.auth.testing import make_token, make_user

    r = items(strict_client, SLOW_LAYER, SLOW)
    assert_refused(r, "0.3 s allowed for requests without an account", "log in")
    assert r.json()["code"] == "filter_too_costly"
    # the same filter runs for an analyst's API token (the ordinary 30 s statement timeout)
    token = make_token(engine, make_user(engine, roles=["analyst"]))
    ok = strict_client.get(
        f"/collections/{SLOW_LAYER}/items",
        params={"filter": SLOW, "limit": "1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ok.status_code == 200, ok.text[:500]
    assert "numberMatched" in ok.json()
    # and the low timeout did not stay on a pooled connection: an anonymous unfiltered read
    # and a quick anonymous filter still answer
    assert strict_client.get("/collections/glaciers/items?limit=1").status_code == 200
    assert items(strict_client, "places", "population > 100000").status_code == 200


# -- per-client concurrency ------------------------------------------------------------------


def test_filtered_requests_release_their_client_slot_whatever_the_outcome(strict_client) -> None:  # type: ignore[no-untyped-def]
    for flt in (
        "S_INTERSECTS(geometry, geometry)",  # refused while checking
        "not a filter",  # refused while parsing
        "population > 'x'",  # refused while building SQL
        SLOW,  # cancelled by the anonymous timeout
        "population > 100000",
    ):
        items(strict_client, "places" if "population" in flt else SLOW_LAYER, flt)
    assert strict_client.app.state.filter_slots.busy("addr:testclient") == 0
    assert items(strict_client, "places", "population > 100000").status_code == 200


def test_a_client_may_run_two_filtered_requests_at_once(live_server: str, engine) -> None:  # type: ignore[no-untyped-def]
    """Three slow filters at once from one client (an account: SLOW is longer than an
    anonymous filter may be): two run, the third answers 429 with Retry-After, and a later one
    runs again."""
    from api.auth.testing import make_token, make_user

    auth = {"Authorization": f"Bearer {make_token(engine, make_user(engine, roles=['analyst']))}"}
    statuses: list[int] = []
    retry: list[str | None] = []
    start = threading.Barrier(3)

    def one() -> None:
        start.wait()
        r = httpx.get(
            f"{live_server}/collections/{SLOW_LAYER}/items",
            params={"filter": SLOW, "limit": "1"},
            headers=auth,
            timeout=60,
        )
        statuses.append(r.status_code)
        if r.status_code == 429:
            retry.append(r.headers.get("retry-after"))
            assert "at most 2 filtered requests" in r.json()["description"]

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(statuses) == [200, 200, 429]
    assert retry and retry[0] is not None and int(retry[0]) >= 1
    after = httpx.get(
        f"{live_server}/collections/places/items",
        params={"filter": "population > 100000", "limit": "1"},
        timeout=30,
    )
    assert after.status_code == 200

"""The portfolio and a grant page are kept by the data version of their tables: a repeated
request is answered from memory, and any write to one of their tables is seen at once.

The writes are made in the test's rolled-back transaction, but for the lagging reader's test:
a reader that lags behind the primary needs commits on it (``cleaned_up`` after it)."""

from __future__ import annotations

import datetime as dt
import secrets
from contextlib import contextmanager
from email.utils import format_datetime, parsedate_to_datetime

import orjson
import pytest
from psycopg import sql as psql
from sqlalchemy import column, create_engine, event, func, select, table, update
from sqlalchemy.pool import NullPool

from api.services import grants as gs


def _hdr(c) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-CSRF-Token": c.csrf}


def _kept(cache: gs.VersionedCache[object], *args: object) -> int:
    """Answers kept for ``args`` (the background warmer may keep others meanwhile)."""
    return sum(
        1 for k in cache.kept_keys() if isinstance(k, tuple) and k[2 : 2 + len(args)] == args
    )


def test_the_portfolio_follows_every_write(tx_client, tx_login_as) -> None:  # type: ignore[no-untyped-def]
    before = tx_client.get("/api/portfolio")
    assert before.status_code == 200
    again = tx_client.get("/api/portfolio")
    assert again.content == before.content
    hits = _kept(gs.PORTFOLIO_CACHE, "json", gs.PortfolioFilter())
    tx_client.get("/api/portfolio")
    assert _kept(gs.PORTFOLIO_CACHE, "json", gs.PortfolioFilter()) == hits  # no new answer
    etag = before.headers["etag"]
    assert tx_client.get("/api/portfolio", headers={"If-None-Match": etag}).status_code == 304
    admin = tx_login_as("admin")
    code = f"C-{secrets.token_hex(3).upper()}"
    body = {
        "code": code,
        "title": "Cache grant",
        "grantee_organisation": "Org",
        "countries": ["TJK"],
        "species": ["Panthera uncia"],
        "amount": 12345,
        "start_date": "2024-01-01",
        "end_date": "2024-12-31",
    }
    assert admin.post("/api/grants", json=body, headers=_hdr(admin)).status_code == 201
    changed = tx_client.get("/api/portfolio", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    after = changed.json()
    assert after["grants"] == before.json()["grants"] + 1
    assert after["funds_usd"] == round(before.json()["funds_usd"] + 12345, 2)
    r = admin.patch(f"/api/grants/{code}", json={"amount": 20000}, headers=_hdr(admin))
    assert r.status_code == 200
    assert tx_client.get("/api/portfolio").json()["funds_usd"] == round(
        before.json()["funds_usd"] + 20000, 2
    )


def test_a_grant_page_follows_every_write(tx_client, tx_login_as) -> None:  # type: ignore[no-untyped-def]
    code = "SOS-CA-EX-02"
    first = tx_client.get(f"/api/grants/{code}/page").json()["grant"]["title"]
    assert tx_client.get(f"/grants/{code}").status_code == 200
    admin = tx_login_as("admin")
    title = f"{first} ({secrets.token_hex(2)})"
    try:
        r = admin.patch(f"/api/grants/{code}", json={"title": title}, headers=_hdr(admin))
        assert r.status_code == 200
        assert tx_client.get(f"/api/grants/{code}/page").json()["grant"]["title"] == title
        assert title in tx_client.get(f"/grants/{code}").text
        assert title in tx_client.get(f"/grants/{code}/report").text
    finally:
        admin.patch(f"/api/grants/{code}", json={"title": first}, headers=_hdr(admin))


# --- the cache and a reader that lags behind the primary ------------------------------------


@contextmanager
def _lagging_reader(engine, url):  # type: ignore[no-untyped-def]
    """An engine on ``url`` that sees the database as it was when the block began: each of
    its transactions imports a REPEATABLE READ snapshot exported then (a streaming replica
    that has not replayed the writes made since)."""
    with engine.connect() as holder:
        holder = holder.execution_options(isolation_level="REPEATABLE READ")
        snapshot = holder.execute(select(func.pg_export_snapshot())).scalar_one()
        lagging = create_engine(url, poolclass=NullPool)

        @event.listens_for(lagging, "begin")
        def _as_then(conn) -> None:  # type: ignore[no-untyped-def]
            dbapi = conn.connection.dbapi_connection
            stmt = psql.SQL("SET TRANSACTION SNAPSHOT {}").format(psql.Literal(snapshot))
            conn.exec_driver_sql(stmt.as_string(dbapi))

        try:
            yield lagging
        finally:
            lagging.dispose()


def _amount_of(engine, code: str, delta: int) -> None:  # type: ignore[no-untyped-def]
    grants = table("grants", column("code"), column("amount"))
    with engine.begin() as conn:
        conn.execute(
            update(grants).where(grants.c.code == code).values(amount=grants.c.amount + delta)
        )


@pytest.mark.usefixtures("cleaned_up")  # a lagging reader needs commits on the primary
def test_a_lagging_reader_never_stores_an_old_answer_under_a_new_version(client, engine) -> None:  # type: ignore[no-untyped-def]
    state = client.app.state
    # A threat distance of the test's own: the app's grants warmer recomputes the answers at
    # the app's distance as soon as it sees the write (a tenth of a second later), and would
    # otherwise keep the new version's answer under the key the lagging reader looks up first.
    metres = state.settings.grants.threat_distance_m + 1.0
    f = gs.PortfolioFilter()
    before = client.get("/api/portfolio").json()["funds_usd"]
    old_known = state.versions.current(gs.PORTFOLIO_TABLES)
    with _lagging_reader(engine, state.reader_engine.url) as lagging:
        _amount_of(engine, "SOS-CA-EX-07", 1000)  # committed on the primary
        try:
            known = state.versions.current(gs.PORTFOLIO_TABLES)
            assert known["grants"] > old_known["grants"]
            # the replica answers with what it has, labelled with the version it has
            tag, body = gs.portfolio_answer(lagging, known, f, metres, raw=True)
            assert orjson.loads(body)["funds_usd"] == before
            assert tag == gs.version_tag(old_known) != gs.version_tag(known)
            # and keeps it under that version only
            url = str(lagging.url)
            kept = set(gs.PORTFOLIO_CACHE.kept_keys())
            assert (url, tag, "json", f, metres) in kept
            assert (url, gs.version_tag(known), "json", f, metres) not in kept
            # the next request at the new version is not served that old answer
            assert client.get("/api/portfolio").json()["funds_usd"] == before + 1000
            # with the primary beside it, a lagging reader's answer comes from the primary
            tag, p = gs.portfolio_answer(lagging, known, f, metres, primary=state.engine)
            assert p["funds_usd"] == before + 1000 and tag == gs.version_tag(known)
            # a grant page likewise
            page_known = state.versions.current(gs.PAGE_TABLES)
            tag, page = gs.page_answer(lagging, page_known, "SOS-CA-EX-07", metres)
            assert tag != gs.version_tag(page_known) and page["grant"]["amount"] == 45000
            assert client.get("/api/grants/SOS-CA-EX-07/page").json()["grant"]["amount"] == 46000
        finally:
            _amount_of(engine, "SOS-CA-EX-07", -1000)
    assert client.get("/api/portfolio").json()["funds_usd"] == before


# --- the Atom feed ----------------------------------------------------------------------------


def test_the_feed_is_cached_with_its_etag_and_last_modified(tx_client, tx_login_as) -> None:  # type: ignore[no-untyped-def]
    code = "SOS-CA-EX-01"
    url = f"/grants/{code}/feed.atom"
    first = tx_client.get(url)
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert parsedate_to_datetime(modified) <= dt.datetime.now(dt.UTC)
    size = sum(1 for k in gs.PAGE_CACHE.kept_keys() if code in k)
    again = tx_client.get(url)
    assert again.content == first.content and again.headers["etag"] == etag
    assert sum(1 for k in gs.PAGE_CACHE.kept_keys() if code in k) == size  # both from memory
    assert tx_client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert tx_client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(modified) - dt.timedelta(days=1), usegmt=True)
    assert tx_client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert tx_client.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200
    admin = tx_login_as("admin")
    title = tx_client.get(f"/api/grants/{code}").json()["title"]
    new = f"{title} ({secrets.token_hex(2)})"
    try:
        r = admin.patch(f"/api/grants/{code}", json={"title": new}, headers=_hdr(admin))
        assert r.status_code == 200
        after = tx_client.get(url, headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert new in after.text
        assert parsedate_to_datetime(after.headers["last-modified"]) >= parsedate_to_datetime(
            modified
        )
    finally:
        admin.patch(f"/api/grants/{code}", json={"title": title}, headers=_hdr(admin))

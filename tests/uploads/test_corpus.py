"""Every file of the hostile corpus (tests/uploads/corpus.py) through the real API: a dry run
and a commit each get the expected outcome, never a 5xx, never a server path or database text,
a refused commit leaves the database as it was, and the server keeps serving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

import shapely

from .conftest import GRANT, upload
from .corpus import CASES, LIMITS, Case, Context

pytestmark = pytest.mark.cleaned_up  # its app, shared by the corpus, commits

#: What must never be in a response: server paths and database or Python internals.
LEAKS = [
    r"/tmp\b",
    r"irbis-upload-",
    r"/vsi[a-z]+/",
    r"/work/",
    r"psycopg",
    r"(?i)sqlalchemy",
    r"\bSQL\b",
    r"DETAIL:",
    r"violates",
    r"Traceback",
    r"Background on this error",
]


@pytest.fixture(scope="module")
def corpus_client(settings, demo, engine) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A grantee of :data:`GRANT` on an app with the corpus's upload limits."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth.testing import login, make_user

    s = settings.model_copy(deep=True)
    for key, value in LIMITS.items():
        setattr(s.uploads, key, value)
    # the corpus sends well over a minute's worth of writes from one account
    s.ratelimit.enabled = False
    name = make_user(engine, roles=["grantee"], grants=[GRANT])
    with TestClient(create_app(s)) as c:
        c.csrf = login(c, name)  # type: ignore[attr-defined]
        yield c


@pytest.fixture(scope="module")
def context(engine) -> Context:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        wkb = conn.execute(
            text("SELECT ST_AsBinary(ST_Union(geom)) FROM countries WHERE programme")
        ).scalar_one()
    return Context(countries=shapely.from_wkb(bytes(wkb)))


def _state(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM field_sites),"
                    " (SELECT coalesce(max(id), 0) FROM audit_log)"
                )
            ).one()
        )


def _check_body(case: Case, r: Any, expected: int, var_dir: str) -> None:
    assert r.status_code < 500, f"{case.id}: {r.status_code} {r.text[:500]}"
    assert r.status_code == expected, f"{case.id}: {r.status_code} {r.text[:800]}"
    body = r.text
    for pattern in LEAKS:
        assert not re.search(pattern, body), f"{case.id}: {pattern!r} in {body[:800]}"
    assert var_dir not in body
    decoded = r.json()
    shown = str(decoded)  # the phrase as a person reads it (unescaped)
    assert case.phrase in shown or case.phrase in body, (
        f"{case.id}: {case.phrase!r} not in {shown[:1500]}"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case(case: Case, corpus_client, context, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    content = case.build(context)
    path = tmp_path / case.filename
    var_dir = str(settings.var_dir)
    dry_status, commit_status = case.statuses

    before = _state(engine)
    dry = upload(corpus_client, path, content=content, dry_run=True, **case.params)
    _check_body(case, dry, dry_status, var_dir)
    assert _state(engine) == before, f"{case.id}: the dry run changed the database"
    if dry_status == 200:
        assert dry.json()["ok"] is case.stored

    commit = upload(corpus_client, path, content=content, dry_run=False, **case.params)
    _check_body(case, commit, commit_status, var_dir)
    assert corpus_client.get("/health").status_code == 200
    if case.stored:
        body = commit.json()
        assert body["committed"] and body["ok"]
        ids = [f["site_id"] for f in body["features"]]
        assert all(ids) and [f["action"] for f in body["features"]] == ["insert"] * len(ids)
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM field_sites WHERE id = ANY(:i)"), {"i": ids}
            ).scalar_one()
        assert stored == len(ids)
    else:
        assert _state(engine) == before, f"{case.id}: a refused commit changed the database"
        if commit_status == 400 and dry_status == 200:
            # per-feature errors: the commit names them in its details
            assert commit.json()["details"]["ok"] is False

"""An unpublished threat is not counted on the home page, not listed on /sources and not
read into planning grids (which are public records: grids use published threats only)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.services import analyses
from api.services import prioritisation as prio
from geo.errors import InvalidInput, NotFound
from tests.rollback import RolledBack


class _Cells(HTMLParser):
    """Table rows of a page as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _rows(html: str) -> list[list[str]]:
    p = _Cells()
    p.feed(html)
    return p.rows


def _threat_count(client) -> int:  # type: ignore[no-untyped-def]
    rows = [
        r
        for r in _rows(client.get("/", headers={"Accept": "text/html"}).text)
        if r and r[0] == "Threats"
    ]
    assert len(rows) == 1, rows
    return int(rows[0][1])


@pytest.fixture
def hidden(db_tx: RolledBack) -> dict[str, str]:
    """An unpublished threat, in the test's rolled-back transaction."""
    name, source = "Hidden quarry", "confidential survey"
    with db_tx.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                " source, licence, method) VALUES (:n, 'road', 'proposed', '{}', '{}', false,"
                " ST_MakeEnvelope(77.0, 43.1, 77.2, 43.2, 4326), :s, 'restricted', 'observed')"
            ),
            {"n": name, "s": source},
        )
    return {"name": name, "source": source}


def test_home_page_counts_published_threats_only(tx_client, db_tx: RolledBack, hidden) -> None:
    with db_tx.engine.connect() as conn:
        published = conn.execute(text("SELECT count(*) FROM threats WHERE published")).scalar()
        everything = conn.execute(text("SELECT count(*) FROM threats")).scalar()
    assert everything == published + 1  # the hidden one is there for the page to leave out
    assert _threat_count(tx_client) == published


def test_sources_does_not_list_an_unpublished_threat(tx_client, hidden) -> None:
    page = tx_client.get("/sources")
    assert page.status_code == 200
    assert hidden["source"] not in page.text
    assert any(r and r[0] == "threats" for r in _rows(page.text))  # published ones are there


def test_planning_grid_inputs_leave_unpublished_threats_out(db_tx: RolledBack, hidden) -> None:
    with Session(db_tx.engine) as s:
        inputs = prio.read_inputs(s, ["KAZ"])
    assert len(inputs["threats"]) and hidden["name"] not in set(inputs["threats"]["name"])
    assert hidden["name"] not in set(inputs["roads"]["name"])


def test_lock_out_cannot_name_an_unpublished_threat(db_tx: RolledBack, hidden) -> None:
    with Session(db_tx.engine) as s, pytest.raises(InvalidInput, match="no threat named"):
        prio._threat_units(s, 0, [hidden["name"]])


def test_analyses_read_published_threats_only(db_tx: RolledBack, hidden) -> None:  # type: ignore[no-untyped-def]
    with Session(db_tx.engine) as s:
        names = set(analyses.read_threats(s)["name"])
        assert names and hidden["name"] not in names
        with pytest.raises(NotFound):  # an unpublished threat is not named to anyone
            analyses.read_threats(s, hidden["name"])

"""An unpublished threat is not counted on the home page, not listed on /sources and not
read into planning grids (which are public records: grids use published threats only)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.services import prioritisation as prio
from geo.errors import InvalidInput


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
def hidden(engine: Engine, demo) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:8]
    name, source = f"Hidden quarry {tag}", f"confidential survey {tag}"
    with engine.begin() as conn:
        tid = conn.execute(
            text(
                "INSERT INTO threats (name, kind, status, links, properties, published, geom,"
                " source, licence, method) VALUES (:n, 'road', 'proposed', '{}', '{}', false,"
                " ST_MakeEnvelope(77.0, 43.1, 77.2, 43.2, 4326), :s, 'restricted', 'observed')"
                " RETURNING id"
            ),
            {"n": name, "s": source},
        ).scalar_one()
    yield {"name": name, "source": source}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM threats WHERE id = :i"), {"i": tid})


def test_home_page_counts_published_threats_only(client, engine: Engine, hidden) -> None:
    with engine.connect() as conn:
        published = conn.execute(text("SELECT count(*) FROM threats WHERE published")).scalar()
    assert _threat_count(client) == published


def test_sources_does_not_list_an_unpublished_threat(client, hidden) -> None:
    page = client.get("/sources")
    assert page.status_code == 200
    assert hidden["source"] not in page.text
    assert any(r and r[0] == "threats" for r in _rows(page.text))  # published ones are there


def test_planning_grid_inputs_leave_unpublished_threats_out(engine: Engine, hidden) -> None:
    with Session(engine) as s:
        inputs = prio.read_inputs(s, ["KAZ"])
    assert len(inputs["threats"]) and hidden["name"] not in set(inputs["threats"]["name"])
    assert hidden["name"] not in set(inputs["roads"]["name"])


def test_lock_out_cannot_name_an_unpublished_threat(engine: Engine, hidden) -> None:
    with Session(engine) as s, pytest.raises(InvalidInput, match="no threat named"):
        prio._threat_units(s, 0, [hidden["name"]])

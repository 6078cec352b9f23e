"""Reading one or two parameters of a query string without decoding the others.

The middlewares that run before routing ask a query string a yes-or-no question (is there a
``filter``? which ``lang``?). ``urllib.parse.parse_qsl`` answers by decoding every name and
every value, in pure Python: a 19 KB CQL2 filter full of ``%XX`` took about 3 ms to decode,
once per middleware that asked, on the thread that serves every other request. These helpers
split the raw string and decode only the names (short) and the value asked for, with the same
result as ``parse_qsl`` (``&`` separated, ``+`` a space, UTF-8 escapes, invalid bytes
replaced; checked against it in ``tests/api/test_querystring.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote_plus

#: The start of a value that may decode to white space: escapes, ``+`` (a space), white space.
_MAYBE_BLANK = re.compile(r"(?:%[0-9A-Fa-f]{2}|\+|\s)*")


def _decode(raw: str) -> str:
    """``raw`` decoded as ``parse_qsl`` decodes a name or a value."""
    if "%" not in raw and "+" not in raw:
        return raw
    return unquote_plus(raw, encoding="utf-8", errors="replace")


def _pairs(query_string: bytes) -> Iterator[tuple[str, str | None]]:
    """(decoded name, raw value or ``None`` when there is no ``=``), in order."""
    if not query_string:
        return
    for part in query_string.decode("latin-1").split("&"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        yield _decode(name), (value if eq else None)


def last(query_string: bytes, name: str) -> str | None:
    """The last value of ``name`` (what ``request.query_params.get(name)`` gives: a name
    without ``=`` has the value ``""``), or ``None`` when it is not given."""
    found: str | None = None
    for key, raw in _pairs(query_string):
        if key == name:
            found = "" if raw is None else raw
    return None if found is None else _decode(found)


def _blank(raw: str) -> bool:
    """Whether ``raw`` decodes to nothing but white space. A character that is neither white
    space nor part of an escape or a ``+`` stays as it is when decoded: then it is not blank,
    without decoding; else the whole value is decoded."""
    if _MAYBE_BLANK.match(raw).end() < len(raw):  # type: ignore[union-attr]  # always matches
        return False
    return not _decode(raw).strip()


def given(query_string: bytes, names: frozenset[str]) -> bool:
    """Whether one of ``names`` is given with a value that is not blank (as
    ``any(n in names and v.strip() for n, v in parse_qsl(qs))``)."""
    return any(
        raw is not None and raw != "" and key in names and not _blank(raw)
        for key, raw in _pairs(query_string)
    )

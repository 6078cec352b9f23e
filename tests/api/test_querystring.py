"""The query-string helpers of the middlewares answer as ``parse_qsl`` would."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from api import querystring
from api.heavy import has_filter, is_heavy

NAMES = frozenset({"filter", "bbox"})

# pieces a query string is made of, awkward ones included: escapes (valid, cut, invalid,
# UTF-8 white space and text), plus signs, separators, names encoded or not
PIECES = st.sampled_from(
    [
        "filter",
        "bbox",
        "lang",
        "f",
        "%66ilter",
        "fil%74er",
        "=",
        "&",
        "+",
        " ",
        "%20",
        "%09",
        "%0A",
        "%C2%A0",
        "%E3%80%80",
        "%C2",
        "%A0",
        "%2",
        "%",
        "%zz",
        "%3D",
        "%26",
        "a",
        "ru",
        "kk",
        "name<>'1'",
        "S_TOUCHES(geometry,+geometry)",
        "\xa0",
        "\t",
        ";",
        "é",
    ]
)
QUERIES = st.lists(PIECES, max_size=24).map("".join)


def _reference_given(qs: str, names: frozenset[str]) -> bool:
    return any(n in names and v.strip() for n, v in parse_qsl(qs, keep_blank_values=False))


def _reference_last(qs: str, name: str) -> str | None:
    return dict(parse_qsl(qs, keep_blank_values=True)).get(name)


@settings(max_examples=3000, deadline=None)
@for_all(QUERIES)
def test_given_and_last_answer_as_parse_qsl(qs: str) -> None:
    raw = qs.encode("latin-1", errors="replace")
    text = raw.decode("latin-1")
    assert querystring.given(raw, NAMES) == _reference_given(text, NAMES)
    for name in ("lang", "filter"):
        assert querystring.last(raw, name) == _reference_last(text, name)


def test_long_values_are_read_exactly() -> None:
    blank = "filter=" + "%20" * 5000 + "+" * 100 + "%C2%A0" * 100
    assert not querystring.given(blank.encode(), NAMES)
    assert not has_filter(blank.encode())
    text = "filter=" + "%20" * 5000 + "a"
    assert querystring.given(text.encode(), NAMES)
    long_and = "filter=" + "+AND+".join(["name%3C%3E%271%27"] * 1200)
    assert has_filter(long_and.encode())
    assert is_heavy("GET", "/collections/places/items", long_and.encode())
    assert not is_heavy("GET", "/collections/places/items", b"limit=10&filter=+%20")
    assert is_heavy("HEAD", "/collections/places/items", b"bbox=1,2,3,4")

"""The region Irbis covers is written once (geo.crs.REGION_BOUNDS); code uses the constant."""

from __future__ import annotations

import re
from pathlib import Path

from geo.crs import REGION_BOUNDS

ROOT = Path(__file__).resolve().parents[2]
W, S, E, N = (re.escape(str(v)) for v in REGION_BOUNDS)
#: (west, south, east, north) as a tuple or list, or folium's ((south, west), (north, east)).
TYPED = re.compile(
    rf"[(\[]\s*{W},\s*{S},\s*{E},\s*{N}\s*[)\]]"
    rf"|[(\[]\s*[(\[]\s*{S},\s*{W}\s*[)\]],\s*[(\[]\s*{N},\s*{E}\s*[)\]]\s*[)\]]"
)


def _typed_in() -> set[str]:
    found = set()
    for package in ("geo", "layers", "api"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel != "geo/crs.py" and TYPED.search(path.read_text(encoding="utf-8")):
                found.add(rel)
    return found


def test_the_pattern_finds_the_region_however_it_is_written() -> None:
    assert TYPED.search("bounds=(45.0, 35.0, 88.0, 56.0)")
    assert TYPED.search("REGION = [45.0,35.0, 88.0, 56.0]")
    assert TYPED.search("REGION_BOUNDS = ((35.0, 45.0), (56.0, 88.0))  # (south, west)")
    assert not TYPED.search("(46.0, 36.0, 87.0, 55.0)")


def test_no_module_types_the_region_again() -> None:
    assert _typed_in() == set()

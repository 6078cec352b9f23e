"""Latin spellings of place names written in other scripts, for search.

Many Kazakh settlements are named in Cyrillic only (Kazakh and Russian). A reader typing in
Latin letters ("Shymkent", "Kaskelen", "Talgar") finds them through the Latin forms made here
with ``anyascii`` (a maintained Unicode-to-ASCII transliteration): one form for each name that
is not ASCII already, so the Kazakh and the Russian spelling both count (Қаскелең gives
"Qaskeleng", Каскелен "Kaskelen"). Common variants (zh/j, sh, kh/h, y/i) are left to trigram
similarity in the database rather than to rules here.

Examples
--------
>>> latin_names("Қаскелең", "Qaskeleñ", "Каскелен", "Қаскелең")
'Qaskeleng / Qaskelen / Kaskelen'
>>> latin_names("Талғар", "Talgar", "Талгар", None)
'Talghar'
>>> latin_names("Almaty") is None
True
"""

from __future__ import annotations

from anyascii import anyascii

#: Between the Latin forms of one feature's names.
SEPARATOR = " / "


def latin_names(*names: str | None) -> str | None:
    """The distinct Latin forms of those ``names`` that are not ASCII, in order, joined by
    :data:`SEPARATOR`; forms equal (ignoring case) to an ASCII name given are left out.
    ``None`` when there is none."""
    given = [" ".join(n.split()) for n in names if n and n.strip()]
    seen = {n.casefold() for n in given if n.isascii()}
    forms: list[str] = []
    for n in given:
        if n.isascii():
            continue
        form = " ".join(anyascii(n).split())
        if form and form.casefold() not in seen:
            seen.add(form.casefold())
            forms.append(form)
    return SEPARATOR.join(forms) or None

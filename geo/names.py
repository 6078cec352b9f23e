"""Latin spellings of place names written in other scripts, for search.

Many Kazakh settlements are named in Cyrillic only (Kazakh and Russian). A reader typing in
Latin letters ("Shymkent", "Kaskelen", "Talgar") finds them through the Latin forms made here
with ``anyascii`` (a maintained Unicode-to-ASCII transliteration): one form for each name that
is not ASCII already, so the Kazakh and the Russian spelling both count (Қаскелең gives
"Qaskeleng", Каскелен "Kaskelen").

The same name is spelt many ways in Latin letters: Бейнеу is "Beyneu" or "Beineu", Ыстықкөл
"Ystyqkol", Иссык-Куль "Issyk-Kul" or "Issyk Kul", Жамбыл "Zhambyl", "Jambyl" or "Dzhambul".
:func:`search_key` folds such variants, and the Cyrillic letters they stand for, onto one
spelling: Ы, Й, І, И and y, i become ``i``; Е, Э and e, ye ``e``; Қ, К and q, k ``k``; Ж, ДЖ
and zh, j, dj ``j``; Ш, Щ and sh ``w``; Ч, Ц and ch, ts ``c``; Х, Һ and kh, x, h ``h``; Ғ, Г
and gh ``g``; Ң and ng ``n``; doubled letters count once, and punctuation is a space. Two
spellings of a name have the same key or close ones. The steps (:data:`FOLD`) are plain
``translate`` and regular-expression replacements, so the database can apply the very same
ones to a column (:func:`layers.search.fold`).

Examples
--------
>>> latin_names("Қаскелең", "Qaskeleñ", "Каскелен", "Қаскелең")
'Qaskeleng / Qaskelen / Kaskelen'
>>> latin_names("Талғар", "Talgar", "Талгар", None)
'Talghar / talgar'
>>> latin_names("Almaty", "Almaty")
'almati'
>>> latin_names(None, " ") is None
True
>>> search_key("Issyk-Kul") == search_key("Иссык-Куль") == "isik kul"
True
>>> search_key("Beineu") == search_key("Beyneu") == search_key("Бейнеу")
True
>>> search_key("Ystyqköl") == search_key("Ыстықкөл")
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from anyascii import anyascii

#: Between the Latin forms of one feature's names.
SEPARATOR = " / "


def latin_names(*names: str | None) -> str | None:
    """The distinct Latin forms of those ``names`` that are not ASCII, in order, then the
    distinct :func:`search_key` of each name, joined by :data:`SEPARATOR`; Latin forms equal
    (ignoring case) to an ASCII name given, and forms equal to an earlier one, are left out.
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
    made = {f.casefold() for f in forms}  # keys are looked for in these forms only
    for n in given:
        key = search_key(n)
        if key and key not in made:
            made.add(key)
            forms.append(key)
    return SEPARATOR.join(forms) or None


@dataclass(frozen=True)
class FoldStep:
    """One step of :func:`search_key`: ``translate`` (each character of ``source`` becomes the
    character of ``target`` at its position; those beyond ``target``'s length are dropped:
    PostgreSQL's ``translate``) or ``replace`` (every match of the regular expression
    ``source`` becomes ``target``: PostgreSQL's ``regexp_replace(..., 'g')``)."""

    kind: Literal["translate", "replace"]
    source: str
    target: str

    def apply(self, text: str) -> str:
        if self.kind == "translate":
            n = len(self.target)
            return text.translate(str.maketrans(self.source[:n], self.target, self.source[n:]))
        return re.sub(self.source, self.target, text)


def _letters(pairs: dict[str, str], dropped: str) -> FoldStep:
    """A ``translate`` step: each key's characters become their value's letter, ``dropped``
    characters go."""
    source = "".join(pairs)
    target = "".join(v * len(k) for k, v in pairs.items())
    return FoldStep("translate", source + dropped, target)


#: The steps of :func:`search_key`, applied in order to the lower-cased text.
FOLD: tuple[FoldStep, ...] = (
    FoldStep("replace", "я", "ia"),
    FoldStep("replace", "ю", "iu"),
    # Cyrillic letters (Russian and Kazakh), and Latin letters with marks, to one Latin letter
    _letters(
        {
            "аәäáàâāă": "a",
            "б": "b",
            "в": "v",
            "гғğ": "g",
            "д": "d",
            "еёэëéèêē": "e",
            "жžǰ": "j",
            "з": "z",
            "ийіыïíìîīı": "i",
            "кқ": "k",
            "л": "l",
            "м": "m",
            "нңñń": "n",
            "оөöóòôōő": "o",
            "п": "p",
            "р": "r",
            "сś": "s",
            "т": "t",
            "уұүüúùûūű": "u",
            "ф": "f",
            "хһ": "h",
            "цчçč": "c",
            "шщşš": "w",
        },
        dropped="ъь'’‘ʼʻ`",
    ),
    # Latin spellings of one sound, after the Cyrillic letters became Latin ones (Маңғыстау
    # "mangistau" and "Mangystau" alike)
    FoldStep("replace", "shch", "w"),
    FoldStep("replace", "zh", "j"),
    FoldStep("replace", "dj", "j"),
    FoldStep("replace", "kh", "h"),
    FoldStep("replace", "gh", "g"),
    FoldStep("replace", "sh", "w"),
    FoldStep("replace", "ch", "c"),
    FoldStep("replace", "ts", "c"),
    FoldStep("replace", "ng", "n"),
    FoldStep("replace", "ye", "e"),
    FoldStep("translate", "yqx", "ikh"),
    FoldStep("replace", "[^a-z0-9]+", " "),
    FoldStep("replace", "(.)\\1+", "\\1"),
)


def search_key(name: str) -> str:
    """``name`` folded for search (see the module's text): lower case, then :data:`FOLD`,
    then trimmed. Equal for spellings that differ only in the variants folded."""
    text = name.lower()
    for step in FOLD:
        text = step.apply(text)
    return text.strip()

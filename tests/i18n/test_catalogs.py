"""Every visible string marked for translation has a Russian and a Kazakh translation.

The strings are extracted from the current tree (templates and Python) with the same
configuration as ``make i18n``, so a page added without translating it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from api import i18n
from api.settings import REPO_ROOT

KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "en": None,
    "N_": None,
}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: ``{name}``: filled in by a page's script (the upload page's words)
SCRIPT_PLACEHOLDER = re.compile(r"\{(\w+)\}")
FIX = (
    "run `make i18n` (extract, update the catalogs, compile), then translate the empty msgstr "
    "in locale/{lang}/LC_MESSAGES/messages.po"
)


def extracted() -> dict[str, list[str]]:
    """Every msgid in the tree, with where it is used."""
    with (REPO_ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(REPO_ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(filename)
    return found


@pytest.fixture(scope="module")
def messages() -> dict[str, list[str]]:
    found = extracted()
    assert len(found) > 100, "extraction found almost nothing: is babel.cfg right?"
    return found


def catalog(lang: str) -> dict[str, str]:
    path = Path(i18n.LOCALE_DIR) / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        cat = read_po(f, locale=lang)
    return {
        str(m.id if isinstance(m.id, str) else m.id[0]): (
            m.string if isinstance(m.string, str) else m.string[0]
        )
        for m in cat
        if m.id and "fuzzy" not in m.flags
    }


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_every_visible_string_is_translated(messages: dict[str, list[str]], lang: str) -> None:
    translated = catalog(lang)
    missing = {m: where for m, where in messages.items() if not translated.get(m, "").strip()}
    listing = "\n".join(f"  {m!r} ({', '.join(sorted(set(w))[:2])})" for m, w in missing.items())
    assert not missing, (
        f"{len(missing)} visible strings have no {lang} translation:\n{listing}\n"
        + FIX.format(lang=lang)
    )


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_translations_keep_their_placeholders(messages: dict[str, list[str]], lang: str) -> None:
    """``%(name)s`` and ``{name}`` in a msgid are in its translation, and no stray ``%`` breaks
    the formatting of what is %-formatted: text with ``%(name)s`` placeholders, and any text of
    a page (Jinja's gettext %-formats every string). A message of the spatial core
    (``geo.messages.en``) is filled with ``str.format``: its ``%`` is a percent sign."""
    wrong = []
    for msgid, msgstr in catalog(lang).items():
        if not msgstr:
            continue
        if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)) or sorted(
            SCRIPT_PLACEHOLDER.findall(msgid)
        ) != sorted(SCRIPT_PLACEHOLDER.findall(msgstr)):
            wrong.append((msgid, msgstr))
            continue
        in_page = any(w.endswith(".html") for w in messages.get(msgid, []))
        if not (in_page or PLACEHOLDER.search(msgid)):
            continue
        try:
            msgstr % dict.fromkeys(PLACEHOLDER.findall(msgstr), "x")
        except (ValueError, TypeError, KeyError):
            wrong.append((msgid, msgstr))
    assert not wrong, f"translations whose placeholders differ from the English: {wrong}"


def test_catalogs_load_without_a_compile_step() -> None:
    """A fresh clone has only the .po files: they are read directly."""
    i18n.translations.cache_clear()
    for lang, word in (("ru", "Угрозы"), ("kk", "Қауіптер"), ("en", "Threats")):
        assert i18n.translations(lang).gettext("Threats") == word


def test_the_catalog_test_notices_a_missing_translation(messages: dict[str, list[str]]) -> None:
    """The check above would fail for a string nobody translated."""
    translated = catalog("kk")
    assert "Threats" in messages and translated["Threats"]
    assert "A page nobody translated" not in translated

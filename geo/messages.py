"""Messages people read, in English and ready to be given in their language too.

The spatial core speaks English: its errors and notes are read by the command line, the logs
and API clients, which expect one stable language. A message made with :func:`en` is that
English text (a ``str``), and it also keeps its template and values, so that the web layer
can give it in Russian or Kazakh (``api.i18n.translate``): the template is looked up in the
gettext catalogs and filled with the same values.

>>> m = en("{name}: the file is empty", name="sites.zip")
>>> m, m.template, m.values
('sites.zip: the file is empty', '{name}: the file is empty', {'name': 'sites.zip'})

``en`` is a gettext keyword for extraction (``babel.cfg``, ``make i18n``), so every template
is in the catalogs and the catalog test requires its translations. Values are filled in as
they are: numbers are formatted before they are given (``count=f"{n:,}"``), and a value that
is itself a message is translated with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Message(str):
    """English text with the template and values it was made from."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, values: dict[str, Any]) -> Message:
        self = super().__new__(cls, template.format(**values) if values else template)
        self.template = template
        self.values = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickled across processes (the tile workers)
        return (Message, (self.template, self.values))


def N_(text: str, /) -> str:
    """``text`` as it is, marked for the catalogs (``make i18n`` extracts it): for English
    text kept in data structures (a layer's description) that pages translate when they show
    it (``label(...)`` in templates, :func:`api.i18n.gettext` in code)."""
    return text


def en(template: str, /, **values: Any) -> Message:
    """The message ``template`` filled with ``values`` (``str.format`` fields, no format
    specifications: format numbers before)."""
    return Message(template, values)


def number(n: int | float) -> str:
    """``n`` with thousands separated by commas, as the English messages write it (a value for
    :func:`en`: an f-string in its call would be skipped, with a warning, by the extraction)."""
    return f"{n:,}"


def joined(parts: Sequence[str], sep: str = "; ") -> Message:
    """``parts`` one after the other, separated by ``sep``, as one message whose parts are
    each translated where they are messages (several problems reported together)."""
    names = [f"part{i}" for i in range(len(parts))]
    return Message(sep.join("{" + n + "}" for n in names), dict(zip(names, parts, strict=True)))

"""Text that people type: refused on the way in when it holds control characters, and made
safe on the way out for formats that cannot hold them (XML: Atom feeds, XLSX cells).

Control characters arrive from copying out of some programs, from fuzzers and from hostile
clients; PostgreSQL refuses NUL, XML 1.0 refuses the rest of C0 but TAB, LF and CR.
"""

from __future__ import annotations

import re
from typing import TypeVar

T = TypeVar("T")

#: C0 controls and DEL, and lone surrogates (no UTF-8 encoding); TAB, LF and CR are allowed
#: in multi-line text only.
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: What XML 1.0 cannot hold (its Char production), besides the surrogates.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

CONTROL_MESSAGE = (
    "contains control characters (invisible characters, often copied from another program); "
    "retype the text"
)


def printable(value: str) -> str:
    """``value`` if it has no control characters (one line of text), else :class:`ValueError`.

    >>> printable("Ile-Alatau")
    'Ile-Alatau'
    >>> printable("a\\x07b")
    Traceback (most recent call last):
    ...
    ValueError: contains control characters (invisible characters, often copied from another program); retype the text
    """
    if _CONTROL_LINE.search(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


def printable_lines(value: str) -> str:
    """:func:`printable` for multi-line text: TAB, LF and CR are allowed.

    >>> printable_lines("line 1\\nline 2")
    'line 1\\nline 2'
    """
    if _CONTROL_LINES.search(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


def xml_safe(value: T) -> T:
    """``value`` without the characters XML 1.0 cannot hold, when it is text (others as they
    are): for data stored before its text was checked, and names from imported files.

    >>> xml_safe("a\\x00b\\x1bc\\n"), xml_safe(3)
    ('abc\\n', 3)
    """
    if isinstance(value, str):
        return _NOT_XML.sub("", value)  # type: ignore[return-value]  # str is T here
    return value

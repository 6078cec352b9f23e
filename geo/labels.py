"""What a derived figure rests on: the weakest method of its inputs.

Every record carries a ``method``: ``observed`` (measured or surveyed boundaries), ``modelled``
(computed by a documented model) or ``example`` (made up to show the platform working, such
as a protected area placed as a point with a reported area). A figure derived from several
inputs is no stronger than the weakest of them: example < modelled < observed. A computation
never makes its inputs stronger, so a derived figure is at best ``modelled``.

Examples
--------
>>> weakest(["observed", "modelled"])
'modelled'
>>> weakest(["observed", "example", "modelled"])
'example'
>>> derived_method(["observed"])
'modelled'
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.errors import InvalidInput

#: Methods from the weakest to the strongest.
ORDER = ("example", "modelled", "observed")
_RANK = {m: i for i, m in enumerate(ORDER)}


def weakest(methods: Iterable[str]) -> str:
    """The weakest of ``methods`` (example < modelled < observed).

    Raises
    ------
    InvalidInput
        No method given, or one that is not in :data:`ORDER`.
    """
    ms = list(methods)
    if not ms:
        raise InvalidInput("no input method to take the weakest of")
    bad = sorted({m for m in ms if m not in _RANK})
    if bad:
        raise InvalidInput(f"unknown method(s) {', '.join(bad)}; known: {', '.join(ORDER)}")
    return min(ms, key=_RANK.__getitem__)


def derived_method(input_methods: Iterable[str]) -> str:
    """The method of a figure computed from inputs: the weakest of them and ``modelled``."""
    return weakest(["modelled", *input_methods])

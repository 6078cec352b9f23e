"""``irbis``: the command line.

Each group lives in its own module of this package and is registered here, explicitly, in the
order of ``irbis --help``.

Imports are at the top of each module, except the use cases of ``api.services`` and
``api.demo`` and the spatial libraries behind them (geopandas, rasterio, shapely): a command
imports them when it runs. Importing them for every ``irbis`` invocation, ``--help`` included,
costs about 1.5 s of CPU more (measured with ``/usr/bin/time python -c "import api.cli"``
against the same with those modules imported).
"""

from __future__ import annotations

import sys

from api.cli import (
    analyses,
    backup,
    database,
    demo,
    grants,
    importing,
    monitoring,
    prioritisation,
    serve,
    threats,
    users,
)
from api.cli.base import app, fail

for _module in (database, demo, serve, analyses, backup, importing, prioritisation, threats, users):
    _module.register(app)
grants.register(app)
monitoring.register(app)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


__all__ = ["app", "fail", "main"]

"""The ``irbis`` command run inside a test's rolled-back transaction (:mod:`tests.rollback`).

Each command group of :mod:`api.cli` makes its engines with ``make_engine`` from the settings
(``IRBIS_DATABASE_URL``). :func:`bind_cli` has them return the engines bound to the test's
connection instead, the writer's URL giving the writer and any other (the read-only URL) the
reader: what a command writes is gone when the test ends, and the test sees it before.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from sqlalchemy import Engine

import api.cli
from tests.rollback import RolledBack


def _command_modules() -> list[Any]:
    names = [m.name for m in pkgutil.iter_modules(api.cli.__path__)]
    modules = [importlib.import_module(f"api.cli.{n}") for n in names]
    return [m for m in modules if hasattr(m, "make_engine")]


def bind_cli(monkeypatch: pytest.MonkeyPatch, rolled_back: RolledBack, writer_url: str) -> None:
    """Commands invoked in this test (``CliRunner``) use ``rolled_back``'s engines."""

    def make_engine(url: Any, **_: Any) -> Engine:
        return rolled_back.engine if str(url) == writer_url else rolled_back.reader_engine

    monkeypatch.setenv("IRBIS_DATABASE_URL", writer_url)
    for module in _command_modules():
        monkeypatch.setattr(module, "make_engine", make_engine)

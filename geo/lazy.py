"""Modules imported when first used, so that starting a process does not import them all.

A web server's start path (``import api.app``) reaches every router, and through them
geopandas, pandas, scipy, rasterio and folium, which a vector tile or a health check never
uses (``docs/benchmarks.md``: most of the cold start was their import). A module that needs
one of them only in its functions names it at its top as::

    if TYPE_CHECKING:
        import geopandas as gpd
    else:
        gpd = lazy_module("geopandas")

and the library is imported at the first attribute read (``gpd.GeoDataFrame``), by
:func:`importlib.import_module`: the import system's own per-module lock makes a second
thread wait until the import is complete. (``lazy_loader.load`` and
``importlib.util.LazyLoader`` are not safe here: on Python before 3.12.3 a thread may read
the module while another is still executing it and get an ``AttributeError``, CPython issue
114763; routes and services run in worker threads.)
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module ``name``; imports it at the first attribute read."""

    def __getattr__(self, attr: str) -> Any:
        # called only for names the proxy itself lacks: all but its own __name__ & co.
        module = importlib.import_module(self.__name__)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for ``import name`` that imports it when an attribute is first read.

    Typed ``Any``: the module's own types come from an import under ``TYPE_CHECKING``."""
    return LazyModule(name)

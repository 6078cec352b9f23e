"""The front-end assets Irbis serves at ``/vendor``: only the files its pages load.

The npm packages are installed into ``node_modules`` by ``scripts/assets.sh``; serving that
whole folder would publish tens of megabytes of sources, tests and tools no page uses. Only
the distributed files below are served (scripts, stylesheets and the images and fonts that
those stylesheets reference); anything else under ``/vendor`` is a 404.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

#: Folders (relative to node_modules) whose files the pages load, directly or from CSS.
SERVED_FOLDERS: tuple[str, ...] = (
    "leaflet/dist",
    "leaflet-draw/dist",
    "leaflet.vectorgrid/dist",
    "leaflet.awesome-markers/dist",
    "@fortawesome/fontawesome-free/css",
    "@fortawesome/fontawesome-free/webfonts",
    "swagger-ui-dist",
)
#: File types served from those folders.
SERVED_SUFFIXES = frozenset(
    {".js", ".css", ".png", ".svg", ".gif", ".woff", ".woff2", ".ttf", ".eot", ".html"}
)


def is_served(path: str) -> bool:
    """Whether ``path`` (relative to node_modules) is one of the files pages load.

    >>> is_served("leaflet/dist/leaflet.js"), is_served("leaflet/src/Leaflet.js")
    (True, False)
    >>> is_served("swagger-ui-dist/../jquery/dist/jquery.js")
    False
    """
    p = PurePosixPath(path)
    if ".." in p.parts or p.suffix.lower() not in SERVED_SUFFIXES:
        return False
    return any(p.is_relative_to(folder) for folder in SERVED_FOLDERS)


class VendorFiles(StaticFiles):
    """``StaticFiles`` over node_modules that answers 404 for anything pages do not load."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not is_served(path):
            return Response("Not Found", status_code=404, media_type="text/plain")
        return await super().get_response(path, scope)

"""A bare FastAPI app for ``bench_tiles.py --bare``: one ``async def`` route with the path
shape of a tile and a fixed 1 kB body, no middleware. What one uvicorn worker of the framework
serves on the machine, measured in the same run as the tiles."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

app = FastAPI()
BODY = b"x" * 1024


@app.get("/collections/{collection}/tiles/{tms}/{z}/{y}/{x}")
async def tile(collection: str, tms: str, z: int, y: int, x: int) -> Response:
    return Response(BODY, media_type="application/vnd.mapbox-vector-tile")

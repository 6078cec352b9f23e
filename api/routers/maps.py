"""Map pages for people: the atlas, a map per layer, case pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["maps"], include_in_schema=False)

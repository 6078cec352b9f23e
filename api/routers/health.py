"""/health: is the service up, and is its database?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from api.db.engine import database_state
from api.db.models import Grant, Species
from api.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service and database state")
def health(engine: EngineDep) -> JSONResponse:
    db = database_state(engine)
    if db["status"] == "up":
        try:
            with engine.connect() as conn:
                db["species"] = conn.execute(select(func.count()).select_from(Species)).scalar()
                db["grants"] = conn.execute(select(func.count()).select_from(Grant)).scalar()
                db["demo_loaded"] = bool(db["grants"])
        except Exception:
            db["schema"] = "not migrated: run `irbis db upgrade`"
    ok = db["status"] == "up"
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "database": db}, status_code=200 if ok else 503
    )

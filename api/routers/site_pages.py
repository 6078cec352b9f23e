"""The field-site upload page: choose a file, see the report and a map preview, commit."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api.auth.principal import PrincipalDep, Role
from api.db.models import Grant
from api.deps import ReaderDep
from api.templating import render
from layers.outlines import programme_outline

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/sites/upload", response_class=HTMLResponse)
def upload_page(request: Request, principal: PrincipalDep, engine: ReaderDep) -> Response:
    if principal.is_anonymous:
        return RedirectResponse("/login?next=/sites/upload", status_code=303)
    query = select(Grant.code, Grant.title).order_by(Grant.code)
    if not principal.has(Role.admin):
        query = query.where(Grant.id.in_(principal.grant_ids or {-1}))
    with engine.connect() as conn:
        grants = conn.execute(query).all()
        outline = programme_outline(conn)
    status = 200 if grants else 403
    return render(
        request,
        "sites_upload.html",
        status_code=status,
        grants=grants,
        countries_json=json.dumps(outline),
    )

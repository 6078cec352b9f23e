"""The caller's account: who am I, and API tokens (page and API)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.auth import accounts
from api.auth.deps import LoggedInDep
from api.auth.middleware import SESSION_COOKIE, cookie_header
from api.auth.passwords import MIN_LENGTH
from api.auth.principal import PrincipalDep
from api.db.engine import transaction
from api.db.models import Grant
from api.deps import EngineDep, SettingsDep
from api.i18n import translate
from api.templating import render
from geo.messages import Message, en

router = APIRouter(tags=["account"])
TokenId = Annotated[int, Path(ge=1, le=2_147_483_647, description="Token id")]
pages = APIRouter(tags=["pages"], include_in_schema=False)


class Me(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    grants: list[str]
    sees_sensitive: bool


class TokenIn(BaseModel):
    name: str = Field(
        min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["QGIS on my laptop"]
    )


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewTokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    token: str = Field(description="The token itself: shown once, store it now.")


def _grant_codes(engine: EngineDep, ids: frozenset[int]) -> list[str]:
    if not ids:
        return []
    with engine.connect() as conn:
        return list(conn.scalars(select(Grant.code).where(Grant.id.in_(ids)).order_by(Grant.code)))


def _tokens(engine: EngineDep, user_id: int) -> list[TokenOut]:
    with transaction(engine) as session:
        return [
            TokenOut(
                id=t.id,
                name=t.name,
                prefix=t.prefix,
                created_at=t.created_at,
                last_used_at=t.last_used_at,
                revoked_at=t.revoked_at,
            )
            for t in accounts.list_api_tokens(session, user_id)
        ]


@router.get("/api/account", response_model=Me)
def me(principal: LoggedInDep, engine: EngineDep) -> Me:
    """Who the caller is: roles and linked grants."""
    return Me(
        username=principal.username or "",
        display_name=principal.display_name,
        roles=sorted(r.value for r in principal.roles),
        grants=_grant_codes(engine, principal.grant_ids),
        sees_sensitive=principal.sees_sensitive,
    )


@router.get("/api/account/tokens", response_model=list[TokenOut])
def list_tokens(principal: LoggedInDep, engine: EngineDep) -> list[TokenOut]:
    """The caller's API tokens (never the tokens themselves)."""
    return _tokens(engine, principal.user_id or 0)


@router.post("/api/account/tokens", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, principal: LoggedInDep, engine: EngineDep) -> NewTokenOut:
    """A new API token for the caller, to send as ``Authorization: Bearer <token>``."""
    with transaction(engine, actor=principal.username) as session:
        user = accounts.get_user(session, principal.username or "")
        new = accounts.create_api_token(session, user, body.name)
    return NewTokenOut(id=new.id, name=new.name, prefix=new.prefix, token=new.token)


@router.delete("/api/account/tokens/{token_id}", status_code=204)
def revoke_token(token_id: TokenId, principal: LoggedInDep, engine: EngineDep) -> Response:
    """Revoke one of the caller's API tokens."""
    with transaction(engine, actor=principal.username) as session:
        accounts.revoke_api_token(session, principal.user_id or 0, token_id)
    return Response(status_code=204)


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@pages.get("/account")
def account_page(principal: PrincipalDep) -> RedirectResponse:
    """The account page is the tokens page; logged out, the way to it is the login page."""
    target = "/account/tokens"
    if principal.is_anonymous:
        return RedirectResponse(f"/login?next={target}", status_code=303)
    return RedirectResponse(target, status_code=303)


@pages.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, principal: PrincipalDep, engine: EngineDep) -> Response:
    if principal.is_anonymous:
        return _login_redirect(request)
    return _account_page(request, principal, engine)


def _account_page(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    *,
    status_code: int = 200,
    new: accounts.NewToken | None = None,
    password_error: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "tokens.html",
        status_code=status_code,
        tokens=_tokens(engine, principal.user_id or 0),
        new=new,
        grants=_grant_codes(engine, principal.grant_ids),
        principal=principal,
        password_error=password_error,
    )


@pages.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    settings: SettingsDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    again: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Change one's password: every session (this one too) ends and every API token is
    revoked; log in again with the new password."""
    if principal.is_anonymous:
        return _login_redirect(request)
    problem: Message | None = None
    if new != again:
        problem = en("The two new passwords differ.")
    elif len(new) < MIN_LENGTH:
        problem = en("A password needs at least {count} characters.", count=MIN_LENGTH)
    else:
        with transaction(engine, actor=principal.username) as session:
            user = accounts.authenticate(session, principal.username or "", current)
            if user is None:
                problem = en("The current password is wrong.")
            else:
                accounts.set_password(session, user, new)
    if problem:
        said = translate(problem)  # in the reader's language
        return _account_page(request, principal, engine, status_code=400, password_error=said)
    response = RedirectResponse("/login?next=/account/tokens", status_code=303)
    response.headers.append(
        "set-cookie",
        cookie_header(SESSION_COOKIE, "", secure=settings.api.secure_cookies, delete=True),
    )
    return response


@pages.post("/account/tokens", response_class=HTMLResponse)
def tokens_create(
    request: Request,
    principal: PrincipalDep,
    engine: EngineDep,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if principal.is_anonymous:
        return _login_redirect(request)
    with transaction(engine, actor=principal.username) as session:
        user = accounts.get_user(session, principal.username or "")
        new = accounts.create_api_token(session, user, name)
    return _account_page(request, principal, engine, status_code=201, new=new)


@pages.post("/account/tokens/{token_id}/revoke")
def tokens_revoke(
    request: Request, token_id: TokenId, principal: PrincipalDep, engine: EngineDep
) -> Response:
    if principal.is_anonymous:
        return _login_redirect(request)
    with transaction(engine, actor=principal.username) as session:
        accounts.revoke_api_token(session, principal.user_id or 0, token_id)
    return RedirectResponse("/account/tokens", status_code=303)

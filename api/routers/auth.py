"""Web login and logout (session cookie)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import accounts
from api.auth.csrf import csrf_checked
from api.auth.middleware import SESSION_COOKIE, cookie_header, session_cookie_value
from api.db.engine import transaction
from api.deps import EngineDep, SettingsDep
from api.i18n import _, _l
from api.ratelimit import client_address, ratelimits_for
from api.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only local paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    if not csrf_checked(request):
        return render(
            request,
            "login.html",
            status_code=403,
            next=_safe_next(next),
            error=_l("This form is stale: reload the page and log in again."),
        )
    actor = username.strip().lower()
    client = client_address(request.scope)
    limits = ratelimits_for(request.app)
    wait = limits.hit(limits.login, "login", client) or limits.login_wait(actor, client)
    if wait:
        # the same answer whether or not the account exists
        refused = render(
            request,
            "login.html",
            status_code=429,
            next=_safe_next(next),
            error=_("Too many login attempts from here: wait %(wait)s seconds and try again.")
            % {"wait": wait},
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    with transaction(engine, actor=actor if accounts.USERNAME_RE.match(actor) else None) as s:
        user = accounts.authenticate(s, username, password)
        raw = (
            accounts.start_session(s, user, user_agent=request.headers.get("user-agent"))
            if user
            else None
        )
    if raw is None:
        limits.login_failed(actor, client)
        return render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            error=_l("Unknown user name or wrong password, or the account is deactivated."),
        )
    limits.login_succeeded(actor, client)
    response = RedirectResponse(_safe_next(next), status_code=303)
    key = request.app.state.secret_key
    response.headers.append(
        "set-cookie",
        cookie_header(
            SESSION_COOKIE,
            session_cookie_value(key, raw),
            secure=settings.api.secure_cookies,
            max_age=int(accounts.SESSION_TTL.total_seconds()),
        ),
    )
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_page(request: Request) -> HTMLResponse:
    return render(request, "logout.html")


@router.post("/logout")
def logout(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    raw = request.scope.get("state", {}).get("session_token")
    if raw:
        principal = request.state.principal
        with transaction(engine, actor=principal.username) as session:
            accounts.end_session(session, raw)
    response = RedirectResponse("/", status_code=303)
    response.headers.append(
        "set-cookie",
        cookie_header(SESSION_COOKIE, "", secure=settings.api.secure_cookies, delete=True),
    )
    return response

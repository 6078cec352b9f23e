"""Jinja2 templates shared by the HTML routers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api import i18n
from api.auth.principal import Role, get_principal
from api.i18n import _l
from api.services import threat_reports
from api.settings import REPO_ROOT
from api.vocabulary import word

NAV: list[tuple[str, Any]] = [
    ("/", _l("Home")),
    ("/atlas", _l("Atlas")),
    ("/collections", _l("Layers")),
    ("/analyses", _l("Analyses")),
    ("/prioritisation", _l("Prioritisation")),
    ("/threats", _l("Threats")),
    ("/sources", _l("Sources")),
    ("/api.html", _l("API")),
]

_templates: Jinja2Templates | None = None


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = Jinja2Templates(directory=str(REPO_ROOT / "api" / "templates"))
        # Visible text in templates is marked for translation: {{ _("Text") }} or
        # {% trans %}Text{% endtrans %}; it is shown in the language of the request (api.i18n).
        env = _templates.env
        env.add_extension("jinja2.ext.i18n")
        env.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.gettext, i18n.ngettext, newstyle=True
        )
        env.globals["localized"] = i18n.localized
        env.globals["languages"] = i18n.LANGUAGES
        env.globals["word"] = word
    return _templates


def request_locale(request: Request) -> str:
    """The language of ``request`` (set by the locale middleware, else negotiated here)."""
    lang = getattr(request.state, "locale", None)
    return lang if lang in i18n.LANGUAGES else i18n.negotiate(request)


def _with_lang(request: Request, code: str) -> str:
    url = request.url.include_query_params(lang=code)
    return f"{url.path}?{url.query}"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("nav", NAV)
    context.setdefault("user", getattr(request.state, "user", None))
    from api.auth.csrf import csrf_token

    context.setdefault("csrf_token", csrf_token(request))
    principal = get_principal(request)
    # links to pages the visitor may not use are not shown (anonymous visitors are sent to log in)
    context.setdefault(
        "may_report", principal.is_anonymous or principal.has(*threat_reports.REPORTER_ROLES)
    )
    context.setdefault(
        "may_upload", principal.is_anonymous or principal.has(Role.admin, Role.grantee)
    )
    lang = request_locale(request)
    context["lang"] = lang
    context["lang_urls"] = {code: _with_lang(request, code) for code in i18n.LANGUAGES}
    token = i18n.set_locale(lang)
    try:  # the template is rendered here, in the language of the request
        return templates().TemplateResponse(request, name, context, status_code=status_code)
    finally:
        i18n.reset(token)

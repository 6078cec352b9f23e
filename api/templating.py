"""Jinja2 templates shared by the HTML routers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.settings import REPO_ROOT

NAV: list[tuple[str, str]] = [
    ("/", "Home"),
    ("/atlas", "Atlas"),
    ("/collections", "Layers"),
    ("/analyses", "Analyses"),
    ("/prioritisation", "Prioritisation"),
    ("/threats", "Threats"),
    ("/sources", "Sources"),
    ("/api.html", "API"),
]

_templates: Jinja2Templates | None = None


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = Jinja2Templates(directory=str(REPO_ROOT / "api" / "templates"))
        # Visible text in templates is marked for translation: {{ _("Text") }} or
        # {% trans %}Text{% endtrans %}.
        _templates.env.add_extension("jinja2.ext.i18n")
        _templates.env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return _templates


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("nav", NAV)
    context.setdefault("user", getattr(request.state, "user", None))
    from api.auth.csrf import csrf_token

    context.setdefault("csrf_token", csrf_token(request))
    return templates().TemplateResponse(request, name, context, status_code=status_code)

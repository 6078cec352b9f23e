"""Jinja2 templates shared by the HTML routers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from api import i18n, ogc
from api.auth.principal import Role, get_principal
from api.i18n import _l
from api.settings import REPO_ROOT
from api.vocabulary import analysis_kind, word
from geo.lazy import lazy_module

if TYPE_CHECKING:
    import jinja2
    from fastapi import templating as fastapi_templating
    from jinja2.runtime import Context

    from api.services import threat_reports
    from layers import maps
else:  # pandas, geopandas and folium: not on the start path (geo.lazy)
    threat_reports = lazy_module("api.services.threat_reports")
    maps = lazy_module("layers.maps")
    # jinja2: its environment is made at the first page (cold start)
    fastapi_templating = lazy_module("fastapi.templating")
    jinja2 = lazy_module("jinja2")

NAV: list[tuple[str, Any]] = [
    ("/", _l("Home")),
    ("/atlas", _l("Atlas")),
    ("/collections", _l("Layers")),
    ("/analyses", _l("Analyses")),
    ("/prioritisation", _l("Prioritisation")),
    ("/threats", _l("Threats")),
    ("/grants", _l("Grants")),
    ("/sources", _l("Sources")),
    ("/api.html", _l("API")),
]

_templates: fastapi_templating.Jinja2Templates | None = None


def templates() -> fastapi_templating.Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = fastapi_templating.Jinja2Templates(
            directory=str(REPO_ROOT / "api" / "templates")
        )
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
        env.globals["analysis_kind"] = analysis_kind
        env.filters["word"] = word
        # a layer's title or a property's label, in the page's language (layers/map_words.py)
        env.globals["label"] = i18n.gettext
        env.globals["current_locale"] = i18n.current_locale
        env.filters["readable"] = readable
        env.filters["said"] = i18n.translate  # a message of the core in the reader's language
        # given the context, so that Jinja never folds it into a compiled template (a constant
        # URL would keep the language of the page that compiled it)
        env.filters["in_language"] = jinja2.pass_context(in_language)
    return _templates


def in_language(context: Context, url: str) -> str:
    """``url`` asking for the page's language when it is not English (``lang=``): for links
    that a program follows without the reader's cookie or browser language, such as feeds."""
    lang = context.get("lang") or i18n.current_locale()
    if lang == i18n.DEFAULT:
        return url
    return f"{url}{'&' if '?' in url else '?'}lang={lang}"


def readable(value: Any) -> Markup:
    """Parameters (a mapping, a list, or JSON text of one) as nested HTML lists a person can
    read: ``{"species": ["Panthera uncia"], "target": 0.3}`` as "species: Panthera uncia" and
    "target: 0.3", booleans as words."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return Markup("{}").format(value)
    if isinstance(value, Mapping):
        if not value:
            return Markup('<span class="none">–</span>')
        items = Markup("").join(
            Markup("<dt>{}</dt><dd>{}</dd>").format(str(k).replace("_", " "), readable(v))
            for k, v in value.items()
        )
        return Markup('<dl class="readable">{}</dl>').format(items)
    if isinstance(value, list | tuple):
        if not value:
            return Markup('<span class="none">–</span>')
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return Markup("{}").format(
                ", ".join(word(v) if isinstance(v, bool) else str(v) for v in value)
            )
        items = Markup("").join(Markup("<li>{}</li>").format(readable(v)) for v in value)
        return Markup('<ul class="readable">{}</ul>').format(items)
    if isinstance(value, bool) or value is None:
        return Markup("{}").format(word(value) if value is not None else "–")
    return Markup("{}").format(value)


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


def map_tools(request: Request, search: bool = False) -> maps.MapTools:
    """A map page's tools in the page's language: words, labels, search; the relief's version."""
    return maps.MapTools(
        tr=i18n.gettext,
        lang=i18n.current_locale(),
        search=search,
        relief_version=ogc.rasters_version_token(request),
    )

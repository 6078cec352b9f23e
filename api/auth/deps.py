"""Dependencies for routers that need a logged-in caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.auth.principal import Principal, PrincipalDep
from geo.errors import Unauthenticated


def require_login(principal: PrincipalDep) -> Principal:
    """The caller, who must be logged in (session cookie or API token)."""
    if principal.is_anonymous:
        raise Unauthenticated("log in, or send 'Authorization: Bearer <token>'")
    return principal


LoggedInDep = Annotated[Principal, Depends(require_login)]

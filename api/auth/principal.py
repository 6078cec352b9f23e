"""Who is asking: the principal every request runs as, and what each role may see.

Authentication (sessions, API tokens) resolves the principal and puts it on
``request.state.principal``; everyone else is :data:`ANONYMOUS`. Authorisation questions are
answered here, in one place, so features, tiles, pages, downloads and reports agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request


class Role(enum.StrEnum):
    admin = "admin"
    analyst = "analyst"
    grantee = "grantee"
    advocate = "advocate"
    public = "public"


@dataclass(frozen=True)
class Principal:
    user_id: int | None = None
    username: str | None = None
    display_name: str = "anonymous"
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.public}))
    grant_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def sees_sensitive(self) -> bool:
        """May see precise locations of sensitive species and reporters' identities."""
        return self.has(Role.admin, Role.analyst)

    def may_edit_sites(self, grant_id: int) -> bool:
        """May create, replace and delete the field sites of grant ``grant_id``."""
        return self.has(Role.admin) or (self.has(Role.grantee) and grant_id in self.grant_ids)


ANONYMOUS = Principal()


def get_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", None) or ANONYMOUS


PrincipalDep = Annotated[Principal, Depends(get_principal)]

"""Users, roles, grant links, API tokens and sessions: the account operations.

Every function works inside the caller's session and transaction; the caller names the actor
(:func:`api.db.engine.set_actor`) so that the audit log says who changed what.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from api.auth.cache import changed_in
from api.auth.passwords import hash_password, needs_rehash, rehash, verify_password
from api.auth.principal import Principal, Role
from api.auth.tokens import API_TOKEN_PREFIX, new_token, token_hash
from api.db.models import ApiToken, Grant, User, UserSession, user_grants, user_roles
from geo.errors import Conflict, InvalidInput, NotFound
from geo.messages import en

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
SESSION_TTL = dt.timedelta(days=14)
#: ``last_seen_at``/``last_used_at`` are written at most this often, not on every request.
TOUCH_EVERY = dt.timedelta(minutes=5)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_roles(roles: Iterable[str]) -> frozenset[Role]:
    """Role names to :class:`Role` values, refusing unknown names with the valid ones."""
    out = set()
    for name in roles:
        name = name.strip().lower()
        if not name:
            continue
        try:
            out.add(Role(name))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise InvalidInput(
                en("unknown role {name}; roles are: {roles}", name=repr(name), roles=valid)
            ) from None
    return frozenset(out)


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(en("no user named {name}", name=repr(username)))
    return user


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    email: str | None = None,
    roles: Iterable[str] = (),
    grant_codes: Iterable[str] = (),
) -> User:
    """Create an active user with ``roles`` and links to the grants ``grant_codes``."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            en(
                "a username is 2 to 63 characters: lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(en("a user named {name} exists already", name=repr(username)))
    if email and session.scalar(
        select(User.id).where(func.lower(User.email) == email.strip().lower())
    ):
        raise Conflict(
            en("a user with the e-mail address {email} exists already", email=repr(email))
        )
    user = User(
        username=username,
        display_name=(display_name or username).strip(),
        email=email.strip() if email else None,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(user)
    session.flush()
    set_roles(session, user, roles or ["public"])
    for code in grant_codes:
        link_grant(session, user, code)
    return user


def set_roles(session: Session, user: User, roles: Iterable[str]) -> frozenset[Role]:
    """Replace the roles of ``user``."""
    wanted = parse_roles(roles)
    if not wanted:
        raise InvalidInput(en("name at least one role"))
    changed_in(session)
    current = {
        Role(r)
        for r in session.scalars(select(user_roles.c.role).where(user_roles.c.user_id == user.id))
    }
    gone = current - wanted
    if gone:
        session.execute(
            delete(user_roles).where(
                user_roles.c.user_id == user.id, user_roles.c.role.in_([r.value for r in gone])
            )
        )
    for role in sorted(wanted - current):
        session.execute(insert(user_roles).values(user_id=user.id, role=role.value))
    return wanted


def grant_id_for(session: Session, code: str) -> int:
    gid = session.scalar(select(Grant.id).where(Grant.code == code.strip()))
    if gid is None:
        raise NotFound(en("no grant with code {code}", code=repr(code)))
    return gid


def link_grant(session: Session, user: User, code: str, *, unlink: bool = False) -> None:
    """Link (or unlink) ``user`` to the grant with ``code``; a linked user is its grantee."""
    gid = grant_id_for(session, code)
    changed_in(session)
    exists = session.scalar(
        select(user_grants.c.grant_id).where(
            user_grants.c.user_id == user.id, user_grants.c.grant_id == gid
        )
    )
    if unlink and exists is not None:
        session.execute(
            delete(user_grants).where(
                user_grants.c.user_id == user.id, user_grants.c.grant_id == gid
            )
        )
    elif not unlink and exists is None:
        session.execute(insert(user_grants).values(user_id=user.id, grant_id=gid))


def set_password(session: Session, user: User, password: str) -> None:
    """Set ``user``'s password: every web session ends and every API token is revoked (a
    stolen password or token stops working once the password is changed)."""
    changed_in(session)
    user.password_hash = hash_password(password)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def deactivate(session: Session, user: User) -> None:
    """Deactivate ``user``: sessions end, tokens are revoked, the row (and history) stays."""
    changed_in(session)
    user.active = False
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with ``username`` and ``password``, or None.

    The password hash is verified whether or not the user exists (against a dummy hash for
    unknown names), so the answer and its cost say nothing about which accounts exist.
    Guessing is slowed by the login back-off (:mod:`api.ratelimit`), which never locks an
    account for everyone.
    """
    username = username.strip().lower()
    user = (
        session.scalar(select(User).where(User.username == username))
        if USERNAME_RE.match(username)
        else None
    )
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = rehash(password)  # same password, today's argon2 parameters
    return user


def principal_for(session: Session, user: User) -> Principal:
    roles = frozenset(
        Role(r)
        for r in session.scalars(select(user_roles.c.role).where(user_roles.c.user_id == user.id))
    )
    grants = frozenset(
        session.scalars(select(user_grants.c.grant_id).where(user_grants.c.user_id == user.id))
    )
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=roles or frozenset({Role.public}),
        grant_ids=grants,
    )


# ---- API tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    id: int
    name: str
    prefix: str
    token: str


def create_api_token(session: Session, user: User, name: str) -> NewToken:
    """A new API token for ``user``; the clear token is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidInput(
            en("name the token (1 to 100 printable characters), e.g. 'QGIS on my laptop'")
        )
    raw = new_token(API_TOKEN_PREFIX)
    row = ApiToken(user_id=user.id, name=name, prefix=raw[:10], token_hash=token_hash(raw))
    session.add(row)
    session.flush()
    return NewToken(id=row.id, name=name, prefix=row.prefix, token=raw)


def list_api_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    )


def revoke_api_token(session: Session, user_id: int, token_id: int) -> ApiToken:
    """Revoke one of ``user_id``'s tokens (someone else's token is not found)."""
    row = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )
    if row is None:
        raise NotFound(en("no token {id} of yours", id=token_id))
    if row.revoked_at is None:
        changed_in(session)
        row.revoked_at = _now()
    return row


def principal_from_api_token(session: Session, raw: str) -> Principal | None:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(raw), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row.User.active:
        return None
    token = row.ApiToken
    now = _now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return principal_for(session, row.User)


# ---- web sessions ----------------------------------------------------------------------------


def start_session(session: Session, user: User, *, user_agent: str | None = None) -> str:
    """A new web session for ``user``; returns the clear token for the cookie."""
    raw = new_token()
    now = _now()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=token_hash(raw),
            expires_at=now + SESSION_TTL,
            last_seen_at=now,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    user.last_login_at = now
    session.execute(delete(UserSession).where(UserSession.expires_at < now))
    return raw


def principal_from_session(session: Session, raw: str) -> Principal | None:
    now = _now()
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(raw), UserSession.expires_at > now)
    ).first()
    if row is None or not row.User.active:
        return None
    s = row.UserSession
    if s.last_seen_at is None or now - s.last_seen_at > TOUCH_EVERY:
        session.execute(update(UserSession).where(UserSession.id == s.id).values(last_seen_at=now))
    return principal_for(session, row.User)


def end_session(session: Session, raw: str) -> None:
    changed_in(session)
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(raw)))

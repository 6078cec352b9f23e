"""A short-lived in-memory cache of resolved logins (sessions and API tokens).

Keys are hashes of the credential (never the credential itself); entries live
``settings.api.principal_cache_seconds``. Whatever changes what a login may do drops every
entry at once: in this process right after the commit (:func:`changed_in`, called by
:mod:`api.auth.accounts`), in every process when the ``auth`` notification arrives
(:mod:`api.versions`). A lookup that started before a drop is not stored, so a stale answer
read concurrently with a revocation cannot outlive it.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.orm import Session

from api.auth.principal import Principal

MAX_ENTRIES = 10_000
_INFO_KEY = "irbis_auth_changed"

#: Every cache of this process (one per app), dropped together after a local change.
_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()


class PrincipalCache:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.generation = 0
        _caches.add(self)

    @staticmethod
    def key(kind: str, raw: str) -> str:
        return hashlib.sha256(f"{kind}\0{raw}".encode()).hexdigest()

    def get(self, key: str) -> tuple[bool, Principal | None]:
        """(found, principal); a found ``None`` is a credential known to be invalid."""
        if self.ttl <= 0:
            return False, None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return False, None
            return True, entry[1]

    def put(self, key: str, principal: Principal | None, generation: int) -> None:
        """Keep ``principal`` unless the cache was dropped since ``generation`` was read."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            self._entries[key] = (time.monotonic() + self.ttl, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def clear_all() -> None:
    """Drop every cached login of this process."""
    for cache in list(_caches):
        cache.clear()


def changed_in(session: Session) -> None:
    """``session`` changes what a login may do: drop cached logins when it commits (and,
    before that, so no lookup made meanwhile is kept)."""
    session.info[_INFO_KEY] = True
    clear_all()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_INFO_KEY, False):
        clear_all()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_INFO_KEY, None)

"""Data versions in memory, pushed to every process by PostgreSQL ``LISTEN/NOTIFY``.

Every write to a published table bumps its row in ``layer_versions`` and, in the same
transaction, sends ``pg_notify('irbis_changes', 'v:<table>:<version>')`` (migration 0010);
a change of what a login may do sends ``'auth'``. Notifications are delivered at commit.

Each process runs one :class:`ChangeListener` thread with its own connection to the primary.
While it is connected, :meth:`DataVersions.of` answers from memory: no database round trip
for a cached tile, a 304 or a version in a URL. On (re)connect the listener LISTENs first
and then marks the versions stale, so the next read reloads them all and no write is
missed; while it is disconnected, every read asks the database (the behaviour without
notifications), so a write is never hidden.

Writes made in this process (any engine) mark the versions stale at commit, so this
process's next request sees them even before the notification arrives. SQLAlchemy's ``commit``
event comes *before* the database commits: a reload by another thread (the grants warmer's
poll) in between would read the old versions and take the commit as seen. So a commit counts
twice: at its start, and once it is done (the connection's next transaction begins, or the
connection goes back to its pool), and a reload only answers for the commits counted before it.

A write through another process reaches this one as a notification, read by the listener
thread; that thread needs the interpreter lock, which the thread answering the next request
may be holding. So before answering from memory, :meth:`DataVersions.fresh` also looks at the
listener's socket (one ``poll`` with no wait, about a microsecond): a notification PostgreSQL
has sent and the listener has not yet handled (still in the socket, or being handled) makes
the next read reload the versions from the database instead. The cache of logins asks the same
before answering from memory (:mod:`api.auth.middleware`), so a revocation through one process
is honoured by another's next request.

A notification PostgreSQL has not yet written to this process's socket is not seen there: on a
busy machine, a request that reaches this process right after another process answered a write
can come before it. A tile URL then still says which version its map wants (``?v=``, from
TileJSON, styles and maps, perhaps made by the writing process): a token this process has
never made nor found out of date makes it read the versions from the database before it
answers (:func:`api.ogc.version_asked`), so such a tile is never today's data labelled with
tomorrow's URL, and a CDN never keeps it so.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from select import POLLIN, poll

import psycopg
from sqlalchemy import Connection, Engine, Pool, event, select, table
from sqlalchemy import column as sa_column
from sqlalchemy.engine import make_url

CHANNEL = "irbis_changes"
#: Seconds the listener waits for notifications before checking whether it should stop.
POLL_S = 0.5
RECONNECT_MAX_S = 10.0

log = logging.getLogger("irbis.versions")

_layer_versions = table("layer_versions", sa_column("table_name"), sa_column("version"))

# Commits made in this process, by any engine: a cheap counter the versions compare against.
_commits = 0
# The DBAPI connections (by id) whose commit has started and is not yet known to be done.
_committing: set[int] = set()


@event.listens_for(Engine, "commit")
def _count_commit(conn: Connection) -> None:
    global _commits
    _commits += 1
    _committing.add(id(conn.connection.dbapi_connection))


def _commit_done(dbapi_connection: object) -> None:
    global _commits
    try:
        _committing.remove(id(dbapi_connection))
    except KeyError:
        return
    _commits += 1  # a reload made while the commit was under way no longer counts as fresh


@event.listens_for(Engine, "begin")
def _next_transaction(conn: Connection) -> None:
    if _committing:  # empty but for the moment after a commit: nothing to do on the hot path
        _commit_done(conn.connection.dbapi_connection)


@event.listens_for(Pool, "checkin")
def _checked_in(dbapi_connection: object, _record: object) -> None:
    if _committing and dbapi_connection is not None:
        _commit_done(dbapi_connection)


#: How many out-of-date version tokens a process remembers (:meth:`DataVersions.out_of_date`).
OUT_OF_DATE_KEPT = 10_000


class DataVersions:
    """The data version of every table, kept in memory while the listener is connected."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._live = False
        self._stale = True
        self._seen_commits = -1
        # the listener's socket while it is connected, and whether it is handling notifications
        self._socket: int | None = None
        self._draining = False
        # version tokens asked for and found out of date after a reload (api.ogc.version_asked)
        self._out_of_date: dict[str, None] = {}

    @property
    def live(self) -> bool:
        return self._live

    def set_live(self, live: bool) -> None:
        with self._lock:
            self._live = live
            self._stale = True

    def watch(self, fd: int | None) -> None:
        """The listener's socket (``None`` once it is closing): unread notifications on it
        make :meth:`fresh` false."""
        self._socket = fd

    def draining(self, busy: bool) -> None:
        """Set by the listener while it reads and handles the notifications on its socket."""
        self._draining = busy

    def unread(self) -> bool:
        """Whether a notification may have arrived that :meth:`notified` has not yet had."""
        if self._draining:
            return True
        fd = self._socket
        if fd is None:
            return False
        try:
            poller = poll()
            poller.register(fd, POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):  # the socket closed meanwhile: reload to be safe
            return True

    def notified(self, name: str, version: int) -> None:
        with self._lock:
            if version > self._versions.get(name, -1):
                self._versions[name] = version

    def reload(self) -> None:
        """Read every version from the primary (merged upwards: versions only grow)."""
        self._stale = False
        self._seen_commits = _commits
        with self._engine.connect() as conn:
            rows = conn.execute(select(_layer_versions.c.table_name, _layer_versions.c.version))
            loaded = {str(t): int(v) for t, v in rows}
        with self._lock:
            for name, version in loaded.items():
                if version > self._versions.get(name, -1):
                    self._versions[name] = version

    def out_of_date(self, token: str) -> bool:
        """Whether ``token`` was asked for before and found out of date (or made up)."""
        return token in self._out_of_date

    def found_out_of_date(self, token: str) -> None:
        """Remember ``token`` as out of date, so that asking for it again reads nothing. The
        set is bounded: past :data:`OUT_OF_DATE_KEPT` tokens it starts again."""
        if len(self._out_of_date) >= OUT_OF_DATE_KEPT:
            self._out_of_date = {}
        self._out_of_date[token] = None

    def fresh(self) -> bool:
        """Whether :meth:`current` answers from memory (no reload needed)."""
        return (
            self._live and not self._stale and self._seen_commits == _commits and not self.unread()
        )

    def current(self, tables: Iterable[str]) -> dict[str, int]:
        if not self.fresh():
            self.reload()
        versions = self._versions
        return {t: versions[t] for t in sorted(set(tables)) if t in versions}

    def of(self, tables: Iterable[str]) -> str:
        """``table:version`` pairs of ``tables``, sorted (the form of cache keys and ETags)."""
        return ",".join(f"{t}:{v}" for t, v in self.current(tables).items())


#: Listeners of this process, stopped and joined at exit so their connections close cleanly.
_listeners: weakref.WeakSet[ChangeListener] = weakref.WeakSet()


@atexit.register
def _stop_listeners() -> None:
    running = list(_listeners)
    for listener in running:
        listener.stop()
    for listener in running:
        listener.join(POLL_S * 4)


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """A daemon thread LISTENing on :data:`CHANNEL`, reconnecting with back-off."""

    def __init__(
        self,
        url: str,
        versions: DataVersions,
        on_auth: Callable[[], None],
    ) -> None:
        self._conninfo = _conninfo(url)
        self._versions = versions
        self._on_auth = on_auth
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="irbis-listener", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        _listeners.add(self)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def stop(self) -> None:
        """Ask the thread to end; it does within :data:`POLL_S` (no join: never blocks)."""
        self._stop.set()

    def _handle(self, payload: str) -> None:
        if payload == "auth":
            self._on_auth()
            return
        kind, _, rest = payload.partition(":")
        name, _, version = rest.rpartition(":")
        if kind == "v" and name and version.isdigit():
            self._versions.notified(name, int(version))

    def _listen(self, conn: psycopg.Connection[tuple[object, ...]], fd: int) -> None:
        poller = poll()
        poller.register(fd, POLLIN)
        while not self._stop.is_set():
            if not poller.poll(POLL_S * 1000):
                continue
            # flagged before the socket is read, cleared once every notification is handled:
            # a request in between reloads rather than answer from the versions being updated
            self._versions.draining(True)
            try:
                for note in conn.notifies(timeout=0):
                    self._handle(note.payload)
            finally:
                self._versions.draining(False)

    def _run(self) -> None:
        backoff = 0.25
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5, keepalives_idle=30
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    fd = conn.fileno()
                    # listening before reloading: no write falls between the two
                    self._versions.watch(fd)
                    self._versions.set_live(True)
                    self._on_auth()
                    self.connected.set()
                    backoff = 0.25
                    try:
                        self._listen(conn, fd)
                    finally:
                        self._versions.watch(None)  # before the socket closes
            except (psycopg.Error, OSError) as exc:
                if self._stop.is_set():
                    break
                log.warning("change listener disconnected (%s); retrying", type(exc).__name__)
            finally:
                self.connected.clear()
                self._versions.set_live(False)
                self._on_auth()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)

"""The portfolio and the grant pages warmed again after a write, in the background.

A write to one of the portfolio's tables (a grant, a site, a threat, the habitat, the protected
areas) makes a new data version, so the next reader of the portfolio or of a grant page would
compute it (a second or more at a thousand grants). The :class:`Warmer` of a process watches
the data versions it knows (:class:`api.versions.DataVersions`, in memory while the change
listener is connected) and, once a burst of writes has settled, computes again the answers
readers asked for since the previous round (the portfolio in each shape and filter, the grant
pages): one thread, one answer at a time, so a burst of a hundred writes costs one
recomputation, not a hundred, and an answer nobody reads is not computed again and again. The
whole portfolio is also computed when the process starts.

The answers go through the same versioned caches as a reader's (:func:`api.services.grants.
cached`): each is kept under the data versions read in its own snapshot, and a reader looks its
answer up under the versions it knows. A reader is therefore never given an answer older than
the data it knows of, warm or not; a reader arriving while the warmer computes its answer waits
for that computation instead of repeating it (:meth:`VersionedCache.flight`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine

from api.services import grants as gs
from geo.errors import NotFound

log = logging.getLogger("irbis.grants.warmer")

#: Every table an answer the warmer keeps depends on.
WATCHED = tuple(sorted(set(gs.PAGE_TABLES) | set(gs.PORTFOLIO_TABLES)))


class Versions(Protocol):
    """What the warmer reads of :class:`api.versions.DataVersions`."""

    @property
    def live(self) -> bool: ...

    def current(self, tables: tuple[str, ...]) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class Recipe:
    """How to compute one answer again: its tables and the call, given their versions."""

    tables: tuple[str, ...]
    compute: Callable[[Mapping[str, int]], Any]


def _reader_and_primary(state: Any) -> tuple[Engine, Engine | None]:
    """The engine answers are read with, and the primary when that is a lagging replica."""
    replica = state.settings.database.reader_is_replica
    return state.reader_engine, state.engine if replica else None


class Warmer:
    """One daemon thread that recomputes the remembered answers after their versions change.

    ``poll_s`` is how often the in-memory versions are compared while the change listener is
    connected (``idle_poll_s`` otherwise: each comparison is then a query); a change is acted
    on once the versions have stayed the same for ``quiet_s`` (a burst of writes coalesces),
    and at the latest ``max_wait_s`` after it was first seen. At most ``keep`` answers are
    remembered, the least recently asked for forgotten first.

    The computation made at start (:meth:`for_app`) waits until ``start_after`` is set (the
    app's first answer, :class:`api.first_answer.FirstAnswer`) or ``start_delay_s`` have
    passed, so that it does not compete with a fresh process's first requests.
    """

    start_after: threading.Event | None = None
    start_delay_s: float = 3.0

    def __init__(
        self,
        versions: Versions,
        *,
        poll_s: float = 0.05,
        idle_poll_s: float = 1.0,
        quiet_s: float = 0.1,
        max_wait_s: float = 2.0,
        keep: int = 24,
    ) -> None:
        self.versions = versions
        self.poll_s, self.idle_poll_s = poll_s, idle_poll_s
        self.quiet_s, self.max_wait_s = quiet_s, max_wait_s
        self.keep = keep
        self._recipes: OrderedDict[Hashable, Recipe] = OrderedDict()
        #: Answers asked for since the last round: only those are computed again (an answer
        #: nobody reads is computed once after a write, not after every write).
        self._wanted: set[Hashable] = set()
        self._prime = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: called as the thread ends (the app closes its pools there once it has stopped, so a
        #: computation that outlived :meth:`stop` leaves no connection open)
        self.on_exit: Callable[[], None] | None = None
        #: Rounds of recomputation made (each after a settled change), answers computed.
        self.rounds = 0
        self.computed = 0

    @classmethod
    def for_app(cls, state: Any) -> Warmer:
        """The warmer of an application (``app.state``: its versions, engines and settings),
        which computes the whole portfolio (JSON and page) once the process has answered its
        first request (``state.first_answer``) or a few seconds after it starts: a reader
        after that finds it warm too."""
        warmer = cls(state.versions)
        warmer.start_after = getattr(state, "first_answer", None)
        reader, primary = _reader_and_primary(state)
        metres = state.settings.grants.threat_distance_m
        for raw in (True, False):
            warmer.remember_portfolio(
                reader, gs.PortfolioFilter(), metres, raw=raw, primary=primary
            )
        warmer._prime = True
        return warmer

    # -- what readers asked for ----------------------------------------------------------------

    def remember(self, key: Hashable, recipe: Recipe) -> None:
        with self._lock:
            self._recipes[key] = recipe
            self._recipes.move_to_end(key)
            self._wanted.add(key)
            while len(self._recipes) > self.keep:
                gone, _ = self._recipes.popitem(last=False)
                self._wanted.discard(gone)

    def remember_portfolio(
        self,
        engine: Engine,
        filters: gs.PortfolioFilter,
        metres: float,
        *,
        raw: bool,
        primary: Engine | None = None,
    ) -> None:
        def compute(known: Mapping[str, int]) -> Any:
            return gs.portfolio_answer(engine, known, filters, metres, raw=raw, primary=primary)

        self.remember(("portfolio", filters, metres, raw), Recipe(gs.PORTFOLIO_TABLES, compute))

    def remember_page(
        self, engine: Engine, code: str, metres: float, *, primary: Engine | None = None
    ) -> None:
        def compute(known: Mapping[str, int]) -> Any:
            return gs.page_answer(engine, known, code, metres, primary=primary)

        self.remember(("page", code, metres), Recipe(gs.PAGE_TABLES, compute))

    def remembered(self) -> list[Hashable]:
        with self._lock:
            return list(self._recipes)

    # -- recomputing ---------------------------------------------------------------------------

    def warm_now(self, *, consume: bool = True) -> int:
        """Compute the answers asked for since the last round at the versions known now (those
        already kept are found in the cache); returns how many were asked for. Without
        ``consume`` (the computation at start) they stay asked for: a reader who came before
        it still has the answer computed again after the next write."""
        with self._lock:
            recipes = [(k, r) for k, r in self._recipes.items() if k in self._wanted]
            if consume:
                self._wanted.clear()
        n = 0
        for key, recipe in recipes:
            if self._stop.is_set():
                break
            try:
                recipe.compute(self.versions.current(recipe.tables))
                n += 1
            except NotFound:  # the grant is gone: forget its page
                with self._lock:
                    self._recipes.pop(key, None)
            except Exception:  # a failure is the next reader's to see; the thread goes on
                log.exception("warming %r failed", key)
        self.rounds += 1
        self.computed += n
        return n

    def _settled(self, seen: Mapping[str, int]) -> Mapping[str, int] | None:
        """The versions once they stop changing (None when asked to stop)."""
        deadline = time.monotonic() + self.max_wait_s
        while time.monotonic() < deadline:
            if self._stop.wait(self.quiet_s):
                return None
            again = self.versions.current(WATCHED)
            if again == seen:
                break
            seen = again
        return seen

    def _first_answered(self) -> bool:
        """Wait until ``start_after`` is set or ``start_delay_s`` have passed (False when asked
        to stop meanwhile)."""
        deadline = time.monotonic() + self.start_delay_s
        while self.start_after is not None and not self.start_after.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self._stop.wait(min(left, 0.05)):
                return False
        return not self._stop.is_set()

    def run(self) -> None:
        """The thread's loop (returns when :meth:`stop` is called)."""
        last: Mapping[str, int] | None = None
        if self._prime:
            if not self._first_answered():
                return
            try:
                # the versions before the computation: a write made while it waited for the
                # first answer, or while it computes, is a change the loop below then sees
                last = self.versions.current(WATCHED)
                self.warm_now(consume=False)
            except Exception:
                log.exception("the grants warmer could not compute the portfolio at start")
        while not self._stop.wait(self.poll_s if self.versions.live else self.idle_poll_s):
            try:
                now = self.versions.current(WATCHED)
                if last is None or now == last:
                    last = now
                    continue
                settled = self._settled(now)
                if settled is None:
                    return
                last = settled
                self.warm_now()
            except Exception:  # the database away a moment: try again at the next round
                log.exception("the grants warmer could not read the data versions")

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run_then_exit, name="irbis-grants-warmer", daemon=True
        )
        self._thread.start()

    def _run_then_exit(self) -> None:
        try:
            self.run()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

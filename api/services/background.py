"""Long runs off the request: recorded first, worked on a background thread, followed by
their record.

A run (a planning grid being built, a prioritisation scenario being solved, an analysis asked
asynchronously) is written to the database before its work starts; a :class:`Runner` does the
work on a background thread of the process that took the request, and a :class:`Heartbeat` writes the time into the record while
the run waits or works. Any process answers its status from the database. A run whose heartbeat
is older than :data:`STALE_AFTER_S` (its process is gone) is marked stopped
(:func:`expire_stale_runs`); a server that stops marks its own runs (:meth:`Runner.shutdown`)
and refuses new ones (:data:`STOPPING`, 503).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from typing import Any, Literal

from psycopg.errors import DeadlockDetected
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from api.db import models as m
from geo.errors import Conflict, Unavailable
from geo.messages import en

log = logging.getLogger("irbis")


#: How often a run from the form says it is alive, and how long after its last word a run
#: left building, waiting or running is taken for stopped with its process (seconds).
HEARTBEAT_S = 15.0
STALE_AFTER_S = 120.0

#: What a page says of a run that its server stopped (a restart, a kill) before it ended.
STOPPED = "the server stopped while this ran; run it again"
#: The same, as an analysis run keeps it (its error, and the message the pages translate).
STOPPED_SAID = en("The server stopped while this ran; run it again.")
#: Why a run is refused while the server stops (503).
STOPPING = en("the server is stopping and takes no new work; send the request again in a moment")

#: Why a run is refused while the process has as many runs at work and waiting as it takes.
BUSY = en(
    "the server has as many runs at work and waiting as it takes; send the request again "
    "in a few minutes"
)

#: Statuses of a scenario still at work (or waiting for the worker).
ACTIVE_SCENARIO = (m.ScenarioStatus.pending.value, m.ScenarioStatus.running.value)

Kind = Literal["grid", "scenario", "analysis"]
KINDS: tuple[Kind, ...] = ("grid", "scenario", "analysis")


class RunStopped(Conflict):
    """The run was marked as stopped (its server went away, or it was taken for gone): its
    work ends without writing over that record."""


def grid_building() -> Any:
    return m.PlanningGrid.inputs["status"].astext == "building"


def analysis_running() -> Any:
    return m.AnalysisRun.status == m.RunStatus.running.value


def _beat(engine: Engine, held: dict[Kind, set[int]]) -> None:
    """Write the time into the heartbeat of the runs ``held`` that are still at work."""
    with engine.begin() as conn:
        if held["grid"]:
            conn.execute(
                update(m.PlanningGrid)
                .where(m.PlanningGrid.id.in_(sorted(held["grid"])), grid_building())
                .values(heartbeat_at=func.now())
            )
        if held["scenario"]:
            conn.execute(
                update(m.PrioritisationScenario)
                .where(
                    m.PrioritisationScenario.id.in_(sorted(held["scenario"])),
                    m.PrioritisationScenario.status.in_(ACTIVE_SCENARIO),
                )
                .values(heartbeat_at=func.now())
            )
        if held["analysis"]:
            conn.execute(
                update(m.AnalysisRun)
                .where(m.AnalysisRun.id.in_(sorted(held["analysis"])), analysis_running())
                .values(heartbeat_at=func.now())
            )


class Heartbeat:
    """A thread that says, every ``interval`` seconds, that the runs it holds are alive."""

    def __init__(self, engine: Engine, interval: float = HEARTBEAT_S) -> None:
        self._engine = engine
        self._interval = interval
        self._held: dict[Kind, set[int]] = {k: set() for k in KINDS}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, kind: Kind, record_id: int) -> None:
        with self._lock:
            self._held[kind].add(record_id)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="irbis-run-heartbeat", daemon=True
                )
                self._thread.start()

    def release(self, kind: Kind, record_id: int) -> None:
        with self._lock:
            self._held[kind].discard(record_id)

    def held(self) -> dict[Kind, set[int]]:
        with self._lock:
            return {k: set(v) for k, v in self._held.items()}

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            held = self.held()
            if not any(held.values()):
                continue
            try:
                _beat(self._engine, held)
            except Exception:  # the database may be away for a moment: beat again later
                log.warning("the heartbeat of background runs failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 5)


@contextmanager
def beating(
    engine: Engine, kind: Kind, record_id: int, *, interval: float = HEARTBEAT_S
) -> Iterator[None]:
    """Keep the heartbeat of one run while the block works on it."""
    heart = Heartbeat(engine, interval)
    heart.hold(kind, record_id)
    try:
        yield
    finally:
        heart.stop()


def mark_stopped(engine: Engine, runs: dict[Kind, set[int]]) -> int:
    """Mark these runs, where still at work, as failed with :data:`STOPPED`; returns how many."""
    return _fail_runs(
        engine,
        grids=runs.get("grid", set()),
        scenarios=runs.get("scenario", set()),
        analyses=runs.get("analysis", set()),
    )


def expire_stale_runs(engine: Engine, *, stale_after_s: float = STALE_AFTER_S) -> int:
    """Mark the runs still at work whose heartbeat is older than ``stale_after_s`` (or that
    never had one) as failed with :data:`STOPPED`: their process is gone. Returns how many."""
    return _fail_runs(engine, stale_after_s=stale_after_s)


def _fail_runs(
    engine: Engine,
    *,
    grids: set[int] | None = None,
    scenarios: set[int] | None = None,
    analyses: set[int] | None = None,
    stale_after_s: float | None = None,
) -> int:
    """Mark runs still at work as failed with :data:`STOPPED`: the given ones, or those whose
    heartbeat is older than ``stale_after_s``."""

    def chosen(conn: Any, model: Any, at_work: Any, ids: set[int] | None) -> list[int]:
        if stale_after_s is None:
            which = model.id.in_(sorted(ids or ()))
        else:
            bound = func.now() - dt.timedelta(seconds=float(stale_after_s))
            which = model.heartbeat_at.is_(None) | (model.heartbeat_at < bound)
        # a row locked by a transaction is being written by a live worker: skipped, not waited for
        rows = select(model.id).where(at_work, which).with_for_update(skip_locked=True)
        return list(conn.execute(rows).scalars())

    def mark(conn: Any, model: Any, ids: list[int], **values: Any) -> int:
        # only when there is a run to mark: an UPDATE fires the table's version trigger even
        # when it changes no row, and would lock the table's version until its transaction
        # ends (a reader of a page that checks for stale runs, at every request)
        if not ids:
            return 0
        return int(conn.execute(update(model).where(model.id.in_(ids)).values(**values)).rowcount)

    error = {"message": STOPPED}
    grid, scenario, run = m.PlanningGrid, m.PrioritisationScenario, m.AnalysisRun
    n = 0
    # committed only when a run was marked: a transaction that changed nothing is rolled
    # back, so it does not make this process read the data versions again
    # (:class:`api.versions.DataVersions` counts commits)
    try:
        with engine.connect() as conn:
            if stale_after_s is not None or grids:
                n += mark(
                    conn,
                    grid,
                    chosen(conn, grid, grid_building(), grids),
                    inputs={"status": "failed", "error": error},
                )
            if stale_after_s is not None or scenarios:
                n += mark(
                    conn,
                    scenario,
                    chosen(conn, scenario, scenario.status.in_(ACTIVE_SCENARIO), scenarios),
                    status=m.ScenarioStatus.failed.value,
                    results=None,
                    error={**error, "details": None},
                    finished_at=func.now(),
                )
            if stale_after_s is not None or analyses:
                n += mark(
                    conn,
                    run,
                    chosen(conn, run, analysis_running(), analyses),
                    status=m.RunStatus.failed.value,
                    error=str(STOPPED_SAID),
                    # said in the reader's language by the pages (api.services.analyses.runs)
                    error_values={"template": STOPPED_SAID.template, "values": {}},
                    finished_at=func.now(),
                )
            if n:
                conn.commit()
    except OperationalError as exc:
        if not isinstance(exc.orig, DeadlockDetected):
            raise
        # another writer of these tables came first; nothing was marked, and the next reader
        # (or the next start) marks these runs
        log.warning("the check for stopped background runs met a deadlock; left for later")
        return 0
    if n:
        log.warning("%d background run(s) marked as stopped", n)
    return n


class Runner:
    """Builds grids, solves scenarios and computes analyses on background threads, so that a
    form or a request is answered at once; the record's status and progress tell the page how
    it goes (any process can read them: they are in the database). While a run waits or works, its
    heartbeat is kept; :meth:`shutdown` waits briefly for the run at work, then marks what is
    left as stopped."""

    def __init__(
        self,
        engine: Engine,
        workers: int = 1,
        *,
        queue: int | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="irbis-run")
        self._heart = Heartbeat(engine, heartbeat_s)
        self._futures: set[Future[object]] = set()
        #: Runs this process holds at most (at work and waiting); None: no bound.
        self.capacity = None if queue is None else workers + queue
        self.closed = False

    @property
    def full(self) -> bool:
        """Whether the runs at work and waiting fill the runner: a new one would be refused
        (:data:`BUSY`; checked before a run is recorded)."""
        if self.capacity is None:
            return False
        return sum(len(ids) for ids in self.held().values()) >= self.capacity

    def submit(self, kind: Kind, record_id: int, fn: Callable[[], object]) -> Future[object]:
        """Run ``fn`` (the work on the run ``kind`` ``record_id``) on the background thread.

        Raises
        ------
        Unavailable
            The runner is shut down (the server is stopping): the run is marked stopped."""
        self._heart.hold(kind, record_id)

        def work() -> object:
            try:
                return fn()
            finally:
                self._heart.release(kind, record_id)

        try:
            future = self._pool.submit(work)
        except RuntimeError:  # shut down since the record was made
            self._heart.release(kind, record_id)
            mark_stopped(self._engine, {kind: {record_id}})
            raise Unavailable(STOPPING) from None
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def held(self) -> dict[Kind, set[int]]:
        """The runs waiting or at work."""
        return self._heart.held()

    def shutdown(self, wait_s: float = 5.0) -> int:
        """Cancel the runs that wait, give the one at work ``wait_s`` seconds to end, and mark
        every run left as stopped; returns how many were marked. From its start, the runner
        is :attr:`closed` to new work."""
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        wait_for(list(self._futures), timeout=wait_s)
        self._heart.stop()
        left = self._heart.held()
        if not any(left.values()):
            return 0
        try:
            return mark_stopped(self._engine, left)
        except SQLAlchemyError:  # their heartbeat stops: expire_stale_runs marks them later
            log.warning("could not mark background runs %s as stopped", left, exc_info=True)
            return 0


def start_runner(engine: Engine) -> Runner:
    """A server's background runner, once the runs that a stopped server left at work are
    marked as such (:func:`expire_stale_runs`; a database not reachable yet is left for the
    pages to check)."""
    try:
        expire_stale_runs(engine)
    except SQLAlchemyError:
        log.warning("could not look for stopped background runs", exc_info=True)
    return Runner(engine)

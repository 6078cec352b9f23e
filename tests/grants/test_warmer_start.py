"""The grants warmer's computation at start waits for the process's first answer (or a few
seconds), so that it does not compete with the first requests of a fresh process
(:class:`api.first_answer.FirstAnswer`, :meth:`api.services.grants_warmer.Warmer.for_app`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from fastapi.testclient import TestClient

from api.app import create_app
from api.services.grants_warmer import WATCHED, Recipe, Warmer


class _Versions:
    live = True

    def current(self, tables: tuple[str, ...]) -> Mapping[str, int]:
        return dict.fromkeys(tables, 1)


def _wait(cond, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _priming_warmer(start_after: threading.Event, delay_s: float) -> tuple[Warmer, list[float]]:
    computed: list[float] = []
    w = Warmer(_Versions(), poll_s=0.01)
    w.remember("portfolio", Recipe(WATCHED, lambda known: computed.append(time.monotonic())))
    w._prime = True
    w.start_after, w.start_delay_s = start_after, delay_s
    return w, computed


def test_the_start_computation_waits_for_the_first_answer() -> None:
    answered = threading.Event()
    w, computed = _priming_warmer(answered, delay_s=60)
    w.start()
    try:
        time.sleep(0.3)
        assert computed == [] and w.rounds == 0  # no answer yet: nothing computed
        answered.set()
        assert _wait(lambda: w.rounds == 1, 10), "not computed after the first answer"
        assert len(computed) == 1
    finally:
        w.stop()


def test_the_start_computation_is_made_after_the_delay_without_a_request() -> None:
    w, computed = _priming_warmer(threading.Event(), delay_s=0.4)
    started = time.monotonic()
    w.start()
    try:
        assert _wait(lambda: w.rounds == 1, 10), "not computed after the delay"
        assert computed[0] - started >= 0.4
    finally:
        w.stop()


def test_a_warmer_stopped_while_it_waits_computes_nothing() -> None:
    w, computed = _priming_warmer(threading.Event(), delay_s=60)
    w.start()
    time.sleep(0.1)
    w.stop(timeout=5)
    assert w._thread is not None and not w._thread.is_alive()
    assert computed == [] and w.rounds == 0


def test_the_app_warms_the_portfolio_after_its_first_answer(settings, demo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A fresh app: a health probe does not count as the first answer, a page does; the
    warmer's start round follows it."""
    monkeypatch.setattr(Warmer, "start_delay_s", 60.0)  # only the answer starts it here
    app = create_app(settings)
    with TestClient(app) as c:
        state = c.app.state
        warmer = state.grants_warmer
        assert warmer.start_after is state.first_answer
        assert c.get("/health").status_code == 200
        time.sleep(0.3)
        assert not state.first_answer.is_set()
        assert warmer.rounds == 0  # still waiting
        assert c.get("/collections", params={"f": "json"}).status_code == 200
        assert state.first_answer.is_set()
        assert _wait(lambda: warmer.rounds >= 1, 30), "no round after the first answer"

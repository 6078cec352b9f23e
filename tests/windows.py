"""Rate-limit windows in tests.

The rate limits (:mod:`api.ratelimit`, the ``limits`` library's sliding window counter) weigh
the previous window's hits by the part of that window still in view, and round the sum down.
Windows start at multiples of their length since the epoch, so a client whose hits straddle an
edge is let through once more than the rate (3 a minute: 3 hits just before the minute turns,
and the fourth just after it counts as 2.9..., rounded down to 2). A test that counts hits up
to a rate and expects the next one refused starts clear of the edge.
"""

from __future__ import annotations

import time

MINUTE = 60.0
HOUR = 3600.0


def clear_of_window_edge(length_s: float = MINUTE, need_s: float = 15.0) -> None:
    """Return at once when at least ``need_s`` seconds are left before the next edge of
    windows of ``length_s`` seconds; otherwise once that edge has passed."""
    left = length_s - time.time() % length_s
    if left < need_s:
        time.sleep(left + 0.05)

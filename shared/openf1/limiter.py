"""A rate limiter for OpenF1's published limits, pure (no I/O): N requests a second AND M a minute.

OpenF1 limits each client without a sponsor token to 3 requests a second and 30 a minute
(settings ``openf1_rate_per_s``, ``openf1_rate_per_min``). One limiter is shared by every caller
in a process (threads, and asyncio tasks through :meth:`SlidingWindowLimiter.acquire_async`), so
ten concurrent callers together stay under the limits, not each of them.

It keeps the grant times of the last ``max(limits)`` requests (a sliding-window log): a request
may start when, for each window ``(limit, period)``, fewer than ``limit`` grants are younger than
``period`` seconds. Unlike a token bucket this never allows a burst across a window boundary, so
no interval of ``period`` seconds, wherever it starts, holds more than ``limit`` grants.
``margin_s`` and ``margin_fraction`` (of each window's period) widen each window a little: the
server counts arrival times, which lag our grant times by a variable amount (thread scheduling,
connection set-up, network jitter); a lag of a second on the first request of a minute must not
let a 41st request into the server's minute. :meth:`pause` holds every caller back (after a 429
with ``Retry-After``).

Times come from ``clock`` (seconds, monotonic) and waits go through ``sleep``; tests inject both.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in any ``period_s`` seconds."""

    limit: int
    period_s: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period_s <= 0:
            raise ValueError(f"invalid rate window {self.limit}/{self.period_s}s")


def windows_for(per_second: float, per_minute: int) -> list[Window]:
    """The windows for "``per_second`` a second and ``per_minute`` a minute".

    A rate under 1/s (0.5/s) becomes 1 request per 2 s; a fractional one above is rounded down.
    """
    first = Window(int(per_second), 1.0) if per_second >= 1 else Window(1, 1.0 / per_second)
    return [first, Window(per_minute, 60.0)]


class SlidingWindowLimiter:
    """Thread-safe limiter over several windows; see the module docstring."""

    def __init__(
        self,
        windows: list[Window],
        *,
        margin_s: float = 0.0,
        margin_fraction: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not windows:
            raise ValueError("a limiter needs at least one window")
        self.windows = sorted(windows, key=lambda w: w.period_s)
        self.margin_s = margin_s
        self.margin_fraction = margin_fraction
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque(maxlen=max(w.limit for w in self.windows))
        self._paused_until = float("-inf")
        self._lock = threading.Lock()
        self.granted = 0
        self.waited_s = 0.0

    def try_acquire(self) -> float:
        """Take a slot now and return 0.0, or take nothing and return the seconds to wait."""
        with self._lock:
            now = self._clock()
            wait = self._paused_until - now
            for window in self.windows:
                if len(self._grants) >= window.limit:
                    # The limit-th most recent grant must have left the window.
                    oldest = self._grants[-window.limit]
                    margin = self.margin_s + window.period_s * self.margin_fraction
                    wait = max(wait, oldest + window.period_s + margin - now)
            if wait > 0:
                return wait
            self._grants.append(now)
            self.granted += 1
            return 0.0

    def acquire(self) -> float:
        """Block until a slot is free and take it; returns the seconds spent waiting."""
        waited = 0.0
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)
            waited += wait
        self._note_wait(waited)
        return waited

    async def acquire_async(self) -> float:
        """:meth:`acquire` for asyncio: waits with ``asyncio.sleep`` instead of blocking."""
        waited = 0.0
        while (wait := self.try_acquire()) > 0:
            await asyncio.sleep(wait)
            waited += wait
        self._note_wait(waited)
        return waited

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` from now (never shortens an existing pause)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _note_wait(self, waited: float) -> None:
        if waited:
            with self._lock:
                self.waited_s += waited

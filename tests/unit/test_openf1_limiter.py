"""The OpenF1 rate limiter (shared.openf1.limiter) on a fake clock, and under real threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from shared.openf1.limiter import SlidingWindowLimiter, Window, windows_for


class FakeClock:
    """A clock that only moves when the limiter sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _max_in_any_window(times: list[float], period: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _limiter(clock: FakeClock, per_s: float = 3, per_min: int = 30) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(windows_for(per_s, per_min), clock=clock, sleep=clock.sleep)


def test_openf1_defaults_three_a_second_thirty_a_minute() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    grants = []
    for _ in range(90):
        limiter.acquire()
        grants.append(clock.now)
    assert _max_in_any_window(grants, 1.0) == 3
    assert _max_in_any_window(grants, 60.0) == 30
    # 90 requests at 30 a minute: the 31st and 61st wait for the minute window.
    assert grants[29] - grants[0] == pytest.approx(9.0)
    assert grants[30] - grants[0] == pytest.approx(60.0)
    assert grants[89] - grants[0] == pytest.approx(129.0)
    assert limiter.granted == 90


def test_first_requests_go_at_once() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire() == pytest.approx(1.0)  # nothing taken
    clock.now += 0.4
    assert limiter.acquire() == pytest.approx(0.6)


def test_margin_widens_each_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter([Window(2, 1.0)], margin_s=0.05, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.acquire()
    assert limiter.acquire() == pytest.approx(1.05)


def test_margin_fraction_scales_with_the_window() -> None:
    clock = FakeClock()
    windows = [Window(2, 1.0), Window(3, 60.0)]
    limiter = SlidingWindowLimiter(windows, margin_fraction=0.03, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.acquire()
    assert limiter.acquire() == pytest.approx(1.03)  # the second's window: 30 ms wider
    assert limiter.acquire() == pytest.approx(61.8 - 1.03)  # the minute's: 1.8 s wider


def test_pause_holds_everyone_back() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.pause(5.0)
    limiter.pause(1.0)  # never shortens
    assert limiter.acquire() == pytest.approx(5.0)


def test_fractional_rate() -> None:
    assert windows_for(0.5, 20) == [Window(1, 2.0), Window(20, 60.0)]
    with pytest.raises(ValueError):
        Window(0, 1.0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter([])


def test_async_acquire_waits_without_blocking() -> None:
    limiter = SlidingWindowLimiter([Window(2, 0.2)])

    async def main() -> list[float]:
        async def one() -> float:
            await limiter.acquire_async()
            return time.monotonic()

        return list(await asyncio.gather(*(one() for _ in range(6))))

    times = asyncio.run(main())
    assert _max_in_any_window(times, 0.2) <= 2
    assert max(times) - min(times) >= 0.4 - 0.01


def test_threads_share_one_limit() -> None:
    """Eight threads hammering one limiter never exceed 5 grants in any 0.2 s (real clock)."""
    # The margin absorbs the gap between a grant and the moment this thread records it.
    limiter = SlidingWindowLimiter([Window(5, 0.2), Window(12, 1.0)], margin_s=0.02)
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            limiter.acquire()
            with lock:
                grants.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(grants) == 24
    assert _max_in_any_window(grants, 0.2) <= 5
    assert _max_in_any_window(grants, 1.0) <= 12
    assert limiter.waited_s > 0

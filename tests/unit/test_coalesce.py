"""The coalescing scheduler: at most one release per key per interval, and the last state wins."""

from __future__ import annotations

import itertools
import random

import pytest

from shared.stores.coalesce import Coalescer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_first_offer_is_due_at_once_then_waits_an_interval(clock: FakeClock) -> None:
    c: Coalescer[str, int] = Coalescer(interval_s=1.0, clock=clock)
    assert c.next_due() is None and c.due() == []
    c.offer("live/state", 1)
    assert c.due() == [("live/state", 1)]
    c.offer("live/state", 2)
    clock.now += 0.5
    assert c.due() == []
    assert c.next_due() == pytest.approx(101.0)
    clock.now += 0.5
    assert c.due() == [("live/state", 2)]
    assert len(c) == 0


def test_a_burst_collapses_into_its_last_value(clock: FakeClock) -> None:
    c: Coalescer[str, int] = Coalescer(interval_s=1.0, clock=clock)
    c.offer("drivers/44", 0)
    c.due()
    for value in range(1, 50):
        clock.now += 0.01
        c.offer("drivers/44", value)
        assert c.due() == []
    clock.now += 1.0
    assert c.due() == [("drivers/44", 49)]
    assert c.due() == []


def test_keys_are_independent(clock: FakeClock) -> None:
    c: Coalescer[str, str] = Coalescer(interval_s=1.0, clock=clock)
    c.offer("a", "a1")
    assert c.due() == [("a", "a1")]
    clock.now += 0.3
    c.offer("a", "a2")
    c.offer("b", "b1")
    assert c.due() == [("b", "b1")]
    clock.now += 0.7
    assert c.due() == [("a", "a2")]


def test_flush_releases_everything_pending(clock: FakeClock) -> None:
    c: Coalescer[str, int] = Coalescer(interval_s=1.0, clock=clock)
    c.offer("a", 1)
    c.due()
    c.offer("a", 2)
    c.offer("b", 3)
    assert c.flush() == [("a", 2), ("b", 3)]
    assert c.flush() == [] and c.next_due() is None


def test_random_bursts_respect_the_rate_and_end_in_the_last_state(clock: FakeClock) -> None:
    """Property: per key, releases are >= interval apart, and draining ends with the last offer."""
    rng = random.Random(7)
    c: Coalescer[str, int] = Coalescer(interval_s=1.0, clock=clock)
    released: dict[str, list[tuple[float, int]]] = {}
    last_offer: dict[str, int] = {}
    for step in range(5000):
        clock.now += rng.expovariate(20.0)  # ~20 offers a second
        key = f"drivers/{rng.randint(1, 5)}"
        c.offer(key, step)
        last_offer[key] = step
        for k, v in c.due():
            released.setdefault(k, []).append((clock.now, v))
    while (at := c.next_due()) is not None:  # drain as the ingest does: wait, never force
        clock.now = max(clock.now, at)
        for k, v in c.due():
            released.setdefault(k, []).append((clock.now, v))
    for key, times in released.items():
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 1.0 - 1e-9
        assert times[-1][1] == last_offer[key]
        assert [v for _, v in times] == sorted(v for _, v in times)


def test_zero_interval_releases_every_offer(clock: FakeClock) -> None:
    c: Coalescer[str, int] = Coalescer(interval_s=0.0, clock=clock)
    c.offer("a", 1)
    assert c.due() == [("a", 1)]
    c.offer("a", 2)
    assert c.due() == [("a", 2)]
    with pytest.raises(ValueError):
        Coalescer(interval_s=-1)


def test_the_interval_runs_from_the_end_of_a_slow_write(clock: FakeClock) -> None:
    c: Coalescer[str, int] = Coalescer(interval_s=1.0, clock=clock)
    c.offer("doc", 1)
    assert c.due() == [("doc", 1)]
    clock.now += 0.4  # the commit took 0.4 s
    c.mark_written("doc", clock())
    c.offer("doc", 2)
    clock.now += 0.7  # 1.1 s after the release, 0.7 s after the write landed
    assert c.due() == []
    clock.now += 0.3
    assert c.due() == [("doc", 2)]

"""Coalescing of document writes: at most one write per document per interval, last state wins.

Pure scheduling, no Firestore: the writer offers "document X changed" as often as the feed says
so (several times a second for a timing row), and asks which documents are due. A document
written less than ``interval_s`` ago waits; the offers in between collapse into one pending entry
holding the latest value, so after a burst the last state is always written, by the first
:meth:`Coalescer.due` call ``interval_s`` after the previous write, or by :meth:`Coalescer.flush`
at the end. The clock is injectable (seconds, monotonic); tests pass a fake one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """Pending values keyed by document path, released at most once per ``interval_s`` per key."""

    def __init__(self, *, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if interval_s < 0:
            raise ValueError("interval_s must be >= 0")
        self.interval_s = interval_s
        self._clock = clock
        self._pending: dict[K, V] = {}
        self._last: dict[K, float] = {}  # key -> clock time of its last release

    def offer(self, key: K, value: V) -> None:
        """Record that ``key`` should become ``value`` (replacing any pending value)."""
        self._pending[key] = value

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> dict[K, V]:
        return dict(self._pending)

    def _ready_at(self, key: K) -> float:
        last = self._last.get(key)
        return float("-inf") if last is None else last + self.interval_s

    def next_due(self) -> float | None:
        """Clock time at which the earliest pending key may be released (None: nothing pending)."""
        if not self._pending:
            return None
        return min(self._ready_at(key) for key in self._pending)

    def due(self) -> list[tuple[K, V]]:
        """Release (and forget) the pending keys whose interval has passed, in offer order."""
        now = self._clock()
        ready = [key for key in self._pending if self._ready_at(key) <= now]
        return [(key, self._release(key, now)) for key in ready]

    def flush(self) -> list[tuple[K, V]]:
        """Release every pending key now, whatever its interval (end of a run)."""
        now = self._clock()
        return [(key, self._release(key, now)) for key in list(self._pending)]

    def mark_written(self, key: K, at: float) -> None:
        """The write of ``key`` completed at clock time ``at``: its interval runs from there.

        A release is only handed to the writer; a slow commit could otherwise land less than
        ``interval_s`` after the one before it, which is what the interval is there to prevent.
        """
        self._last[key] = max(at, self._last.get(key, at))

    def _release(self, key: K, now: float) -> V:
        self._last[key] = now
        return self._pending.pop(key)

"""A small per-instance cache of rendered answers: one computation per key at a time, and stale
answers served while one caller refreshes.

Fifty clients asking for the same live timing tower within a second cost one Firestore read, not
fifty: the first caller computes, the others wait for its result (single flight). An entry is
fresh for the route's ``ttl_s``; for as long again it is *stale*: the first caller to find it so
recomputes it while every other caller gets the stale answer at once, so readers never queue
behind a refresh. ``ttl_s`` is at most half of what the route's ``Cache-Control`` lets clients keep
an answer, so nobody sees an answer older than promised. Errors are not cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    fresh_until: float
    stale_until: float
    value: V


class TtlCache(Generic[V]):
    def __init__(self, *, max_entries: int = 2048, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._max = max_entries
        self._clock = clock
        self.hits = 0
        self.stale_hits = 0
        self.misses = 0

    def _lookup(self, key: str) -> tuple[_Entry[V] | None, threading.Lock]:
        with self._guard:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry, self._locks.setdefault(key, threading.Lock())

    def _store(self, key: str, ttl_s: float, value: V) -> None:
        now = self._clock()
        with self._guard:
            self.misses += 1
            self._entries[key] = _Entry(now + ttl_s, now + 2 * ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                old, _ = self._entries.popitem(last=False)
                self._locks.pop(old, None)

    def get_or_compute(self, key: str, ttl_s: float, compute: Callable[[], V]) -> V:
        if ttl_s <= 0 or self._max == 0:
            return compute()
        entry, lock = self._lookup(key)
        now = self._clock()
        if entry is not None and now < entry.fresh_until:
            self.hits += 1
            return entry.value
        if entry is not None and now < entry.stale_until:
            if not lock.acquire(blocking=False):
                self.stale_hits += 1
                return entry.value  # someone is refreshing it
            try:
                value = compute()
                self._store(key, ttl_s, value)
                return value
            finally:
                lock.release()
        with lock:
            entry, _ = self._lookup(key)  # another caller may have filled it while we waited
            if entry is not None and self._clock() < entry.fresh_until:
                self.hits += 1
                return entry.value
            value = compute()
            self._store(key, ttl_s, value)
            return value

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._locks.clear()

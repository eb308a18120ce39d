"""A small per-instance cache of rendered answers, with one computation per key at a time.

Fifty clients asking for the same live timing tower within a second cost one Firestore read, not
fifty: the first caller computes, the others wait for its result (single flight). An entry lives
for the route's ``server_ttl_s``, never longer than clients may cache the answer themselves, so a
reader sees nothing older than the ``Cache-Control`` it was promised. Errors are not cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, *, max_entries: int = 2048, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._max = max_entries
        self._clock = clock
        self.hits = 0
        self.misses = 0

    def _fresh(self, key: str) -> V | None:
        with self._guard:
            found = self._entries.get(key)
            if found is not None and found[0] > self._clock():
                self._entries.move_to_end(key)
                self.hits += 1
                return found[1]
            return None

    def get_or_compute(self, key: str, ttl_s: float, compute: Callable[[], V]) -> V:
        if ttl_s <= 0:
            return compute()
        value = self._fresh(key)
        if value is not None:
            return value
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            value = self._fresh(key)  # another caller may have filled it while we waited
            if value is not None:
                return value
            value = compute()
            with self._guard:
                self.misses += 1
                self._entries[key] = (self._clock() + ttl_s, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    old, _ = self._entries.popitem(last=False)
                    self._locks.pop(old, None)
            return value

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._locks.clear()

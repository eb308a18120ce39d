"""The OpenF1 client's response cache, pure (no I/O): LRU, conditional validators, TTL, stats.

Each entry holds a response body (bytes, decoded again on every use so callers never share
mutable records) with the validators the server sent (``ETag``, ``Last-Modified``) and a freshness
deadline. Entries of a finished session get ``fresh_until = now + ttl``: their data no longer
changes, so they are served from memory with no request at all (a *hit*). Other entries are only
used to make the request conditional; a ``304 Not Modified`` answer reuses the body (*revalidated*).
A full ``200`` is a *miss*. ``hit_ratio`` is (hits + revalidated) / lookups.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["hit", "revalidated", "miss"]


@dataclass(frozen=True)
class CacheStats:
    """Counts of ``OpenF1Client.get`` calls by how they were answered."""

    hits: int = 0
    revalidated: int = 0
    misses: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.revalidated + self.misses

    @property
    def hit_ratio(self) -> float:
        """Share of calls answered without a full response body (0.0 when nothing was asked)."""
        return (self.hits + self.revalidated) / self.lookups if self.lookups else 0.0


@dataclass
class _Entry:
    body: bytes
    etag: str | None
    last_modified: str | None
    fresh_until: float


class ResponseCache:
    """Thread-safe LRU of at most ``max_entries`` responses (0 disables caching)."""

    def __init__(self, max_entries: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._counts: dict[Outcome, int] = {"hit": 0, "revalidated": 0, "miss": 0}
        self._lock = threading.Lock()

    def fresh(self, key: str) -> bytes | None:
        """The body if it may be used without asking the server (counted as a hit), else ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.fresh_until <= self._clock():
                return None
            self._entries.move_to_end(key)
            self._counts["hit"] += 1
            return entry.body

    def validators(self, key: str) -> dict[str, str]:
        """Conditional request headers for ``key`` (empty when nothing is cached)."""
        with self._lock:
            entry = self._entries.get(key)
        headers: dict[str, str] = {}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        if entry is not None and entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
        return headers

    def revalidated(self, key: str, *, ttl_s: float | None) -> bytes | None:
        """The cached body after a 304 (counted), its freshness renewed; ``None`` if evicted."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if ttl_s:
                entry.fresh_until = self._clock() + ttl_s
            self._entries.move_to_end(key)
            self._counts["revalidated"] += 1
            return entry.body

    def store(
        self, key: str, body: bytes, *, etag: str | None, last_modified: str | None, ttl_s: float | None
    ) -> None:
        """Keep a full response (counted as a miss); kept only if it can serve a later call."""
        with self._lock:
            self._counts["miss"] += 1
            if self.max_entries <= 0 or not (etag or last_modified or ttl_s):
                self._entries.pop(key, None)
                return
            fresh_until = self._clock() + ttl_s if ttl_s else float("-inf")
            self._entries[key] = _Entry(body, etag, last_modified, fresh_until)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                hits=self._counts["hit"], revalidated=self._counts["revalidated"], misses=self._counts["miss"]
            )

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

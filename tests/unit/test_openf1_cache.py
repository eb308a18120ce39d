"""The OpenF1 client's response cache (shared.openf1.cache) on a fake clock."""

from __future__ import annotations

from shared.openf1.cache import CacheStats, ResponseCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ttl_entries_are_hits_until_they_expire() -> None:
    clock = Clock()
    cache = ResponseCache(10, clock=clock)
    assert cache.fresh("a") is None
    cache.store("a", b"[1]", etag=None, last_modified=None, ttl_s=60)
    assert cache.fresh("a") == b"[1]"
    clock.now = 59.9
    assert cache.fresh("a") == b"[1]"
    clock.now = 60.0
    assert cache.fresh("a") is None
    assert cache.stats() == CacheStats(hits=2, revalidated=0, misses=1)
    assert cache.stats().hit_ratio == 2 / 3


def test_validators_and_revalidation() -> None:
    cache = ResponseCache(10, clock=Clock())
    cache.store("a", b"[]", etag='"x"', last_modified="Sun, 22 Sep 2024 12:00:00 GMT", ttl_s=None)
    assert cache.fresh("a") is None  # not final: always ask (conditionally)
    assert cache.validators("a") == {
        "If-None-Match": '"x"',
        "If-Modified-Since": "Sun, 22 Sep 2024 12:00:00 GMT",
    }
    assert cache.revalidated("a", ttl_s=None) == b"[]"
    assert cache.validators("missing") == {}
    assert cache.revalidated("missing", ttl_s=None) is None
    assert cache.stats() == CacheStats(hits=0, revalidated=1, misses=1)


def test_lru_bound_and_useless_entries_not_kept() -> None:
    cache = ResponseCache(2, clock=Clock())
    cache.store("nothing-to-reuse", b"[]", etag=None, last_modified=None, ttl_s=None)
    assert len(cache) == 0
    for key in ("a", "b"):
        cache.store(key, b"[]", etag='"e"', last_modified=None, ttl_s=None)
    cache.validators("a")
    cache.revalidated("a", ttl_s=None)  # a is now the most recently used
    cache.store("c", b"[]", etag='"e"', last_modified=None, ttl_s=None)
    assert cache.validators("b") == {}
    assert cache.validators("a") and cache.validators("c")
    disabled = ResponseCache(0)
    disabled.store("a", b"[]", etag='"e"', last_modified=None, ttl_s=60)
    assert len(disabled) == 0 and disabled.stats().misses == 1
    assert CacheStats().hit_ratio == 0.0

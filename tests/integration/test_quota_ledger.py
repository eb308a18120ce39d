"""The quota ledger (``quota/{host}_{hour}``) against the real Firestore emulator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.imports import quota
from shared.imports.gaps import Host

NOW = datetime(2024, 5, 1, 13, 25, tzinfo=UTC)


def test_limits_come_from_settings(settings: Settings) -> None:
    limits = quota.limits(settings)
    assert limits[Host.JOLPICA] == 200
    assert limits[Host.F1_STATIC] == limits[Host.MULTIVIEWER] == limits[Host.F1SCHEDULE] == 500


def test_reserve_until_the_limit_then_refuse(firestore_db: Any) -> None:
    assert quota.remaining(firestore_db, Host.JOLPICA, limit=10, now=NOW) == 10
    assert quota.reserve(firestore_db, Host.JOLPICA, 6, limit=10, now=NOW)
    assert quota.reserve(firestore_db, Host.JOLPICA, 4, limit=10, now=NOW)
    assert not quota.reserve(firestore_db, Host.JOLPICA, 1, limit=10, now=NOW)
    assert quota.remaining(firestore_db, Host.JOLPICA, limit=10, now=NOW) == 0
    doc = firestore_db.collection("quota").document("jolpica_2024-05-01T13").get().to_dict()
    assert doc["used"] == 10
    assert doc["limit"] == 10
    assert doc["window_start"] == datetime(2024, 5, 1, 13, tzinfo=UTC)
    assert doc["expires_utc"] > doc["window_start"]


def test_a_refused_reservation_reserves_nothing(firestore_db: Any) -> None:
    assert quota.reserve(firestore_db, Host.JOLPICA, 8, limit=10, now=NOW)
    assert not quota.reserve(firestore_db, Host.JOLPICA, 3, limit=10, now=NOW)
    assert quota.remaining(firestore_db, Host.JOLPICA, limit=10, now=NOW) == 2


def test_hosts_and_hours_are_separate_windows(firestore_db: Any) -> None:
    assert quota.reserve(firestore_db, Host.JOLPICA, 10, limit=10, now=NOW)
    assert quota.remaining(firestore_db, Host.F1_STATIC, limit=10, now=NOW) == 10
    next_hour = NOW.replace(minute=0) + timedelta(hours=1)
    assert quota.remaining(firestore_db, Host.JOLPICA, limit=10, now=next_hour) == 10
    assert quota.remaining(firestore_db, Host.JOLPICA, limit=10, now=next_hour - timedelta(seconds=1)) == 0


def test_refund_gives_calls_back_never_below_zero(firestore_db: Any) -> None:
    assert quota.reserve(firestore_db, Host.JOLPICA, 5, limit=10, now=NOW)
    assert quota.refund(firestore_db, Host.JOLPICA, 3, now=NOW) == 2
    assert quota.remaining(firestore_db, Host.JOLPICA, limit=10, now=NOW) == 8
    assert quota.refund(firestore_db, Host.JOLPICA, 50, now=NOW) == 0
    assert quota.refund(firestore_db, Host.F1_STATIC, 1, now=NOW) == 0  # nothing reserved: no-op


def test_reserve_all_is_all_or_nothing(firestore_db: Any) -> None:
    limits = {Host.JOLPICA: 3, Host.F1_STATIC: 100}
    assert quota.reserve_all(firestore_db, {Host.JOLPICA: 2, Host.F1_STATIC: 40}, limits=limits, now=NOW)
    assert not quota.reserve_all(firestore_db, {Host.JOLPICA: 2, Host.F1_STATIC: 1}, limits=limits, now=NOW)
    assert quota.budget(firestore_db, limits=limits, now=NOW) == {Host.JOLPICA: 1, Host.F1_STATIC: 60}


def test_ten_threads_never_overspend(firestore_db: Any) -> None:
    """Ten instances (threads, each its own transaction) race for 50 calls, 3 at a time: the granted
    calls never exceed the limit, and every refusal comes when fewer than 3 calls are left."""
    limit, per_call, attempts_each = 50, 3, 4
    granted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def worker() -> None:
        start.wait()
        for _ in range(attempts_each):
            try:
                ok = quota.reserve(firestore_db, Host.JOLPICA, per_call, limit=limit, now=NOW)
            except Exception as exc:  # contention beyond the retries: counted, must not happen
                with lock:
                    errors.append(exc)
                continue
            if ok:
                with lock:
                    granted.append(per_call)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    # 40 attempts of 3 calls want 120; 16 reservations (48 calls) fit under 50.
    assert sum(granted) == 48
    assert quota.used(firestore_db, Host.JOLPICA, now=NOW) == 48


def test_a_write_from_a_stale_read_is_refused(firestore_db: Any) -> None:
    """The guard that makes racing safe: a commit based on a version another instance has since
    replaced (or on a window another has since created) fails, and the caller reads again."""
    ref = firestore_db.collection("quota").document(quota.doc_id(Host.JOLPICA, NOW))
    absent = ref.get()
    assert quota.reserve(firestore_db, Host.JOLPICA, 1, limit=10, now=NOW)  # another instance
    batch = firestore_db.batch()
    quota._conditional(firestore_db, batch, ref, absent, {"used": 5})
    assert quota._commit(batch) is None
    stale = ref.get()
    assert quota.reserve(firestore_db, Host.JOLPICA, 1, limit=10, now=NOW)
    batch = firestore_db.batch()
    quota._conditional(firestore_db, batch, ref, stale, {"used": 5})
    assert quota._commit(batch) is None
    assert quota.used(firestore_db, Host.JOLPICA, now=NOW) == 2

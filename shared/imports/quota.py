"""The upstream call ledger: ``quota/{host}_{window}``, one document per host and UTC hour.

Every instance reserves calls here before it spends them: it reads the window's ``used`` count and
writes ``used + calls`` (only while that is ``<= limit``) in an atomic commit conditioned on the
document being unchanged since the read (its ``update_time``; create-if-absent for a new window).
Of two instances racing from the same version exactly one commits; the other reads again (jittered
backoff), so together they never reserve more than the limit. This is optimistic concurrency
rather than a read-write transaction on purpose: the Firestore emulator's pessimistic transactions
deadlock when several read-then-write the same document (both abort after its lock timeout,
firebase/firebase-tools#6758, #2452), which stalled ten racing instances for minutes.
Calls reserved but not spent (an import that failed early, a session smaller than estimated) go
back with :func:`refund`.

Windows are fixed UTC hours (``jolpica_2024-05-01T13``): the limits are "N calls an hour", and a
fixed window costs one document per host and hour. Documents carry ``expires_utc`` (a day after the
window) for a Firestore TTL policy. Limits come from settings (:func:`limits`), passed in per call
so a test or an operator can use another.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from shared.config import Settings
from shared.errors import TransientError
from shared.imports.gaps import Host
from shared.logs import metric

if TYPE_CHECKING:
    from google.cloud import firestore

QUOTA = "quota"
WINDOW = timedelta(hours=1)
_KEEP = timedelta(days=1)
# A reservation reads the window and writes it back on condition it is unchanged; a racer that lost
# reads again after a jittered backoff. Ten instances racing for one window settle well within this.
_MAX_ATTEMPTS = 40
_MAX_BACKOFF_S = 0.5
T = TypeVar("T")


def limits(settings: Settings) -> dict[Host, int]:
    """Calls an hour per host: Jolpica's published limit, the default for the others."""
    return {
        host: settings.quota_jolpica_per_hour if host is Host.JOLPICA else settings.quota_default_per_hour
        for host in Host
    }


def window_start(now: datetime) -> datetime:
    """The start of the UTC hour holding ``now`` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def doc_id(host: Host | str, now: datetime) -> str:
    return f"{Host(host).value}_{window_start(now):%Y-%m-%dT%H}"


def _ref(db: firestore.Client, host: Host | str, now: datetime) -> Any:
    return db.collection(QUOTA).document(doc_id(host, now))


def _used(snap: Any) -> int:
    data = snap.to_dict() if snap.exists else None
    used = (data or {}).get("used", 0)
    return used if isinstance(used, int) else 0


def reserve(db: firestore.Client, host: Host | str, calls: int, *, limit: int, now: datetime) -> bool:
    """Reserve ``calls`` of this hour's ``limit`` for ``host``; False (nothing reserved) when they
    do not all fit. Raises if Firestore cannot commit after retries (transient: retry later)."""
    return reserve_all(db, {Host(host): calls}, limits={Host(host): limit}, now=now)


def reserve_all(
    db: firestore.Client, calls: Mapping[Host, int], *, limits: Mapping[Host, int], now: datetime
) -> bool:
    """Reserve every host's ``calls`` atomically (an import plan's ``calls``): all or none."""
    if any(n < 0 for n in calls.values()):
        raise ValueError(f"calls must be >= 0, got {dict(calls)}")
    wanted = {Host(h): n for h, n in calls.items() if n > 0}
    if not wanted:
        return True
    start = window_start(now)
    refs = {h: _ref(db, h, now) for h in sorted(wanted)}

    def attempt() -> bool | None:
        snaps = {h: ref.get() for h, ref in refs.items()}
        used = {h: _used(snap) for h, snap in snaps.items()}
        if any(used[h] + n > limits[h] for h, n in wanted.items()):
            return False
        batch = db.batch()
        for h, ref in refs.items():
            doc = {
                "host": h.value,
                "window_start": start,
                "used": used[h] + wanted[h],
                "limit": limits[h],
                "updated_utc": now,
                "expires_utc": start + WINDOW + _KEEP,
            }
            _conditional(db, batch, ref, snaps[h], doc)
        committed = _commit(batch)
        for h in wanted if committed else ():
            metric("quota_left", limits[h] - used[h] - wanted[h], host=h.value)
        return committed

    return _with_retries(attempt)


def refund(db: firestore.Client, host: Host | str, calls: int, *, now: datetime) -> int:
    """Give back ``calls`` reserved (with the same ``now``'s window) but not spent; returns the
    window's new ``used``. Never below zero; a refund to a window never reserved is a no-op."""
    if calls < 0:
        raise ValueError(f"calls must be >= 0, got {calls}")
    ref = _ref(db, host, now)

    def attempt() -> int | None:
        snap = ref.get()
        if not snap.exists:
            return 0
        left = max(0, _used(snap) - calls)
        batch = db.batch()
        _conditional(db, batch, ref, snap, {"used": left, "updated_utc": datetime.now(UTC)})
        return left if _commit(batch) else None

    return _with_retries(attempt)


def _conditional(db: firestore.Client, batch: Any, ref: Any, snap: Any, doc: dict[str, Any]) -> None:
    """Write ``doc`` only if the document is still the version read (or still absent)."""
    if snap.exists:
        batch.update(ref, doc, option=db.write_option(last_update_time=snap.update_time))
    else:
        batch.create(ref, doc)


def _commit(batch: Any) -> bool | None:
    """Commit; None when another instance wrote first (precondition failed): read again."""
    from google.api_core import exceptions

    try:
        batch.commit()
    except (exceptions.FailedPrecondition, exceptions.Conflict, exceptions.Aborted):
        return None
    return True


def _with_retries(attempt: Callable[[], T | None]) -> T:
    for n in range(_MAX_ATTEMPTS):
        result = attempt()
        if result is not None:
            return result
        time.sleep(random.uniform(0, min(_MAX_BACKOFF_S, 0.01 * 2**n)))  # jitter: racers spread out
    raise TransientError(f"quota ledger still contended after {_MAX_ATTEMPTS} attempts")


def used(db: firestore.Client, host: Host | str, *, now: datetime) -> int:
    """Calls reserved for ``host`` in the hour holding ``now``."""
    return _used(_ref(db, host, now).get())


def remaining(db: firestore.Client, host: Host | str, *, limit: int, now: datetime) -> int:
    """Calls ``host`` has left in the hour holding ``now`` (a snapshot: reserve before spending)."""
    return max(0, limit - used(db, host, now=now))


def budget(
    db: firestore.Client, *, limits: Mapping[Host, int], now: datetime, hosts: Iterable[Host] | None = None
) -> dict[Host, int]:
    """Calls left this hour for each host (every host of ``limits`` by default), for planning."""
    return {h: remaining(db, h, limit=limits[h], now=now) for h in (hosts or limits)}

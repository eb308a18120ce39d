"""Live session state in Firestore, as the reducer reports it (layout: ``shared/timing/models.py``).

* ``sessions/{id}``: :class:`SessionLive` fields, merged (``merge=True``) into the schedule's
  document, so the schedule fields stay;
* ``sessions/{id}/live/state``: the :class:`TimingTower`; ``sessions/{id}/drivers/{n}``: one
  :class:`DriverRow` each. Clients listen to these three kinds, so each document is written at
  most once per ``interval_s`` (1 s): updates in between are coalesced (``shared.stores.coalesce``)
  and the latest state is written when the interval is over, or by :meth:`SessionWriter.drain`.
* ``laps/{driver}_{lap:03d}``, ``race_control/{n:04d}``, ``weather/{n:04d}``: written once, in
  batches of at most :data:`BATCH` writes, at most once per interval or when a batch is full.

Every write is skipped when the stored document already holds the same content (compared with
what this writer wrote, or, for a document it has not written yet, with what a batched read
finds), so replaying a session again writes nothing new. While a replay catches up on messages
the store has already seen (``hold``), nothing is written: listeners do not flicker back through
old states, and a lap the reducer revised later (stint, tyre) is not rewritten with its first
version; what is pending when the hold ends is compared with the store as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from shared.logs import RateMeter
from shared.stores.coalesce import Coalescer
from shared.timing.models import (
    DriverRow,
    Lap,
    RaceControlMessage,
    SessionLive,
    WeatherSample,
)

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.timing.readable import SessionSource
    from shared.timing.reducer import Changes

SESSIONS = "sessions"
BATCH = 400  # Firestore allows 500 writes per batch (and per commit); stay clear of it.
Listened = tuple[str, str]  # ("session", "") | ("tower", "") | ("driver", driver_number)
WRITE_RATE = RateMeter("firestore_writes_per_s", every_s=10.0)  # documents written, per instance


def session_path(session_id: str) -> str:
    return f"{SESSIONS}/{session_id}"


def tower_path(session_id: str) -> str:
    return f"{SESSIONS}/{session_id}/live/state"


def driver_path(session_id: str, driver_number: str) -> str:
    return f"{SESSIONS}/{session_id}/drivers/{driver_number}"


def lap_path(lap: Lap) -> str:
    return f"{SESSIONS}/{lap.session_id}/laps/{lap.doc_id}"


def race_control_path(msg: RaceControlMessage) -> str:
    return f"{SESSIONS}/{msg.session_id}/race_control/{msg.doc_id}"


def weather_path(sample: WeatherSample) -> str:
    return f"{SESSIONS}/{sample.session_id}/weather/{sample.doc_id}"


def to_document(model: BaseModel) -> dict[str, Any]:
    """JSON-safe fields, except top-level UTC instants, which stay Firestore timestamps."""
    data = model.model_dump(mode="json")
    for name in data:
        value = getattr(model, name, None)
        if isinstance(value, datetime):
            data[name] = value
    return data


def fingerprint(model: BaseModel) -> str:
    """The content a document is compared by (canonical JSON of the model)."""
    return model.model_dump_json()


def _stored_fingerprint(path: str, stored: dict[str, Any], model_type: type[BaseModel]) -> str | None:
    if model_type is SessionLive:  # only the live fields of the merged schedule document count
        stored = {k: v for k, v in stored.items() if k in SessionLive.model_fields}
    try:
        return fingerprint(model_type.model_validate(stored))
    except ValidationError:
        return None  # an older shape: rewritten


class SessionWriter:
    """Writes one session's state from a :class:`SessionReducer` into Firestore.

    ``stage(changes)`` after each ``reducer.apply``; ``pump()`` as often as convenient (it writes
    only what is due); ``drain(sleep)`` at the end. ``writes`` counts documents written;
    ``write_log`` holds ``(clock time, path)`` of every listened-document write (rate checks).
    """

    def __init__(
        self,
        *,
        db: firestore.Client,
        reducer: SessionSource,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not reducer.session_id:
            raise ValueError("the reducer has no session id yet")
        self.session_id: str = reducer.session_id
        self.writes = 0
        self.write_log: list[tuple[float, str]] = []
        self.hold = False
        self._db = db
        self._reducer = reducer
        self._clock = clock
        self._interval_s = interval_s
        self._listened: Coalescer[str, Listened] = Coalescer(interval_s=interval_s, clock=clock)
        self._immutable: dict[str, BaseModel] = {}
        self._immutable_flushed_at = float("-inf")
        self._known: dict[str, str | None] = {}  # path -> fingerprint of the stored document

    # --- staging --------------------------------------------------------------------------------

    def stage(self, changes: Changes) -> None:
        """Queue what ``changes`` says changed (nothing is written here)."""
        sid = self.session_id
        for lap in changes.laps:
            self._immutable[lap_path(lap)] = lap
        for msg in changes.race_control:
            self._immutable[race_control_path(msg)] = msg
        for sample in changes.weather:
            self._immutable[weather_path(sample)] = sample
        if changes.session:
            self._listened.offer(session_path(sid), ("session", ""))
        if changes.tower:
            self._listened.offer(tower_path(sid), ("tower", ""))
        for number in sorted(changes.drivers):
            self._listened.offer(driver_path(sid, number), ("driver", number))

    def stage_all(self) -> None:
        """Queue every document of the reducer's current state (a snapshot or a restored run)."""
        from shared.timing.reducer import Changes

        self.stage(
            Changes(
                laps=self._reducer.laps(),
                race_control=self._reducer.race_control(),
                weather=self._reducer.weather(),
                drivers={row.driver_number for row in self._reducer.drivers()},
                tower=True,
                session=True,
            )
        )

    # --- writing --------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """Clock time of the next write :meth:`pump` would make (None: nothing waiting)."""
        if self.hold:
            return None
        times = [t for t in [self._listened.next_due()] if t is not None]
        if self._immutable:
            times.append(self._immutable_flushed_at + self._interval_s)
        return min(times) if times else None

    def pump(self) -> int:
        """Write what is due now; returns the number of documents written."""
        if self.hold:
            return 0
        written = 0
        if self._immutable and (
            len(self._immutable) >= BATCH or self._clock() >= self._immutable_flushed_at + self._interval_s
        ):
            written += self._flush_immutable()
        return written + self._write_listened(self._listened.due())

    def drain(self, sleep: Callable[[float], None] = time.sleep) -> int:
        """Write everything still pending, waiting out each document's interval (never forcing)."""
        self.hold = False
        written = self._flush_immutable()
        while (at := self._listened.next_due()) is not None:
            wait = at - self._clock()
            if wait > 0:
                sleep(wait)
            written += self._write_listened(self._listened.due())
        WRITE_RATE.flush()
        return written

    def stored_watermark(self) -> datetime | None:
        """``updated_utc`` of the stored tower (else session): how far a previous run got."""
        refs = [self._ref(tower_path(self.session_id)), self._ref(session_path(self.session_id))]
        for snap in self._db.get_all(refs):
            value = (snap.to_dict() or {}).get("updated_utc") if snap.exists else None
            if isinstance(value, datetime):
                return value
        return None

    def _ref(self, path: str) -> firestore.DocumentReference:
        return self._db.document(path)

    def _resolve(self, due: list[tuple[str, Listened]]) -> list[tuple[str, BaseModel]]:
        rows: dict[str, DriverRow] | None = None
        out: list[tuple[str, BaseModel]] = []
        for path, (kind, key) in due:
            if kind == "session":
                out.append((path, self._reducer.session()))
            elif kind == "tower":
                out.append((path, self._reducer.tower()))
            else:
                if rows is None:
                    rows = {row.driver_number: row for row in self._reducer.drivers()}
                if key in rows:
                    out.append((path, rows[key]))
        return out

    def _write_listened(self, due: list[tuple[str, Listened]]) -> int:
        if not due:
            return 0
        written = self._commit(self._resolve(due))
        now = self._clock()
        for path in written:
            self._listened.mark_written(path, now)  # the next write waits a full interval after this one
        self.write_log.extend((now, path) for path in written)
        return len(written)

    def flush_immutable(self) -> int:
        """Write every pending lap, race control message and weather sample now (hold or not):
        before a checkpoint, so that what the reducer has emitted is durable."""
        return self._flush_immutable()

    def _flush_immutable(self) -> int:
        items, self._immutable = list(self._immutable.items()), {}
        self._immutable_flushed_at = self._clock()
        return len(self._commit(items))

    def _commit(self, items: Iterable[tuple[str, BaseModel]]) -> list[str]:
        """Write the items whose content differs from the stored one; returns the paths written."""
        todo = [(p, m, fingerprint(m)) for p, m in items]
        todo = [(p, m, f) for p, m, f in todo if self._known.get(p, "?") != f]
        self._read_unknown(todo)
        todo = [(p, m, f) for p, m, f in todo if self._known.get(p) != f]
        written: list[str] = []
        for start in range(0, len(todo), BATCH):
            batch = self._db.batch()
            for path, model, _ in todo[start : start + BATCH]:
                batch.set(self._ref(path), to_document(model), merge=isinstance(model, SessionLive))
            batch.commit()
            for path, _, fp in todo[start : start + BATCH]:
                self._known[path] = fp
                written.append(path)
        self.writes += len(written)
        WRITE_RATE.add(len(written))
        return written

    def _read_unknown(self, todo: list[tuple[str, BaseModel, str]]) -> None:
        unknown = [(p, type(m)) for p, m, _ in todo if p not in self._known]
        for start in range(0, len(unknown), BATCH):
            chunk = dict(unknown[start : start + BATCH])
            for path in chunk:
                self._known[path] = None
            for snap in self._db.get_all([self._ref(p) for p in chunk]):
                if snap.exists:
                    path = snap.reference.path
                    self._known[path] = _stored_fingerprint(path, snap.to_dict() or {}, chunk[path])

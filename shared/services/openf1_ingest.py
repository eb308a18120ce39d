"""OpenF1 into the same documents as the live feed: finished sessions, and live polling.

Both paths fetch ``/v1/<endpoint>`` records (``OpenF1Client``: shared rate limiter, retries,
``Retry-After``), fold them into an :class:`~shared.openf1.state.OpenF1State` and hand its
:class:`Changes` to the live pipeline's :class:`SessionWriter` and :class:`EventPublisher`, so
documents, ids and events are those of ``record_live_timing``; the API cannot tell the sources
apart.

* :func:`ingest_openf1_session`: a finished session, every endpoint once, then every lap final.
  Stored values win (``shared.openf1.merge``): it only fills what the live feed left empty.
* :func:`poll_live`: one bounded run (default 55 s) for a live session, polling every few
  seconds with a per-endpoint watermark (``date>=`` the newest date seen, less ``LOOKBACK``;
  re-fetched records are recognised by identity), under a lease (``shared.stores.openf1_polls``)
  so overlapping runs never poll at once; its checkpoint is committed after every cycle, once
  that cycle's documents and events are durable. OpenF1 values win, stored ones fill its gaps.
* :func:`poll_tick`: what the Scheduler tick does: find the live session (OpenF1's
  ``session_key=latest``), and poll only while ``record_live_timing`` is silent
  (:func:`~shared.openf1.merge.should_poll`).

Laps of the same lap from both sources share one document; a lap the live feed wrote is never
degraded (:func:`~shared.openf1.merge.merge_lap`). Transient failures (OpenF1 after its retries,
Firestore, Pub/Sub) propagate: every write is idempotent, so the retry is running again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from shared.config import Settings
from shared.errors import NotFoundError
from shared.events import TOPIC, EventPublisher
from shared.openf1.merge import merge_lap, should_poll
from shared.openf1.query import Filter, q
from shared.openf1.state import INCREMENTAL, POLL_ORDER, OpenF1State
from shared.services.ingest import IngestSummary
from shared.stores import openf1_polls
from shared.stores.session_store import BATCH, SessionWriter, lap_path, session_path, tower_path
from shared.timing.changes import Changes
from shared.timing.models import Lap, SessionLive, TimingTower

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

    from shared.sources.openf1 import OpenF1Client

log = logging.getLogger(__name__)
LOOKBACK = timedelta(seconds=5)  # records OpenF1 stores a little after their own date
LEASE_MARGIN_S = 30.0
LIVE_CHECKPOINTS = "live_checkpoints"  # record_live_timing's (shared.services.live_recorder)
LIVE_WINDOW = timedelta(minutes=15)  # a session counts as live this long before/after its dates
Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PollResult(BaseModel):
    status: Literal["polled", "busy", "lease_lost", "not_live", "live_feed_active"]
    session_key: int | None = None
    session_id: str | None = None
    cycles: int = 0
    summary: IngestSummary | None = None


def filters_for(endpoint: str, state: OpenF1State) -> list[Filter]:
    """The query of one endpoint's next poll (``session_key`` plus its watermark, if any)."""
    if endpoint == "meetings":
        return [q("meeting_key", "=", state.meeting_key or 0)]
    out = [q("session_key", "=", state.session_key)]
    mark = state.watermark(endpoint)
    if mark is not None:
        out.append(q(INCREMENTAL[endpoint], ">=", mark - LOOKBACK))
    return out


class _Sink:
    """The writer and publisher of one run, made once the session id is known."""

    def __init__(self, *, state: OpenF1State, db: firestore.Client, publisher: PublisherClient | None,
                 settings: Settings, topic: str, prefer_stored: bool) -> None:  # fmt: skip
        self.state, self.db = state, db
        self.publisher = (
            EventPublisher(db=db, publisher=publisher, settings=settings, topic=topic) if publisher else None
        )
        self.prefer_stored = prefer_stored
        self.writer: SessionWriter | None = None
        self.waiting = Changes()
        self.events = 0

    def route(self, changes: Changes) -> None:
        self.events += len(changes.events)
        self.waiting.extend(changes)
        if self.writer is None:
            if not self.state.session_id:
                return
            self._read_base()
            # SessionWriter reads a SessionSource (shared.timing.readable); OpenF1State is one.
            self.writer = SessionWriter(db=self.db, reducer=self.state)
        changes, self.waiting = self.waiting, Changes()
        changes.laps = self._merge_stored(changes.laps)
        self.writer.stage(changes)
        if self.publisher is not None:
            self.publisher.add(changes.events)

    def _read_base(self) -> None:
        sid = self.state.session_id or ""
        refs = [self.db.document(session_path(sid)), self.db.document(tower_path(sid))]
        snaps = {s.reference.path: s for s in self.db.get_all(refs)}
        session = _stored(snaps.get(session_path(sid)), SessionLive)
        tower = _stored(snaps.get(tower_path(sid)), TimingTower)
        self.state.set_base(session=session, tower=tower, prefer_base=self.prefer_stored)

    def _merge_stored(self, laps: list[Lap]) -> list[Lap]:
        """Each lap merged with the stored one of the same id (the live feed's wins)."""
        latest = {lap.doc_id: lap for lap in laps}
        stored: dict[str, Lap | None] = {}
        paths = [lap_path(lap) for lap in latest.values()]
        for start in range(0, len(paths), BATCH):
            for snap in self.db.get_all([self.db.document(p) for p in paths[start : start + BATCH]]):
                stored[snap.reference.path] = _stored(snap, Lap)
        return [merge_lap(lap, stored.get(lap_path(lap))) for lap in latest.values()]

    def durable(self, sleep: Callable[[float], None]) -> None:
        if self.writer is not None:
            self.writer.drain(sleep)
        if self.publisher is not None:
            self.publisher.flush()

    def summary(self, seconds: float) -> IngestSummary:
        s, pub, writer = self.state, self.publisher, self.writer
        writes = (writer.writes if writer else 0) + (pub.ledger_writes if pub else 0)
        return IngestSummary(
            session_id=s.session_id, messages=s.records, skipped=sum(s.skipped.values()), laps=len(s.laps()),
            drivers=len(s.drivers()), race_control=len(s.race_control()), weather=len(s.weather()),
            events=self.events, events_published=pub.published if pub else 0,
            events_duplicate=pub.duplicates if pub else 0, firestore_writes=writes, seconds=round(seconds, 3),
        )  # fmt: skip


def _stored(snap: Any, model: type[Any]) -> Any:
    if snap is None or not snap.exists:
        return None
    data = {k: v for k, v in (snap.to_dict() or {}).items() if k in model.model_fields}
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _fetch(client: OpenF1Client, endpoint: str, state: OpenF1State) -> list[dict[str, Any]]:
    """One endpoint's records. An endpoint the server does not serve at all (404 other than
    OpenF1's "No results found", as a stand-in without that recording answers) is a gap in the
    data, not a failure: logged, and the session is built from the other endpoints."""
    try:
        return client.get(endpoint, *filters_for(endpoint, state))
    except NotFoundError as exc:
        if endpoint in ("sessions", "meetings"):
            raise
        log.warning("openf1 %s: not served (%s); left out", endpoint, exc)
        return []


def ingest_openf1_session(
    session_key: int,
    *,
    client: OpenF1Client,
    db: firestore.Client,
    publisher: PublisherClient | None,
    settings: Settings,
    events_topic: str = TOPIC,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestSummary:
    """Import a finished session (``NotFoundError`` when OpenF1 has no such session)."""
    started = clock()
    state = OpenF1State(session_key=session_key)
    sink = _Sink(state=state, db=db, publisher=publisher, settings=settings, topic=events_topic,
                 prefer_stored=True)  # fmt: skip
    for endpoint in POLL_ORDER:
        sink.route(state.apply_records(endpoint, _fetch(client, endpoint, state)))
        if endpoint == "meetings" and not state.session_id:
            raise NotFoundError(f"OpenF1 has no session {session_key} (or no meeting for it)")
    sink.route(state.finish())
    sink.durable(sleep)
    summary = sink.summary(clock() - started)
    log.info("openf1 ingest done", extra={"json_fields": summary.model_dump()})
    return summary


def poll_live(
    session_key: int,
    *,
    client: OpenF1Client,
    db: firestore.Client,
    publisher: PublisherClient | None,
    settings: Settings,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Now = _utcnow,
    budget_s: float = 55.0,
    every_s: float = 5.0,
    lease_wait_s: float = 10.0,
    keep_polling: Callable[[], bool] | None = None,
    events_topic: str = TOPIC,
    owner: str | None = None,
) -> PollResult:
    """One bounded polling run (see the module docstring). ``keep_polling`` is asked before each
    cycle after the first (False: the live feed is back; stop). Waits up to ``lease_wait_s`` for
    a previous run to release the lease, else answers ``busy``."""
    owner = owner or uuid.uuid4().hex
    started = clock()
    ttl = budget_s + LEASE_MARGIN_S
    while not openf1_polls.acquire_lease(db, session_key, owner=owner, now=now(), ttl_s=ttl):
        if clock() - started >= lease_wait_s:
            return PollResult(status="busy", session_key=session_key)
        sleep(1.0)
    deadline = clock() + budget_s  # the budget is for polling; the lease wait comes on top
    try:
        cp = openf1_polls.load_checkpoint(db, session_key)
        saved = cp.unpack() if cp is not None else None
        state = OpenF1State.restore(saved) if saved else OpenF1State(session_key=session_key)
        runs = cp.runs + 1 if cp is not None else 1
        sink = _Sink(state=state, db=db, publisher=publisher, settings=settings, topic=events_topic,
                     prefer_stored=False)  # fmt: skip
        cycles = 0
        status: Literal["polled", "lease_lost"] = "polled"
        while clock() < deadline and (cycles == 0 or keep_polling is None or keep_polling()):
            cycle_start = clock()
            for endpoint in POLL_ORDER:
                if endpoint in ("sessions", "meetings") and state.session_id:
                    continue  # known (restored); drivers are asked again each run
                if endpoint == "drivers" and cycles > 0:
                    continue
                if clock() >= deadline:
                    break
                sink.route(state.apply_records(endpoint, _fetch(client, endpoint, state)))
            cycles += 1
            sink.durable(sleep)
            cp = openf1_polls.PollCheckpoint(
                session_key=session_key, session_id=state.session_id, runs=runs, updated_utc=now(),
                watermarks={e: m for e in INCREMENTAL if (m := state.watermark(e)) is not None},
                state=openf1_polls.PollCheckpoint.pack(state.checkpoint()),
            )  # fmt: skip
            if not openf1_polls.commit_checkpoint(db, cp, owner=owner, now=now(), ttl_s=ttl):
                status = "lease_lost"
                break
            wait = cycle_start + every_s - clock()
            if wait > 0 and clock() + wait < deadline:
                sleep(wait)
            elif wait > 0:
                break
        return PollResult(status=status, session_key=session_key, session_id=state.session_id,
                          cycles=cycles, summary=sink.summary(clock() - started))  # fmt: skip
    finally:
        openf1_polls.release_lease(db, session_key, owner=owner, now=now())


def last_live_write(db: firestore.Client, session_id: str) -> datetime | None:
    """When ``record_live_timing`` last checkpointed this session (wall clock, UTC)."""
    snap = db.collection(LIVE_CHECKPOINTS).document(session_id).get()
    value = (snap.to_dict() or {}).get("updated_utc") if snap.exists else None
    return value if isinstance(value, datetime) else None


def live_session(client: OpenF1Client, now: datetime) -> dict[str, Any] | None:
    """OpenF1's latest session if it is under way at ``now`` (within ``LIVE_WINDOW`` of its dates)."""
    from shared.openf1.models import Session

    for rec in client.get("sessions", q("session_key", "=", "latest")):
        try:
            s = Session.model_validate(rec)
        except ValidationError:
            continue
        if s.date_start and s.date_end and s.date_start - LIVE_WINDOW <= now <= s.date_end + LIVE_WINDOW:
            return rec
    return None


def poll_tick(
    *, client: OpenF1Client, db: firestore.Client, publisher: PublisherClient | None, settings: Settings,
    now: Now = _utcnow, **poll: Any,
) -> PollResult:  # fmt: skip
    """The ``openf1-tick`` job: poll the live session while the live-timing recorder is silent."""
    rec = live_session(client, now())
    if rec is None:
        return PollResult(status="not_live")
    key = int(rec["session_key"])
    probe = OpenF1State(session_key=key)
    probe.apply_records("sessions", [rec])
    probe.apply_records("meetings", client.get("meetings", *filters_for("meetings", probe)))
    sid = probe.session_id

    def quiet() -> bool:
        return sid is None or should_poll(now(), last_live_write(db, sid), True)

    if not quiet():
        return PollResult(status="live_feed_active", session_key=key, session_id=sid)
    return poll_live(key, client=client, db=db, publisher=publisher, settings=settings, now=now,
                     keep_polling=quiet, **poll)  # fmt: skip

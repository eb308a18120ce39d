"""Record a session's live timing in bounded runs that checkpoint and hand over to the next.

``record_live_timing`` runs inside a Cloud Function with a time limit, while a session lasts
hours. Each run reads the feed for at most ``run_seconds``, checkpoints the reducer in Firestore
(``live_checkpoints/{key}``, zlib-compressed JSON) every ``checkpoint_every_s`` seconds, and
enqueues the next run (Cloud Tasks, deterministic task name) until the feed ends.

Sources: ``"live"`` is the SignalR feed at ``PITLANE_F1_LIVE_URL``; a run that resumes it drops
messages not newer than the checkpoint (what the feed sent while no run was connected is lost
to it; the archive import fills such gaps later). Any other source (a recording or archive,
see :func:`shared.services.ingest.messages_from_source`) is replayable: a resumed run skips the
messages the checkpoint already holds, so a run killed at any point and resumed leaves exactly
the content an uninterrupted run leaves (writes are idempotent, events go through the ledger).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from shared.config import Settings
from shared.errors import TransientError
from shared.feed import FeedMessage
from shared.logs import metric
from shared.services.ingest import IngestSummary, ingest, messages_from_source
from shared.sources.livefeed import LiveFeed, open_live_feed
from shared.timing.reducer import SessionReducer

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
CHECKPOINTS = "live_checkpoints"
LIVE = "live"
# SessionStatus values after which a session produces nothing more worth recording.
SESSION_OVER = frozenset({"Finalised", "Ends"})
RECONNECT_WAIT_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


class RecordRequest(BaseModel):
    """The body of a ``record_live_timing`` call (from Cloud Tasks or by hand)."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(default=LIVE, min_length=1, max_length=500)
    session_id: str | None = Field(default=None, max_length=128)
    run_seconds: float = Field(default=480.0, gt=0, le=3300, description="wall seconds this run may read")
    checkpoint_every_s: float = Field(default=5.0, gt=0, le=600)
    speed: float | None = Field(
        default=None, ge=0, description="replayable sources: feed seconds per wall second"
    )
    generation: int = Field(default=0, ge=0, le=10_000)

    @property
    def key(self) -> str:
        """Checkpoint id: the session id when known, else a digest of the source."""
        if self.session_id:
            return self.session_id
        return "src-" + hashlib.sha1(self.source.encode()).hexdigest()[:16]


class RecordResult(BaseModel):
    status: Literal["finished", "continuing", "already_finished"]
    key: str
    generation: int
    position: int
    summary: IngestSummary | None = None


class _Checkpoint(BaseModel):
    key: str
    source: str
    generation: int
    position: int = Field(description="messages of the source already applied")
    last_utc: datetime | None = None
    done: bool = False
    state: bytes | None = None
    updated_utc: datetime


def _load(db: firestore.Client, key: str) -> _Checkpoint | None:
    snap = db.collection(CHECKPOINTS).document(key).get()
    return _Checkpoint.model_validate(snap.to_dict()) if snap.exists else None


def _save(db: firestore.Client, cp: _Checkpoint) -> None:
    db.collection(CHECKPOINTS).document(cp.key).set(cp.model_dump())


def _pack(reducer: SessionReducer) -> bytes:
    return zlib.compress(json.dumps(reducer.checkpoint(), separators=(",", ":")).encode(), 6)


def _unpack(blob: bytes) -> SessionReducer:
    return SessionReducer.restore(json.loads(zlib.decompress(blob)))


class _Meter:
    """Wraps the source: counts the position and stops at the deadline; ``save`` checkpoints."""

    def __init__(self, *, messages: Iterator[FeedMessage], cp: _Checkpoint, reducer: SessionReducer,
                 db: firestore.Client, req: RecordRequest, clock: Callable[[], float]) -> None:  # fmt: skip
        self.messages, self.cp, self.reducer, self.db, self.req = messages, cp, reducer, db, req
        self.clock = clock
        self.deadline = clock() + req.run_seconds
        self.exhausted = False

    def __iter__(self) -> Iterator[FeedMessage]:
        for msg in self.messages:
            if self.req.source == LIVE and self.reducer.session().status in SESSION_OVER:
                break  # the live feed stays open after a session; its status says when it is over
            if self.clock() >= self.deadline:
                return
            self.cp.position += 1
            self.cp.last_utc = msg.utc
            yield msg
        self.exhausted = True

    def save(self, *, done: bool = False) -> None:
        """Checkpoint: called by ``ingest`` between messages, once their output is durable."""
        self.cp.state = _pack(self.reducer)
        self.cp.done = done
        self.cp.updated_utc = datetime.now(UTC)
        _save(self.db, self.cp)
        if self.cp.last_utc is not None:  # how far behind the feed this run is (alerted on when live)
            metric("ingest_lag_s", (self.cp.updated_utc - self.cp.last_utc).total_seconds(),
                   feed="live" if self.req.source == LIVE else "replay")  # fmt: skip


def record(
    req: RecordRequest,
    *,
    db: firestore.Client,
    publisher: PublisherClient,
    settings: Settings,
    http: httpx.Client,
    enqueue: Callable[[RecordRequest], None],
    clock: Callable[[], float] = time.monotonic,
) -> RecordResult:
    """One bounded run; ``enqueue`` schedules the next when the feed has not ended."""
    cp = _load(db, req.key)
    if cp is not None and cp.done:
        return RecordResult(
            status="already_finished", key=req.key, generation=cp.generation, position=cp.position
        )
    reducer = _unpack(cp.state) if cp is not None and cp.state else SessionReducer(session_id=req.session_id)
    if cp is None:
        cp = _Checkpoint(key=req.key, source=req.source, generation=req.generation, position=0,
                         updated_utc=datetime.now(UTC))  # fmt: skip
    cp.generation = req.generation
    messages, snapshot = _open(req, cp, settings=settings, http=http, deadline=clock() + req.run_seconds,
                               clock=clock)  # fmt: skip
    meter = _Meter(messages=messages, cp=cp, reducer=reducer, db=db, req=req, clock=clock)
    summary = ingest(meter, reducer=reducer, db=db, publisher=publisher, settings=settings,
                     snapshot=snapshot, speed=req.speed if req.source != LIVE else None,
                     finish=lambda: meter.exhausted, checkpoint=meter.save,
                     checkpoint_every_s=req.checkpoint_every_s, restored=cp.position > 0)  # fmt: skip
    meter.save(done=meter.exhausted)
    if not meter.exhausted:
        # Same request, next generation: the checkpoint key (session id or source digest) stays.
        enqueue(req.model_copy(update={"generation": req.generation + 1}))
    return RecordResult(
        status="finished" if meter.exhausted else "continuing",
        key=req.key,
        generation=req.generation,
        position=cp.position,
        summary=summary,
    )


def _open(
    req: RecordRequest,
    cp: _Checkpoint,
    *,
    settings: Settings,
    http: httpx.Client,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Iterator[FeedMessage], dict[str, Any] | None]:
    resumed = cp.position > 0
    if req.source == LIVE:
        connect = _Connector(settings=settings, http=http, deadline=deadline, clock=clock, sleep=sleep)
        feed = connect()
        return _live(feed, cp, connect), (None if resumed else feed.snapshot)
    source = messages_from_source(req.source, settings=settings, http=http)
    it = iter(source.messages)
    for _ in range(cp.position):
        if next(it, None) is None:
            break
    return it, (None if resumed else source.snapshot)


class _Connector:
    """Opens the live feed, retrying with backoff (0.5 s doubling to 15 s) until the deadline."""

    def __init__(self, *, settings: Settings, http: httpx.Client, deadline: float,
                 clock: Callable[[], float], sleep: Callable[[float], None]) -> None:  # fmt: skip
        self.settings, self.http, self.deadline, self.clock, self.sleep = (
            settings,
            http,
            deadline,
            clock,
            sleep,
        )
        self.attempt = 0

    def __call__(self) -> LiveFeed:
        while True:
            try:
                feed = open_live_feed(self.settings.f1_live_url, http=self.http)
            except TransientError as exc:
                self.backoff(exc)
                continue
            return feed

    def backoff(self, exc: Exception) -> None:
        wait = RECONNECT_WAIT_S[min(self.attempt, len(RECONNECT_WAIT_S) - 1)]
        if self.clock() + wait >= self.deadline:
            raise TransientError(f"live feed unavailable until the end of this run: {exc}") from exc
        log.warning("live feed: %s; retrying in %.1f s", exc, wait)
        self.sleep(wait)
        self.attempt += 1


def _live(feed: LiveFeed, cp: _Checkpoint, connect: _Connector) -> Iterator[FeedMessage]:
    """The live feed's messages, reconnecting when the connection drops.

    After a (re)connection, messages not newer than the last one already applied are dropped:
    the hub may resend them. Within one connection every message passes, since the feed's
    publishers step back in time by a few seconds now and then. Messages sent while no
    connection was open are lost to the feed; the archive import fills such gaps.
    """
    while True:
        after = cp.last_utc  # the boundary of this connection
        try:
            for msg in feed.messages():
                connect.attempt = 0
                if after is None or msg.utc > after:
                    after = None  # past the boundary: the rest of this connection is new
                    yield msg
            return  # the server closed the stream cleanly: the feed is over
        except TransientError as exc:
            connect.backoff(exc)
            feed = connect()

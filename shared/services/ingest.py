"""Ingest: feed messages through the reducer into Firestore and onto ``race-events``.

The one production path for live sessions and replays alike: every message goes through
:class:`~shared.timing.reducer.SessionReducer`; what it reports changed is handed to the
:class:`~shared.stores.session_store.SessionWriter` (listened documents at most once a second,
laps/race control/weather once, unchanged documents never) and its race events to the
:class:`~shared.events.EventPublisher` (ledger: each event id at most once, across runs).

A replay of a session already stored first catches up: messages up to the stored tower's
``updated_utc`` (the watermark) update the reducer but no listened document, so a second replay
of the same data writes nothing and publishes nothing.

Sources (:func:`messages_from_source`): an archive session folder, an archive URL (absolute, or a
``/static/...`` path under ``PITLANE_F1_STATIC_URL``), a recording file in any format, or a
capture folder holding ``live.jsonl`` (+ ``subscribe.json``, the snapshot).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel

from shared.config import Settings
from shared.errors import BadRequestError, NotFoundError
from shared.events import TOPIC, EventPublisher
from shared.feed import (
    FeedMessage,
    ParseStats,
    archive_messages,
    estimate_start_utc,
    load_snapshot,
    read_archive_dir,
    read_recording,
)
from shared.feed.archive import STREAM_SUFFIX
from shared.sources import http as http_source
from shared.stores.session_store import SessionWriter
from shared.timing.reducer import Changes, SessionReducer

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
# Topics an archive session may hold (the live feed's topics; telemetry left out).
ARCHIVE_TOPICS = (
    "SessionInfo", "SessionStatus", "TrackStatus", "LapCount", "DriverList", "TimingData",
    "TimingAppData", "TimingStats", "RaceControlMessages", "WeatherData", "ExtrapolatedClock",
    "TopThree", "SessionData", "TyreStintSeries", "PitLaneTimeCollection", "TeamRadio", "Heartbeat",
)  # fmt: skip
EVENT_BATCH = 100
PROGRESS_EVERY_S = 2.0


class IngestSummary(BaseModel):
    """What one ingest did. ``laps``/``drivers``/``race_control``/``weather``: the reducer's final
    counts; ``skipped``: bad input lines plus messages the reducer could not use;
    ``firestore_writes``: documents written, event ledger included."""

    session_id: str | None
    messages: int = 0
    skipped: int = 0
    laps: int = 0
    drivers: int = 0
    race_control: int = 0
    weather: int = 0
    events: int = 0
    events_published: int = 0
    events_duplicate: int = 0
    firestore_writes: int = 0
    seconds: float = 0.0


@dataclass
class FeedSource:
    """Messages of one source, with its parse counts (filled while iterating) and snapshot."""

    messages: Iterator[FeedMessage]
    stats: ParseStats = field(default_factory=ParseStats)
    snapshot: dict[str, Any] | None = None
    description: str = ""


def messages_from_source(
    source: str, *, settings: Settings, http: httpx.Client | None = None, snapshot: Path | None = None
) -> FeedSource:
    """Open ``source`` (see module docstring); ``snapshot`` is a ``subscribe.json`` to start from."""
    stats = ParseStats()
    snap = load_snapshot(snapshot.read_text(encoding="utf-8")) if snapshot is not None else None
    if source.startswith(("http://", "https://", "/static/")):
        if http is None:
            raise BadRequestError("an archive URL needs an HTTP client")
        url = source if source.startswith("http") else settings.f1_static_url.rstrip("/") + source
        texts = _fetch_archive(url.rstrip("/"), http=http)
        return _archive(texts, url, stats, snap)
    path = Path(source)
    if path.is_dir():
        if any(path.glob(f"*{STREAM_SUFFIX}")):
            return _archive(read_archive_dir(path), str(path), stats, snap)
        if (path / "live.jsonl").is_file():
            if snap is None and (path / "subscribe.json").is_file():
                snap = load_snapshot((path / "subscribe.json").read_text(encoding="utf-8"))
            path = path / "live.jsonl"
        else:
            raise BadRequestError(f"{source}: neither an archive session (*.jsonStream) nor a capture")
    if not path.is_file():
        raise NotFoundError(f"no such source: {source}")
    return FeedSource(_lines(path, stats), stats, snap, f"recording {path}")


def _lines(path: Path, stats: ParseStats) -> Iterator[FeedMessage]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        yield from read_recording(lines, stats)


def _archive(texts: dict[str, str], where: str, stats: ParseStats, snap: dict[str, Any] | None) -> FeedSource:
    if not texts:
        raise NotFoundError(f"{where}: no topic streams")
    anchor = estimate_start_utc(texts, session_path=where)
    log.info(
        "archive anchored", extra={"json_fields": {"start_utc": str(anchor.utc), "method": anchor.method}}
    )
    messages = archive_messages(texts, start_utc=anchor.utc, stats=stats)
    return FeedSource(messages, stats, snap, f"archive {where} ({len(texts)} topics)")


def _fetch_archive(url: str, *, http: httpx.Client) -> dict[str, str]:
    texts: dict[str, str] = {}
    for topic in ARCHIVE_TOPICS:
        try:
            resp = http_source.get(http, f"{url}/{topic}{STREAM_SUFFIX}")
        except NotFoundError:
            continue  # not every session has every topic
        texts[topic] = resp.content.decode("utf-8-sig", errors="replace")
    return dict(sorted(texts.items()))  # the order read_archive_dir gives: same-offset ties alike


def ingest(
    messages: Iterable[FeedMessage],
    *,
    reducer: SessionReducer,
    db: firestore.Client | None,
    publisher: PublisherClient | None,
    settings: Settings,
    snapshot: dict[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    speed: float | None = None,
    stats: ParseStats | None = None,
    interval_s: float = 1.0,
    progress: Callable[[IngestSummary], None] | None = None,
    events_topic: str = TOPIC,
    finish: bool | Callable[[], bool] = True,
    checkpoint: Callable[[], None] | None = None,
    checkpoint_every_s: float = 5.0,
    restored: bool = False,
) -> IngestSummary:
    """Run ``messages`` through ``reducer`` into Firestore (``db``) and Pub/Sub (``publisher``).

    ``db=None`` (with ``publisher=None``) runs the reducer only. ``speed``: feed seconds per wall
    second (10 = ten times real time); None or 0 means as fast as possible. ``stats`` are the
    source's parse counts (bad lines count as ``skipped``); ``events_topic`` the topic's name.
    ``finish`` (or, if callable, its answer once the messages run out) False: the stream is only
    paused (a bounded run that resumes from a checkpoint), so what the reducer holds back for the
    end of the session stays held. ``checkpoint`` is called every ``checkpoint_every_s`` between
    two messages, after everything the reducer emitted so far (laps, race control, weather,
    events) is durable, so a reducer checkpoint taken there loses nothing if the run dies.
    ``restored``: the reducer comes from such a checkpoint; every document of its state is then
    compared with the store once, since the run that died may not have written its last updates
    of a listened document (those wait up to a second).
    Transient Firestore or Pub/Sub failures propagate; the run is idempotent, so running it again
    is the retry.
    """
    run = _Run(reducer=reducer, db=db, settings=settings, clock=clock, sleep=sleep)
    run.restored = restored
    if db is not None and publisher is not None:
        run.publisher = EventPublisher(db=db, publisher=publisher, settings=settings, topic=events_topic)
    run.interval_s = interval_s
    started = clock()
    it = iter(messages)
    first = next(it, None)
    if snapshot:
        utc = first.utc if first is not None else datetime.now(UTC)
        run.route(reducer.apply_snapshot(snapshot, utc=utc))
    feed_t0: datetime | None = None
    last_progress = started
    next_checkpoint = started + checkpoint_every_s
    for msg in itertools.chain([first] if first is not None else [], it):
        if speed:
            feed_t0 = feed_t0 or msg.utc
            run.wait_until(started + (msg.utc - feed_t0).total_seconds() / speed)
        run.messages += 1
        run.route(reducer.apply(msg), msg.utc)
        run.pump()
        if checkpoint is not None and clock() >= next_checkpoint:
            run.make_durable()
            checkpoint()
            next_checkpoint = clock() + checkpoint_every_s
        if progress is not None and clock() - last_progress >= PROGRESS_EVERY_S:
            last_progress = clock()
            progress(run.summary(stats, clock() - started))
    if finish() if callable(finish) else finish:
        run.route(reducer.finish())
    run.drain()
    summary = run.summary(stats, clock() - started)
    log.info("ingest done", extra={"json_fields": summary.model_dump()})
    return summary


class _Run:
    """The state of one :func:`ingest` call: writer and publisher made once the session id is known."""

    def __init__(
        self,
        *,
        reducer: SessionReducer,
        db: firestore.Client | None,
        settings: Settings,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.reducer, self.db, self.settings, self.clock, self.sleep = reducer, db, settings, clock, sleep
        self.interval_s = 1.0
        self.messages = 0
        self.events = 0
        self.writer: SessionWriter | None = None
        self.publisher: EventPublisher | None = None
        self.waiting = Changes()  # what changed before the session id was known
        self.watermark: datetime | None = None
        self.events_flushed_at = float("-inf")
        self.restored = False

    def route(self, changes: Changes, utc: datetime | None = None) -> None:
        self.events += len(changes.events)
        if self.writer is None:
            self.waiting.extend(changes)
            if self.db is None or not self.reducer.session_id:
                return
            self.writer = SessionWriter(
                db=self.db, reducer=self.reducer, interval_s=self.interval_s, clock=self.clock
            )
            self.watermark = self.writer.stored_watermark()
            if self.restored:
                self.writer.stage_all()
            changes, self.waiting = self.waiting, Changes()
        self.writer.hold = self.watermark is not None and utc is not None and utc <= self.watermark
        self.writer.stage(changes)
        if self.publisher is not None:
            self.publisher.add(changes.events)

    def pump(self) -> None:
        if self.writer is not None:
            self.writer.pump()
        if self.publisher is not None and (
            self.publisher.pending >= EVENT_BATCH or self.clock() >= self.events_flushed_at + self.interval_s
        ):
            self.events_flushed_at = self.clock()
            self.publisher.flush()

    def wait_until(self, target: float) -> None:
        """Sleep until clock time ``target``, writing whatever falls due meanwhile."""
        while (now := self.clock()) < target:
            due = self.writer.next_due() if self.writer is not None else None
            wake = target if due is None else min(target, max(due, now + 0.001))
            self.sleep(wake - now)
            self.pump()

    def make_durable(self) -> None:
        """Write and publish everything already emitted (listened documents may still wait)."""
        if self.writer is not None:
            self.writer.flush_immutable()
        if self.publisher is not None:
            self.publisher.flush()

    def drain(self) -> None:
        if self.writer is not None:
            self.writer.drain(self.sleep)
        if self.publisher is not None:
            self.publisher.flush()

    def summary(self, stats: ParseStats | None, seconds: float) -> IngestSummary:
        r = self.reducer
        pub, writer = self.publisher, self.writer
        writes = (writer.writes if writer is not None else 0) + (pub.ledger_writes if pub is not None else 0)
        return IngestSummary(
            session_id=r.session_id,
            messages=self.messages,
            skipped=(stats.skipped_total if stats else 0) + sum(r.stats.skipped.values()),
            laps=len(r.laps()),
            drivers=len(r.drivers()),
            race_control=len(r.race_control()),
            weather=len(r.weather()),
            events=self.events,
            events_published=pub.published if pub is not None else 0,
            events_duplicate=pub.duplicates if pub is not None else 0,
            firestore_writes=writes,
            seconds=round(seconds, 3),
        )


SUMMARY_KEYS = (
    "session_id", "messages", "skipped", "laps", "drivers", "race_control", "events_published",
    "firestore_writes",
)  # fmt: skip


def summary_line(summary: IngestSummary) -> str:
    """The one-line JSON ``pitlane replay`` ends with."""
    return json.dumps({k: getattr(summary, k) for k in SUMMARY_KEYS})

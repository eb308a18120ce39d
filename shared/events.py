"""Race events onto Pub/Sub ``race-events``, each ``event_id`` at most once, across runs.

One message per :class:`RaceEvent`: the JSON body is the model, attributes ``event_id``,
``kind`` and ``session_id``, ordering key the session id (events of one session arrive in order
on subscriptions with ordering enabled).

The ledger: ``sessions/{session_id}/event_ledger/{event_id}`` (``/`` in an id becomes ``%2F``),
one document per event ever published: ``{event_id, kind, utc, claimed_utc}``. Before publishing,
a batch of events is checked with one batched read; the absent ones are claimed with
create-if-absent writes (a batch ``create``; if another process claimed one meanwhile the whole
batch fails and each is retried alone, the losers skipped); only claimed events are published.
A claim is taken *before* the publish, so no process ever publishes an event someone else claimed:
an event is published at most once. If publishing fails, the claims of the events not published
are deleted and :class:`TransientError` is raised, so a retry publishes them. The one gap: a
process killed between its claim and the publish loses those events (at most one batch).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api_core.exceptions import Conflict  # AlreadyExists is a Conflict (409)

from shared.config import Settings
from shared.errors import TransientError
from shared.gcp import topic_path
from shared.stores.session_store import BATCH, SESSIONS
from shared.timing.models import RaceEvent

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
TOPIC = "race-events"
LEDGER = "event_ledger"
PUBLISH_TIMEOUT_S = 30.0


def ledger_path(event: RaceEvent) -> str:
    return f"{SESSIONS}/{event.session_id}/{LEDGER}/{event.event_id.replace('/', '%2F')}"


class EventPublisher:
    """Buffers events (``add``) and publishes the ones never published before (``flush``).

    Counters: ``published`` (messages sent), ``duplicates`` (events skipped because the ledger or
    this batch already had them), ``ledger_writes`` (Firestore writes of the ledger).
    """

    def __init__(
        self, *, db: firestore.Client, publisher: PublisherClient, settings: Settings, topic: str = TOPIC
    ) -> None:
        self.published = 0
        self.duplicates = 0
        self.ledger_writes = 0
        self._db = db
        self._publisher = publisher
        self._topic = topic_path(settings, topic)
        self._pending: list[RaceEvent] = []
        self._seen: set[str] = set()  # event ids claimed or found claimed by this publisher

    @property
    def pending(self) -> int:
        """Events buffered, not yet flushed."""
        return len(self._pending)

    def add(self, events: Iterable[RaceEvent]) -> None:
        for event in events:
            if event.event_id in self._seen:
                self.duplicates += 1
                continue
            self._seen.add(event.event_id)
            self._pending.append(event)

    def flush(self) -> int:
        """Publish every buffered event not in the ledger; returns how many were published."""
        sent = 0
        while self._pending:
            chunk, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            sent += self._publish(self._claim(chunk))
        return sent

    def _claim(self, events: list[RaceEvent]) -> list[RaceEvent]:
        refs = [self._db.document(ledger_path(e)) for e in events]
        taken = {snap.reference.path for snap in self._db.get_all(refs) if snap.exists}
        fresh = [(ref, e) for ref, e in zip(refs, events, strict=True) if ref.path not in taken]
        self.duplicates += len(events) - len(fresh)
        if not fresh:
            return []
        now = datetime.now(UTC)
        batch = self._db.batch()
        for ref, event in fresh:
            batch.create(ref, _claim_doc(event, now))
        try:
            batch.commit()
            self.ledger_writes += len(fresh)
            return [e for _, e in fresh]
        except Conflict:
            log.info("event ledger: a concurrent claim; claiming one by one")
        claimed: list[RaceEvent] = []
        for ref, event in fresh:
            try:
                ref.create(_claim_doc(event, now))
            except Conflict:
                self.duplicates += 1
                continue
            self.ledger_writes += 1
            claimed.append(event)
        return claimed

    def _publish(self, events: list[RaceEvent]) -> int:
        futures = [
            self._publisher.publish(
                self._topic,
                event.model_dump_json().encode(),
                ordering_key=event.session_id,
                event_id=event.event_id,
                kind=event.kind.value,
                session_id=event.session_id,
            )
            for event in events
        ]
        failed: list[RaceEvent] = []
        error: Exception | None = None
        for event, future in zip(events, futures, strict=True):
            try:
                future.result(timeout=PUBLISH_TIMEOUT_S)
                self.published += 1
            except Exception as exc:  # any publish failure is transient here
                error = error or exc
                failed.append(event)
        if failed:
            self._release(failed)
            raise TransientError(f"publishing {len(failed)} race events failed: {error}") from error
        return len(events)

    def _release(self, events: list[RaceEvent]) -> None:
        """Give back the claims of unpublished events, and unblock their ordering keys."""
        batch = self._db.batch()
        for event in events:
            batch.delete(self._db.document(ledger_path(event)))
            self._seen.discard(event.event_id)
        batch.commit()
        for key in {e.session_id for e in events}:
            self._publisher.resume_publish(self._topic, key)


def _claim_doc(event: RaceEvent, now: datetime) -> dict[str, Any]:
    return {"event_id": event.event_id, "kind": event.kind.value, "utc": event.utc, "claimed_utc": now}

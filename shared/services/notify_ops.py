"""Ops alerts: every gap-import run's summary (an ``import-events`` message) is posted to the ops
Slack incoming webhook (``PITLANE_SLACK_WEBHOOK_URL``), once per run; runs with failed or partial
sessions lead with a warning and list them. This is the only place that posts them: the importer
publishes on Pub/Sub only.

The ledger (``shared.stores.notifications``) keys it on the run (``imports:<run_id>``, or a digest
of the summary when it names no run), so Pub/Sub delivering the summary again posts nothing more;
Slack calls are retried like any channel, and a post that keeps failing goes to the dead-letter
topic. No Slack webhook set posts nothing.

Kept apart from ``shared.services.notify``: the function that runs this needs the Slack secret,
and the subscriber-facing ones neither need it nor get it (least privilege, ``needs``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel

from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.logs import count
from shared.notify.render import ImportSummary, ops_alert
from shared.services import notify_delivery as channels
from shared.stores import notifications as ledger

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
OPS_UID = "ops"
LEASE = timedelta(seconds=90)


class OpsReport(BaseModel):
    alert_id: str | None = None
    sent: bool = False
    detail: str = ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def on_import_summary(
    summary: ImportSummary,
    *,
    db: firestore.Client,
    http: httpx.Client,
    settings: Settings,
    publisher: PublisherClient,
    dead_letter_topic: str = channels.DEAD_LETTER_TOPIC,
    clock: Callable[[], datetime] = _utcnow,
) -> OpsReport:
    alert = ops_alert(summary)
    if settings.slack_webhook_url is None:
        log.info("no Slack webhook is set: %s", alert.text)
        return OpsReport(alert_id=alert.alert_id, detail="no Slack webhook set")
    url = settings.slack_webhook_url.get_secret_value()
    key = ledger.delivery_key(alert.alert_id, OPS_UID, "slack")
    doc = {"occurrence_id": alert.alert_id, "uid": OPS_UID, "channel": "slack", "topic": "imports"}
    outcome, state = ledger.claim(db, key, doc, now=clock(), lease=LEASE)
    if outcome is not ledger.Claim.CLAIMED:
        return OpsReport(alert_id=alert.alert_id, detail=f"already {state or 'in flight'}")
    body = json.dumps({"text": alert.text}).encode()
    attempts: list[int] = []

    def post() -> None:
        channels.post_json(
            http, url, body, headers={}, timeout_s=settings.notify_webhook_timeout_s, what="Slack"
        )

    try:
        channels.with_retries(settings, post, attempts=attempts)
    except (TransientError, PermanentError) as exc:
        channels.give_up(
            db=db,
            publisher=publisher,
            settings=settings,
            key=key,
            doc={**doc, "text": alert.text},
            error=exc,
            attempts=len(attempts),
            topic=dead_letter_topic,
            now=clock(),
        )
        return OpsReport(alert_id=alert.alert_id, detail=str(exc))
    ledger.finish(db, key, state="sent", now=clock(), attempts=len(attempts))
    count("notifications_sent", channel="slack")
    return OpsReport(alert_id=alert.alert_id, sent=True)

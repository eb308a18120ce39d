"""Gap-import runs: record each session's outcome, and announce a run once it is complete.

``plan_imports`` starts a run (``import_runs/{run_id}``: the planned session ids, the planning's
calls, the deferred sessions) and enqueues one task per session carrying the run id; each
``import_session`` task records its outcome there (``outcomes.{session_id}``, overwritten by a
retry of the same task). The task that finds every planned session with an outcome claims the
run's summary (create-if-absent ``import_runs/{run_id}/summary/claim``, so exactly one does,
also when two finish together) and announces it: one message on Pub/Sub ``import-events``, which
``notify_import_events`` posts to the ops Slack webhook when one is set (with its own ledger,
retries and dead letter). ``pitlane gaps import`` runs in-process and announces its summary at the
end the same way.

A failed outcome may be retried by Cloud Tasks after the summary went out; the retry updates the
outcome in the run document, and the next run's gap report shows what is still missing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.config import Settings
from shared.gcp import topic_path
from shared.imports import quota
from shared.imports.gaps import Host
from shared.imports.runs import RunSummary, SessionOutcome, summarise
from shared.stores import imports as store

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)
TOPIC = "import-events"
PUBLISH_TIMEOUT_S = 30.0


def start_run(
    db: firestore.Client,
    *,
    run_id: str,
    season: int,
    planned: Sequence[str],
    planning_calls: dict[Host, int],
    deferred: Sequence[str],
    not_yet: Sequence[str],
    started: datetime,
) -> None:
    store.create_run(
        db,
        run_id,
        {
            "run_id": run_id,
            "season": season,
            "planned": list(planned),
            "planning_calls": {h.value: n for h, n in planning_calls.items()},
            "deferred": list(deferred),
            "not_yet": list(not_yet),
            "started_utc": started,
            "outcomes": {},
        },
    )


def session_done(
    db: firestore.Client,
    run_id: str,
    outcome: SessionOutcome,
    *,
    publisher: PublisherClient,
    settings: Settings,
    now: datetime,
) -> RunSummary | None:
    """Record ``outcome``; announce and return the run's summary if this completed the run."""
    doc = store.record_outcome(db, run_id, outcome.model_dump(mode="json"))
    if doc is None:
        log.warning("import run %s not found: outcome of %s not recorded", run_id, outcome.session_id)
        return None
    return maybe_finish(db, doc, publisher=publisher, settings=settings, now=now)


def maybe_finish(
    db: firestore.Client,
    doc: dict[str, Any],
    *,
    publisher: PublisherClient,
    settings: Settings,
    now: datetime,
) -> RunSummary | None:
    outcomes = doc.get("outcomes") or {}
    if not set(doc.get("planned") or []) <= set(outcomes) or not store.claim_summary(db, doc["run_id"], now):
        return None
    left = sum(quota.budget(db, limits=quota.limits(settings), now=now).values())
    summary = summarise(
        run_id=doc["run_id"],
        season=int(doc["season"]),
        outcomes=[SessionOutcome.model_validate(outcomes[sid]) for sid in doc["planned"]],
        planning_calls={Host(h): int(n) for h, n in (doc.get("planning_calls") or {}).items()},
        calls_left=left,
        deferred=doc.get("deferred") or [],
        not_yet=doc.get("not_yet") or [],
        started=doc["started_utc"],
        ended=now,
    )
    announce(summary, publisher=publisher, settings=settings)
    return summary


def announce(summary: RunSummary, *, publisher: PublisherClient, settings: Settings) -> None:
    """Publish ``summary`` on ``import-events`` (raises if Pub/Sub fails: the caller retries)."""
    data = json.dumps(summary.model_dump(mode="json")).encode()
    future = publisher.publish(
        topic_path(settings, TOPIC),
        data,
        run_id=summary.run_id,
        season=str(summary.season),
        failed=str(summary.failed),
    )
    future.result(timeout=PUBLISH_TIMEOUT_S)
    log.info(
        "import run %s: %d processed, %d complete, %d partial, %d failed",
        summary.run_id,
        summary.processed,
        summary.succeeded,
        summary.partial,
        summary.failed,
        extra={"json_fields": {"import_run": summary.model_dump(mode="json", exclude={"sessions"})}},
    )

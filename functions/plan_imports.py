"""``plan_imports``: on a Pub/Sub tick, plan a season's imports within this hour's remaining quota
and enqueue one ``import_session`` Cloud Task per planned session (queue ``imports``).

Payload (JSON, all optional): ``{"season": 2023, "max_sessions": 10}`` (season: the current UTC
year). Planning is :func:`shared.services.import_planner.plan_season` over the quota ledger; the
calls are reserved by ``import_session`` itself when a task runs. Task names are deterministic,
``task_name("import", session_id, <hash of the data types>)``, so a tick redelivered, or the next
tick while tasks still wait in the queue, does not enqueue a session twice for the same types.
Each tick is a run (``import_runs/{run_id}``, the run id from the Pub/Sub message id, so a
redelivered tick is the same run); the tasks carry it, and the last one to finish publishes the
run's summary on ``import-events`` (``shared.services.import_runs``). A task already waiting in the
queue under the same name (Cloud Tasks answers ALREADY_EXISTS) belongs to the earlier run.
Transient failures (upstream, Firestore, Cloud Tasks) raise and Pub/Sub redelivers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import functions_framework
from cloudevents.http import CloudEvent
from pydantic import BaseModel, ConfigDict, Field

from functions import _runtime
from shared.services import import_runs
from shared.services.import_planner import (
    fill_schedule,
    import_requests,
    plan_season,
    season_gaps,
    types_hash,
)
from shared.tasks import enqueue_http, task_name

log = logging.getLogger("pitlane.plan_imports")
QUEUE = "imports"


class ImportsTick(BaseModel):
    model_config = ConfigDict(extra="ignore")
    season: int | None = Field(None, ge=2018, le=2100)
    max_sessions: int | None = Field(None, ge=1, le=200)


@functions_framework.cloud_event
@_runtime.event_function
def plan_imports(event: CloudEvent) -> None:
    tick = _runtime.pubsub_payload(event, ImportsTick)
    now = datetime.now(UTC)
    season = tick.season or now.year
    settings, db = _runtime.settings(), _runtime.db()
    gaps = season_gaps(season, db=db, http=_runtime.http(), settings=settings, now=now)
    fill_schedule(db, gaps)
    planned = plan_season(gaps, db=db, settings=settings, now=now)
    run_id = f"plan-{season}-{event['id']}"  # a redelivered tick is the same run
    requests = import_requests(gaps, planned, run_id=run_id)
    if tick.max_sessions is not None:
        requests = requests[: tick.max_sessions]
    deferred = [g.session_id for g in planned.sessions[len(requests) :] + planned.deferred]
    if not requests:
        log.info("plan_imports %s: nothing to import now, %d deferred", season, len(deferred))
        return
    import_runs.start_run(
        db,
        run_id=run_id,
        season=season,
        planned=[r.session_id for r in requests],
        planning_calls=gaps.calls,
        deferred=deferred,
        not_yet=gaps.report.not_yet,
        started=now,
    )
    enqueued = 0
    for req in requests:
        name = task_name("import", req.session_id, types_hash(req.data_types))
        created = enqueue_http(
            settings, queue=QUEUE, function="import_session", body=req.model_dump(mode="json"), name=name
        )
        enqueued += created is not None
    log.info(
        "plan_imports %s: %d planned, %d enqueued, %d deferred",
        season,
        len(requests),
        enqueued,
        len(deferred),
        extra={
            "json_fields": {
                "run_id": run_id,
                "sessions": [r.session_id for r in requests],
                "calls": planned.calls,
            }
        },
    )

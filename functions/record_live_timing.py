"""``record_live_timing``: a bounded run of the live-timing recorder (Cloud Tasks HTTP target).

Body: :class:`shared.services.live_recorder.RecordRequest` as JSON. Answers 200 with the run's
result; a run that did not reach the end of the feed has already queued the next one. Transient
failures answer 503 so Cloud Tasks retries (the retry resumes from the checkpoint). A bad body is
permanent: a direct caller gets 400 problem JSON; a Cloud Tasks delivery (``X-CloudTasks-*``
headers) is acknowledged with 200 and logged, since retrying cannot fix it.
"""

from __future__ import annotations

import flask
import functions_framework

from functions import _runtime
from shared.services.live_recorder import RecordRequest, record
from shared.tasks import enqueue_http, task_name

QUEUE = "live-timing"


def _enqueue_next(req: RecordRequest) -> None:
    enqueue_http(
        _runtime.settings(),
        queue=QUEUE,
        function="record_live_timing",
        body=req.model_dump(mode="json"),
        name=task_name("record", req.key, req.generation),
    )


@functions_framework.http
def record_live_timing(request: flask.Request) -> flask.Response:
    settings = _runtime.settings()
    return _runtime.run_task(
        request,
        function="record_live_timing",
        model=RecordRequest,
        run=lambda req: record(
            req,
            db=_runtime.db(),
            publisher=_runtime.publisher(),
            settings=settings,
            http=_runtime.http(),
            enqueue=_enqueue_next,
        ),
    )

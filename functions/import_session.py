"""``import_session``: import one finished session with FastF1 (Cloud Tasks HTTP target, queue
``imports``).

Body: :class:`shared.services.session_import.ImportRequest` as JSON. Answers 200 with the
:class:`~shared.services.session_import.ImportResult` (a ``partial`` session included: the gap
planner asks again for its failed types). Transient failures (quota used up this hour, every type
failed, Firestore unavailable) answer 503 so Cloud Tasks retries. A bad body is permanent: a direct
caller gets 400 problem JSON; a Cloud Tasks delivery (``X-CloudTasks-*`` headers) is acknowledged
with 200 and logged, since retrying cannot fix it. A task of a planning run (``run_id``) records
its outcome in the run; the one that completes the run publishes its summary on ``import-events``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework
from pydantic import BaseModel

from functions import _runtime
from shared.errors import PitlaneError
from shared.imports.runs import SessionOutcome
from shared.services import import_runs


@functions_framework.http
def import_session(request: flask.Request) -> flask.Response:
    _runtime.settings()
    return _runtime.run_task(request, function="import_session", model=_request_model(), run=_run)


def _request_model() -> type[BaseModel]:
    # FastF1 and pandas load here, not at import: functions/main.py imports every entry point,
    # and the other functions' cold starts must not pay for them.
    from shared.services.session_import import ImportRequest

    return ImportRequest


def _run(req: Any) -> BaseModel:
    from shared.services.session_import import import_session as run_import

    settings, db = _runtime.settings(), _runtime.db()
    try:
        result = run_import(req, db=db, settings=settings)
    except PitlaneError as exc:
        if req.run_id:
            _record(
                req.run_id,
                SessionOutcome(
                    session_id=req.session_id, status="failed", data_types=req.data_types, error=str(exc)
                ),
            )
        raise
    if req.run_id:
        outcome = SessionOutcome(
            session_id=req.session_id,
            status=result.status,
            data_types=sorted(result.types) or req.data_types,
            calls=result.calls,
        )
        _record(req.run_id, outcome)
    return result


def _record(run_id: str, outcome: SessionOutcome) -> None:
    import_runs.session_done(
        _runtime.db(),
        run_id,
        outcome,
        publisher=_runtime.publisher(),
        settings=_runtime.settings(),
        now=datetime.now(UTC),
    )
